package dev.promsink.flink.internal.jni;

import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.Map;
import java.util.Optional;

/**
 * A class loader like a Flink user-code class loader: the sink's classes (and its bundled library)
 * are loaded anew from {@code urls}, while logging is loaded parent-first from the application
 * class loader (Flink loads {@code org.slf4j} and {@code org.apache.logging} parent-first too).
 */
final class UserCodeClassLoader extends URLClassLoader {
  private static final String[] PARENT_FIRST = {"org.slf4j.", "org.apache.logging."};

  UserCodeClassLoader(URL... urls) {
    super(urls, ClassLoader.getPlatformClassLoader());
  }

  @Override
  protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
    for (String prefix : PARENT_FIRST) {
      if (name.startsWith(prefix)) {
        return UserCodeClassLoader.class.getClassLoader().loadClass(name);
      }
    }
    return super.loadClass(name, resolve);
  }

  /** How a class loader loaded the library: {@link NativeLibraryLoader.LoadedLibrary} as text. */
  static final class Loaded {
    final String way;
    final String source;
    final String file;

    Loaded(String way, String source, String file) {
      this.way = way;
      this.source = source;
      this.file = file;
    }

    @Override
    public String toString() {
      return way + "\t" + source + "\t" + file;
    }

    static Loaded parse(String line) {
      String[] parts = line.split("\t", 3);
      return new Loaded(parts[0], parts[1], parts[2]);
    }
  }

  /**
   * Uses a client of the sink's classes in {@code loader} (which loads the library as the sink
   * does, through {@code NativeBridge}'s static initializer) and returns how the library was
   * loaded. A failure to load is thrown as the {@link UnsatisfiedLinkError} itself.
   */
  static Loaded useClientIn(ClassLoader loader) throws Exception {
    Class<?> client = Class.forName(NativeClient.class.getName(), true, loader);
    Object instance;
    try {
      instance =
          client
              .getMethod("create", Map.class)
              .invoke(null, Map.of("url", "http://127.0.0.1:1/api/v1/write"));
    } catch (java.lang.reflect.InvocationTargetException e) {
      Throwable cause = e.getCause();
      // NativeBridge's static initializer: the first use throws the loader's error itself
      if (cause instanceof ExceptionInInitializerError && cause.getCause() != null) {
        cause = cause.getCause();
      }
      if (cause instanceof Error) {
        throw (Error) cause;
      }
      throw e;
    }
    long[] counters = (long[]) client.getMethod("counters").invoke(instance);
    for (long counter : counters) {
      if (counter != 0) {
        throw new AssertionError("a new client has a counter that is not 0");
      }
    }
    client.getMethod("close").invoke(instance);
    return loadedIn(loader);
  }

  /** How {@code loader}'s {@link NativeLibraryLoader} loaded the library. */
  static Loaded loadedIn(ClassLoader loader) throws Exception {
    Class<?> loaderClass = Class.forName(NativeLibraryLoader.class.getName(), true, loader);
    Optional<?> loaded = (Optional<?>) loaderClass.getMethod("loadedLibrary").invoke(null);
    Object library = loaded.orElseThrow(() -> new AssertionError("the library is not loaded"));
    Class<?> type = library.getClass();
    Method way = type.getMethod("way");
    return new Loaded(
        ((Enum<?>) way.invoke(library)).name(),
        (String) type.getMethod("source").invoke(library),
        (String) type.getMethod("file").invoke(library));
  }
}
