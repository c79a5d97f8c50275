/**
 * Internal: the JNI bridge between the sink's Java layer and its native library (the client handle,
 * the batch format constants, the callbacks the native sender thread calls, the library loader and
 * the native error type).
 *
 * <p><b>Not API.</b> These classes are public only because the sink in {@code dev.promsink.flink}
 * and the native library use them across packages. They may change or disappear in any release,
 * patch releases included, without notice; do not use them from application code. The native
 * library binds to their names and signatures, so they change together with it.
 */
package dev.promsink.flink.internal.jni;
