package dev.promsink.flink;

import java.io.Serializable;
import java.util.Map;

/**
 * Adds headers to every write request, for example an authorization signature. Same interface as
 * Apache's Prometheus connector.
 *
 * <p>Called before every attempt, retries included, by the sink's sending threads: by several at
 * once when the writer has several sending lanes, so an implementation must be thread-safe. No lock
 * is held around it, so a slow call (a credential refresh) delays only its own request.
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
