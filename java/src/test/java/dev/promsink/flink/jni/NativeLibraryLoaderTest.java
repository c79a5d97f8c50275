package dev.promsink.flink.jni;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.File;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The library loads in every class loader (as Flink restarts jobs) and leaves no files behind. */
class NativeLibraryLoaderTest {
  private static final Path TMP = Paths.get(System.getProperty("java.io.tmpdir"));

  /** The directory or jar holding the sink's classes and the bundled library. */
  private static URL sinkClasses() throws Exception {
    return NativeClient.class.getProtectionDomain().getCodeSource().getLocation();
  }

  private static long extractedCopies() throws Exception {
    try (Stream<Path> files = Files.list(TMP)) {
      return files.filter(p -> p.getFileName().toString().startsWith("promsink-")).count();
    }
  }

  @Test
  void loadsInManyClassLoadersOfOneJvmWithoutLeavingFiles() throws Exception {
    long before = extractedCopies();
    for (int i = 0; i < 20; i++) {
      // Parent is the platform loader, so the sink's classes are loaded anew, as in a new Flink
      // user-code class loader.
      try (URLClassLoader loader =
          new URLClassLoader(new URL[] {sinkClasses()}, ClassLoader.getPlatformClassLoader())) {
        Class<?> client = Class.forName(NativeClient.class.getName(), true, loader);
        assertThat(client).isNotSameAs(NativeClient.class);
        Method create = client.getMethod("create", Map.class);
        Object instance = create.invoke(null, Map.of("url", "http://127.0.0.1:1/api/v1/write"));
        assertThat((long[]) client.getMethod("counters").invoke(instance)).containsOnly(0L);
        client.getMethod("close").invoke(instance);
      }
    }
    assertThat(extractedCopies()).isEqualTo(before);
  }

  @Test
  void platformNameIsOsAndArch() {
    assertThat(NativeLibraryLoader.platform()).isIn("linux-x86_64", "linux-aarch64");
  }

  @Test
  void aMissingOverrideFileGivesOneClearError() throws Exception {
    String previous = System.getProperty(NativeLibraryLoader.LIBRARY_PROPERTY);
    System.setProperty(NativeLibraryLoader.LIBRARY_PROPERTY, "/nonexistent/libpromsink.so");
    try (URLClassLoader loader =
        new URLClassLoader(new URL[] {sinkClasses()}, ClassLoader.getPlatformClassLoader())) {
      Class<?> loaderClass = Class.forName(NativeLibraryLoader.class.getName(), true, loader);
      assertThatThrownBy(() -> loaderClass.getMethod("load").invoke(null))
          .getCause()
          .isInstanceOf(UnsatisfiedLinkError.class)
          .hasMessageContaining("promsink: cannot load the native library for platform")
          .hasMessageContaining("promsink.native.library=/nonexistent/libpromsink.so");
    } finally {
      if (previous == null) {
        System.clearProperty(NativeLibraryLoader.LIBRARY_PROPERTY);
      } else {
        System.setProperty(NativeLibraryLoader.LIBRARY_PROPERTY, previous);
      }
    }
  }

  @Test
  void anOverrideFileIsLoaded() throws Exception {
    File library = new File("target/release/libpromsink.so");
    assertThat(library).exists();
    String previous = System.getProperty(NativeLibraryLoader.LIBRARY_PROPERTY);
    System.setProperty(NativeLibraryLoader.LIBRARY_PROPERTY, library.getAbsolutePath());
    try (URLClassLoader loader =
        new URLClassLoader(new URL[] {sinkClasses()}, ClassLoader.getPlatformClassLoader())) {
      Class<?> client = Class.forName(NativeClient.class.getName(), true, loader);
      Object instance =
          client
              .getMethod("create", Map.class)
              .invoke(null, Map.of("url", "http://127.0.0.1:1/api/v1/write"));
      client.getMethod("close").invoke(instance);
    } finally {
      if (previous == null) {
        System.clearProperty(NativeLibraryLoader.LIBRARY_PROPERTY);
      } else {
        System.setProperty(NativeLibraryLoader.LIBRARY_PROPERTY, previous);
      }
    }
  }
}
