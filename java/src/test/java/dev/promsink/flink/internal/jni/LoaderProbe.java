package dev.promsink.flink.internal.jni;

import java.io.File;
import java.net.URL;
import java.util.ArrayList;
import java.util.List;

/**
 * Run by {@link NativeLibraryLoaderTest} in a child JVM (to set {@code java.library.path}): uses
 * the sink's native client in one class loader per argument, in order, and prints for each either
 * {@code WAY<tab>way<tab>source<tab>file} or {@code ERROR<tab>message}. An argument is {@code app}
 * (the application class loader) or a class folder or jar for a new {@link UserCodeClassLoader}.
 * Every class loader stays reachable until the end, so none is unloaded in between.
 */
public final class LoaderProbe {
  private LoaderProbe() {}

  public static void main(String[] args) throws Exception {
    List<ClassLoader> loaders = new ArrayList<>();
    for (String arg : args) {
      ClassLoader loader =
          arg.equals("app")
              ? LoaderProbe.class.getClassLoader()
              : new UserCodeClassLoader(new URL[] {new File(arg).toURI().toURL()});
      loaders.add(loader);
      try {
        System.out.println("WAY\t" + UserCodeClassLoader.useClientIn(loader));
      } catch (UnsatisfiedLinkError e) {
        System.out.println("ERROR\t" + e.getMessage());
      }
    }
    System.out.println("DONE " + loaders.size());
  }
}
