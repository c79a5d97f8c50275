package dev.promsink.flink;

/**
 * The Remote-Write protocol version the sink sends ({@link
 * PrometheusSinkBuilder#setRemoteWriteVersion}).
 */
public enum RemoteWriteVersion {
  /**
   * Remote-Write 1.0 ({@code prometheus.WriteRequest}), which every receiver accepts. A receiver
   * refuses a request whole: one refused sample (for example a replay after a restore that the
   * receiver already holds) loses the fresh samples of the same request, unless the receiver
   * accepts such samples (Prometheus with an out-of-order window, VictoriaMetrics).
   */
  V1("1"),
  /**
   * Remote-Write 2.0 ({@code io.prometheus.write.v2.Request}): smaller requests (a symbol table),
   * and a receiver writes what it can of a request and says how many samples it wrote, so a refused
   * sample costs only itself and the sink counts exactly what was refused. Prometheus 2.54 and
   * later receive it (with {@code
   * --web.remote-write-receiver.accepted-protobuf-messages=io.prometheus.write.v2.Request}). A
   * receiver that does not speak it (an answer without {@code
   * X-Prometheus-Remote-Write-Samples-Written}, or 415) gets the same request again as 1.0, and 1.0
   * from then on, with one WARN line.
   */
  V2("2");

  private final String nativeValue;

  RemoteWriteVersion(String nativeValue) {
    this.nativeValue = nativeValue;
  }

  /** The value of the native option {@code remote_write.version}. */
  String nativeValue() {
    return nativeValue;
  }
}
