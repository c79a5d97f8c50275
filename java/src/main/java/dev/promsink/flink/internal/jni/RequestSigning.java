package dev.promsink.flink.internal.jni;

/**
 * Called by the native sender thread before every attempt to send a request, retries included, to
 * add headers computed from the request (for example a signature).
 */
public interface RequestSigning {
  /**
   * Returns the headers to add or replace, as name, value pairs; the Remote-Write headers cannot be
   * replaced. An exception fails this attempt as a retryable error.
   *
   * @param headers the request's headers as name, value pairs
   * @param body the compressed request body
   */
  String[] sign(String[] headers, byte[] body);
}
