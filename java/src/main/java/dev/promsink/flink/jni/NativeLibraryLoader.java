package dev.promsink.flink.jni;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * Loads {@code libpromsink} once per class loader.
 *
 * <p>Flink gives every job, and every restart of a job, a new user class loader, and the JVM
 * refuses to load one library file into two class loaders. So the library is always copied to a
 * fresh temporary file, loaded from there and the file deleted at once (the mapping stays valid):
 * each class loader gets its own copy and nothing is left on disk.
 *
 * <p>The library comes from the jar ({@code native/<os>-<arch>/libpromsink.so}) unless the system
 * property {@value #LIBRARY_PROPERTY} names another file.
 */
public final class NativeLibraryLoader {
  /** System property naming a library file to use instead of the bundled one. */
  public static final String LIBRARY_PROPERTY = "promsink.native.library";

  private static boolean loaded;

  private NativeLibraryLoader() {}

  /** Loads the library if this class loader has not yet; throws one clear error otherwise. */
  public static synchronized void load() {
    if (loaded) {
      return;
    }
    String override = System.getProperty(LIBRARY_PROPERTY);
    String resource = "/native/" + platform() + "/" + System.mapLibraryName("promsink");
    try (InputStream in = open(override, resource)) {
      Path copy = Files.createTempFile("promsink-", "-" + System.mapLibraryName("promsink"));
      try {
        Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
        System.load(copy.toAbsolutePath().toString());
      } finally {
        Files.deleteIfExists(copy);
      }
    } catch (IOException | UnsatisfiedLinkError e) {
      throw new UnsatisfiedLinkError(
          "promsink: cannot load the native library for platform "
              + platform()
              + (override != null
                  ? " from " + LIBRARY_PROPERTY + "=" + override
                  : " from the jar resource " + resource)
              + ": "
              + e.getMessage());
    }
    loaded = true;
  }

  private static InputStream open(String override, String resource) throws IOException {
    if (override != null) {
      return Files.newInputStream(Paths.get(override));
    }
    InputStream in = NativeLibraryLoader.class.getResourceAsStream(resource);
    if (in == null) {
      throw new IOException(
          "this jar has no native library for this platform (it holds linux-x86_64); set -D"
              + LIBRARY_PROPERTY
              + "=/path/to/libpromsink.so built with cargo for this platform");
    }
    return in;
  }

  /** {@code <os>-<arch>}, e.g. {@code linux-x86_64}. */
  static String platform() {
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
    String osName =
        os.contains("linux") ? "linux" : os.contains("mac") ? "macos" : os.replace(' ', '_');
    String archName =
        arch.equals("amd64") || arch.equals("x86_64")
            ? "x86_64"
            : arch.equals("aarch64") || arch.equals("arm64") ? "aarch64" : arch;
    return osName + "-" + archName;
  }
}
