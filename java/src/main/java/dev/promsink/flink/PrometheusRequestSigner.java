package dev.promsink.flink;

import java.io.Serializable;
import java.util.Map;

/**
 * Adds headers to every write request, for example an authorization signature. Same interface as
 * Apache's Prometheus connector.
 */
public interface PrometheusRequestSigner extends Serializable {
  /**
   * Adds signature headers.
   *
   * @param requestHeaders the request's headers, to add to
   * @param requestBody the compressed request body
   */
  void addSignatureHeaders(Map<String, String> requestHeaders, byte[] requestBody);
}
