package dev.promsink.flink.internal.jni;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The JVM's own JNI checker ({@code -Xcheck:jni}) watches the library: it warns of a call into Java
 * whose exception is not checked, of local references beyond a frame's capacity, and of bad
 * arguments. None may appear.
 */
class JniCheckTest {
  @Test
  void theJniCheckerFindsNothingToWarnAbout() throws Exception {
    String java =
        ProcessHandle.current()
            .info()
            .command()
            .orElse(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
    Process process =
        new ProcessBuilder(
                java,
                "-Xcheck:jni",
                "-cp",
                System.getProperty("java.class.path"),
                JniCheckProbe.class.getName())
            .redirectErrorStream(true)
            .start();
    process.getOutputStream().close();
    String output = new String(process.getInputStream().readAllBytes(), UTF_8);
    assertThat(process.waitFor(2, TimeUnit.MINUTES)).isTrue();
    assertThat(process.exitValue()).as(output).isZero();
    List<String> lines = List.of(output.split("\n"));
    assertThat(lines).as(output).contains("DONE 21"); // 20 batches, the first told twice
    assertThat(output).doesNotContain("WARNING", "FATAL ERROR", "Exception in thread");
  }
}
