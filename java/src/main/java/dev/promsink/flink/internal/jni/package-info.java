/**
 * Internal: the JNI bridge between the sink's Java layer and its native library (the client handle,
 * the batch format constants, the callbacks the native sender thread calls, the library loader and
 * the native error type).
 *
 * <p><b>Not API.</b> These classes are public only because the sink in {@code dev.promsink.flink}
 * and the native library use them across packages. They may change or disappear in any release,
 * patch releases included, without notice; do not use them from application code. The native
 * library binds to their names and signatures, so they change together with it.
 *
 * <p>Errors of the native core reach application code wrapped, never as {@link NativeException}
 * itself: a write that fails as {@link dev.promsink.flink.PrometheusSinkWriteException}, a sink
 * writer that cannot start as {@link dev.promsink.flink.PrometheusSinkException}, each with the
 * {@link NativeException} as its cause. Catch those two, not this package's types.
 */
package dev.promsink.flink.internal.jni;
