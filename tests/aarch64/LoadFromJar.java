import dev.promsink.flink.internal.jni.NativeClient;
import dev.promsink.flink.internal.jni.NativeLibraryLoader;
import java.util.Map;

/**
 * Run by {@code scripts/native-aarch64.sh jvm} in an arm64 JVM under qemu-aarch64, with a
 * connector jar on the class path: the jar's linux-aarch64 library loads as the sink loads it, and
 * a client is created, asked for its counters and closed (configuration parsing, its threads,
 * JNI calls both ways). Prints what it saw; exits non-zero on any other outcome.
 */
public final class LoadFromJar {
  public static void main(String[] args) {
    String arch = System.getProperty("os.arch");
    // Nothing listens on port 9: the client only has to start and stop.
    try (NativeClient client =
        NativeClient.create(Map.of("url", "http://127.0.0.1:9/api/v1/write"))) {
      String loaded = NativeLibraryLoader.loadedLibrary().orElseThrow().toString();
      long[] counters = client.counters();
      System.out.println("os.arch " + arch + ": " + loaded + "; " + counters.length + " counters");
      if (!arch.equals("aarch64")
          || !loaded.startsWith("BUNDLED_COPY from jar resource /native/linux-aarch64/")) {
        System.exit(1);
      }
    }
  }
}
