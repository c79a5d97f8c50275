package dev.promsink.flink.aws;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * What makes one signer artifact right for both Flink lines: it holds only its own classes (no
 * connector class, no native library), and they link to nothing of the connector but {@code
 * PrometheusRequestSigner}, whose one source file both lines compile. In {@code flink-1.20-test}
 * this reads the built jar; here, the module's classes folder.
 */
class ArtifactContentsTest {
  private static final String OWN = "dev/promsink/flink/aws/";

  /** The signer's files, as paths inside the artifact. */
  static List<String> entries() throws Exception {
    Path location =
        Path.of(
            AmazonManagedPrometheusWriteRequestSigner.class
                .getProtectionDomain()
                .getCodeSource()
                .getLocation()
                .toURI());
    List<String> out = new ArrayList<>();
    if (Files.isDirectory(location)) {
      try (Stream<Path> files = Files.walk(location)) {
        files
            .filter(Files::isRegularFile)
            .forEach(f -> out.add(location.relativize(f).toString().replace('\\', '/')));
      }
    } else {
      try (JarFile jar = new JarFile(location.toFile())) {
        jar.stream().filter(e -> !e.isDirectory()).forEach(e -> out.add(e.getName()));
      }
    }
    return out;
  }

  @Test
  void holdsOnlyItsOwnClasses() throws Exception {
    List<String> entries = entries();
    assertThat(entries).anyMatch(e -> e.startsWith(OWN));
    assertThat(entries).allMatch(e -> e.startsWith(OWN) || e.startsWith("META-INF/"));
  }

  @Test
  void linksToNoConnectorClassButTheSignerInterface() throws Exception {
    Pattern reference = Pattern.compile("dev/promsink/[A-Za-z0-9_/$]+");
    TreeSet<String> referenced = new TreeSet<>();
    for (String entry : entries()) {
      if (!entry.endsWith(".class")) {
        continue;
      }
      String name = entry.substring(OWN.length());
      try (InputStream in =
          AmazonManagedPrometheusWriteRequestSigner.class.getResourceAsStream(name)) {
        // Class names in the constant pool are plain ASCII.
        Matcher m = reference.matcher(new String(in.readAllBytes(), StandardCharsets.ISO_8859_1));
        while (m.find()) {
          referenced.add(m.group());
        }
      }
    }
    assertThat(referenced.stream().filter(r -> !r.startsWith(OWN)).collect(Collectors.toList()))
        .containsExactly("dev/promsink/flink/PrometheusRequestSigner");
  }
}
