package dev.promsink.flink.aws;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AWS credentials for the default provider chain, as the system properties it reads first ({@code
 * aws.accessKeyId}, {@code aws.secretAccessKey}, {@code aws.sessionToken}), with the shared profile
 * files pointed at nothing and the EC2 metadata service off, so that nothing of the machine is
 * used. Restores every property on close. The MiniCluster runs in this JVM, so its task threads see
 * the same properties.
 */
final class SystemCredentials implements AutoCloseable {
  private final Map<String, String> saved = new LinkedHashMap<>();

  /** Sets these credentials (sessionToken and secretAccessKey may be null: not set). */
  SystemCredentials(String accessKeyId, String secretAccessKey, String sessionToken) {
    set("aws.sharedCredentialsFile", "/nonexistent/promsink-test/credentials");
    set("aws.configFile", "/nonexistent/promsink-test/config");
    set("aws.disableEc2Metadata", "true");
    rotate(accessKeyId, secretAccessKey, sessionToken);
  }

  /** Replaces the credentials, as a rotation would. */
  void rotate(String accessKeyId, String secretAccessKey, String sessionToken) {
    set("aws.accessKeyId", accessKeyId);
    set("aws.secretAccessKey", secretAccessKey);
    set("aws.sessionToken", sessionToken);
  }

  /** Points the shared credentials file at {@code path}. */
  void credentialsFile(String path) {
    set("aws.sharedCredentialsFile", path);
  }

  private void set(String name, String value) {
    saved.putIfAbsent(name, System.getProperty(name));
    if (value == null) {
      System.clearProperty(name);
    } else {
      System.setProperty(name, value);
    }
  }

  @Override
  public void close() {
    saved.forEach(
        (name, value) -> {
          if (value == null) {
            System.clearProperty(name);
          } else {
            System.setProperty(name, value);
          }
        });
  }
}
