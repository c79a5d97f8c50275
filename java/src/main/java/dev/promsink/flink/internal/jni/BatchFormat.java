package dev.promsink.flink.internal.jni;

/**
 * Constants of the JNI batch format, version 1 ({@code docs/batch-format.md}): little-endian, a
 * 12-byte header then length-prefixed entries, one series each. Written by {@code
 * dev.promsink.flink.BatchEncoder}, read by the native {@code batch.rs}.
 */
public final class BatchFormat {
  /** "PMSK" as a little-endian int. */
  public static final int MAGIC = 0x4B534D50;

  /** The format version written here. */
  public static final short VERSION = 1;

  /** Bytes of the batch header. */
  public static final int HEADER_LENGTH = 12;

  private BatchFormat() {}
}
