//! The JNI shell: the exports of `dev.promsink.flink.internal.jni.NativeBridge` (`create`,
//! `submit`, `nativeMemory`, `counters`, `close`, and `prepare` with the `bench-support` feature
//! only), each a thin wrapper over a function returning `Result`, plus `JNI_OnLoad`/`JNI_OnUnload`.
//!
//! - Errors and panics never cross into the JVM as anything but a
//!   `dev.promsink.flink.internal.jni.NativeException` carrying the error's code and message.
//! - The classes and methods the library calls (the batch callback, the request signer, the
//!   exception) are looked up once when the library is loaded, and released when it is unloaded.
//! - Every call into Java runs in a local frame and ends with a check for a pending exception
//!   (`jni` turns one into an error). A batch whose result cannot be handed to Java is handed
//!   over again as a failure naming why, so that it never stays in flight.

use crate::client::{BatchResult, Client, Completion, Outcome};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::http::{HttpTransport, SharedSigner, Signer, Transport};
use jni::errors::ErrorPolicy;
use jni::ids::JMethodID;
use jni::objects::{
    Global, JByteArray, JByteBuffer, JClass, JLongArray, JObject, JObjectArray, JString,
    JThrowable, JValue,
};
use jni::signature::{MethodSignature, Primitive, ReturnType, RuntimeMethodSignature};
use jni::strings::JNIString;
use jni::sys::{jboolean, jint, jlong};
use jni::{AttachConfig, Env, EnvUnowned, JavaVM};
use parking_lot::RwLock;
use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The Java side of the contract: class names, method names and descriptors. `tests/contract.rs`
/// checks the descriptors against the Java sources.
pub mod contract {
    /// `dev.promsink.flink.internal.jni.NativeException`, thrown for every native failure.
    pub const EXCEPTION_CLASS: &str = "dev/promsink/flink/internal/jni/NativeException";
    /// `NativeException(int code, String message)`.
    pub const EXCEPTION_INIT: &str = "(ILjava/lang/String;)V";
    /// `dev.promsink.flink.internal.jni.BatchCallback`.
    pub const CALLBACK_CLASS: &str = "dev/promsink/flink/internal/jni/BatchCallback";
    /// `BatchCallback.onComplete`.
    pub const ON_COMPLETE: &str = "onComplete";
    /// `onComplete(int outcome, String message, int status, String body, long invalidSeries,
    /// long invalidSamples, String firstInvalid, long[] counters, long lanes)`.
    pub const ON_COMPLETE_SIGNATURE: &str =
        "(ILjava/lang/String;ILjava/lang/String;JJLjava/lang/String;[JJ)V";
    /// `dev.promsink.flink.internal.jni.RequestSigning`.
    pub const SIGNER_CLASS: &str = "dev/promsink/flink/internal/jni/RequestSigning";
    /// `RequestSigning.sign`.
    pub const SIGN: &str = "sign";
    /// `String[] sign(String[] headers, byte[] body)`.
    pub const SIGN_SIGNATURE: &str = "([Ljava/lang/String;[B)[Ljava/lang/String;";
}

/// The Java classes and methods the library calls, looked up once in `JNI_OnLoad` (with the class
/// loader that loads the library) and released in `JNI_OnUnload`.
struct JavaSide {
    exception: Global<JClass<'static>>,
    exception_init: JMethodID,
    on_complete: JMethodID,
    sign: JMethodID,
}

/// `Err` says why the lookup failed at load time; every native call then fails with it.
static JAVA: RwLock<Option<std::result::Result<JavaSide, String>>> = RwLock::new(None);

static SENDER_THREADS: AtomicU64 = AtomicU64::new(0);

impl From<jni::errors::Error> for Error {
    fn from(e: jni::errors::Error) -> Self {
        Error::Jni(e.to_string())
    }
}

/// Runs `f` with the Java side looked up at load time.
fn with_java<T>(f: impl FnOnce(&JavaSide) -> Result<T>) -> Result<T> {
    match &*JAVA.read() {
        Some(Ok(side)) => f(side),
        Some(Err(why)) => Err(Error::Jni(format!(
            "the library's Java classes were not found when it was loaded: {why}"
        ))),
        None => Err(Error::Jni(
            "the library was not initialised (JNI_OnLoad)".into(),
        )),
    }
}

fn method(env: &mut Env, class: &JClass, name: &str, signature: &str) -> Result<JMethodID> {
    let signature = RuntimeMethodSignature::from_str(signature)?;
    Ok(env.get_method_id(
        class,
        JNIString::from(name),
        MethodSignature::from(&signature),
    )?)
}

fn look_up(env: &mut Env) -> Result<JavaSide> {
    use contract::*;
    let exception = env.find_class(JNIString::from(EXCEPTION_CLASS))?;
    let callback = env.find_class(JNIString::from(CALLBACK_CLASS))?;
    let signer = env.find_class(JNIString::from(SIGNER_CLASS))?;
    Ok(JavaSide {
        exception_init: method(env, &exception, "<init>", EXCEPTION_INIT)?,
        on_complete: method(env, &callback, ON_COMPLETE, ON_COMPLETE_SIGNATURE)?,
        sign: method(env, &signer, SIGN, SIGN_SIGNATURE)?,
        exception: env.new_global_ref(exception)?,
    })
}

/// Called by the JVM when a class loader loads the library: looks up the Java side once.
///
/// # Safety
/// Called by the JVM with a valid `JavaVM` pointer.
#[no_mangle]
pub unsafe extern "system" fn JNI_OnLoad(vm: *mut jni::sys::JavaVM, _: *mut c_void) -> jint {
    let vm = JavaVM::from_raw(vm);
    let side = vm.attach_current_thread(look_up).map_err(|e| e.to_string());
    *JAVA.write() = Some(side);
    jni::sys::JNI_VERSION_1_8
}

/// Called by the JVM when the class loader that loaded the library is collected: releases the
/// global references looked up at load time.
///
/// # Safety
/// Called by the JVM with a valid `JavaVM` pointer.
#[no_mangle]
pub unsafe extern "system" fn JNI_OnUnload(vm: *mut jni::sys::JavaVM, _: *mut c_void) {
    let vm = JavaVM::from_raw(vm);
    if let Some(side) = JAVA.write().take() {
        // Deleting a global reference needs an attached thread; this one is.
        let _ = vm.attach_current_thread(|_| -> jni::errors::Result<()> {
            drop(side);
            Ok(())
        });
    }
}

/// Throws `NativeException(code, message)` for an error or a panic of a native method, unless a
/// Java exception is already pending (a JNI call that failed has usually thrown one, and it says
/// more).
struct ThrowNativeException;

impl<T: Default> ErrorPolicy<T, Error> for ThrowNativeException {
    type Captures<'unowned_env_local: 'native_method, 'native_method> = ();

    fn on_error<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _: &mut (),
        err: Error,
    ) -> jni::errors::Result<T> {
        throw(env, &err);
        Ok(T::default())
    }

    fn on_panic<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _: &mut (),
        payload: Box<dyn std::any::Any + Send + 'static>,
    ) -> jni::errors::Result<T> {
        throw(env, &Error::Panic(panic_message(&payload)));
        Ok(T::default())
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

fn throw(env: &mut Env, e: &Error) {
    if env.exception_check() {
        return;
    }
    let thrown = with_java(|side| {
        let message = env.new_string(e.to_string())?;
        let args = [
            JValue::Int(e.code()).as_jni(),
            JValue::Object(&message).as_jni(),
        ];
        // SAFETY: the constructor was looked up with the descriptor these arguments follow.
        let exception =
            unsafe { env.new_object_unchecked(&side.exception, side.exception_init, &args)? };
        let exception = env.cast_local::<JThrowable>(exception)?;
        // `throw` reports the exception it made pending as an error.
        let _ = env.throw(&exception);
        Ok(())
    });
    if !env.exception_check() {
        let fallback = format!("{e} (and NativeException could not be thrown: {thrown:?})");
        let _ = env.throw_new(
            jni::jni_str!("java/lang/IllegalStateException"),
            JNIString::from(fallback),
        );
    }
}

/// The client behind a handle.
///
/// # Safety
/// `handle` must be a value returned by `create` and not yet passed to `close`. The Java side
/// (`NativeClient`) guarantees this: it serialises calls and closes once.
unsafe fn client<'a>(handle: jlong) -> Result<&'a Client> {
    (handle as *const Client).as_ref().ok_or(Error::Closed)
}

/// `static native long create(String[] keysAndValues, RequestSigning signer)`: a client from
/// configuration pairs; `signer` may be null.
#[no_mangle]
pub extern "system" fn Java_dev_promsink_flink_internal_jni_NativeBridge_create<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    options: JObjectArray<'local, JString<'local>>,
    signer: JObject<'local>,
) -> jlong {
    env.with_env(|env| create(env, &options, &signer))
        .resolve::<ThrowNativeException>()
}

fn create(env: &mut Env, options: &JObjectArray<JString>, signer: &JObject) -> Result<jlong> {
    let pairs = options_of(env, options)?;
    let config = Config::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let signer: Option<SharedSigner> = if signer.is_null() {
        None
    } else {
        Some(Arc::new(JniSigner {
            signer: env.new_global_ref(signer)?,
        }))
    };
    let mut transports: Vec<Box<dyn Transport>> = Vec::with_capacity(config.lanes);
    for _ in 0..config.lanes {
        let mut t = HttpTransport::new(&config)?;
        if let Some(s) = &signer {
            t = t.with_signer(s.clone());
        }
        transports.push(Box::new(t));
    }
    let n = SENDER_THREADS.fetch_add(1, Ordering::Relaxed) + 1;
    let client = Client::new(
        &config,
        transports,
        format!("promsink-sender-{n}"),
        Arc::new(attach_worker),
    )?;
    Ok(Box::into_raw(Box::new(client)) as jlong)
}

/// The key/value pairs of the options array, each element read in a local frame of its own.
fn options_of(env: &mut Env, options: &JObjectArray<JString>) -> Result<Vec<(String, String)>> {
    let len = options.len(env)?;
    if len % 2 != 0 {
        return Err(Error::config("options must be key/value pairs"));
    }
    let mut strings = Vec::with_capacity(len);
    for i in 0..len {
        let item = env.with_local_frame(2, |env| -> Result<Option<String>> {
            let item = options.get_element(env, i)?;
            Ok(if item.is_null() {
                None
            } else {
                Some(item.try_to_string(env)?)
            })
        })?;
        strings.push(item.ok_or_else(|| Error::config(format!("option {} is null", i / 2)))?);
    }
    let mut strings = strings.into_iter();
    let mut pairs = Vec::with_capacity(len / 2);
    while let (Some(k), Some(v)) = (strings.next(), strings.next()) {
        pairs.push((k, v));
    }
    Ok(pairs)
}

/// Attaches a lane thread to the JVM for good, under its own name (thread dumps show it). The
/// attachment ends with the thread, when the client closes.
fn attach_worker() {
    let name = JNIString::from(std::thread::current().name().unwrap_or("promsink-sender"));
    let attached = JavaVM::singleton().and_then(|vm| {
        vm.attach_current_thread_with_config(
            || AttachConfig::new().thread_name(&name),
            None,
            |_| Ok::<(), jni::errors::Error>(()),
        )
    });
    if let Err(e) = attached {
        // The completion of every batch of this lane will try again and say why it failed.
        eprintln!("promsink: cannot attach a sender thread to the JVM: {e}");
    }
}

/// A Java `RequestSigning` called from the sender thread for every attempt.
struct JniSigner {
    signer: Global<JObject<'static>>,
}

impl Signer for JniSigner {
    fn sign(
        &self,
        headers: &[(String, String)],
        body: &[u8],
    ) -> std::result::Result<Vec<(String, String)>, String> {
        let signed = (|| -> Result<Vec<(String, String)>> {
            let sign = with_java(|side| Ok(side.sign))?;
            JavaVM::singleton()?
                .attach_current_thread(|env| call_signer(env, sign, &self.signer, headers, body))
                .map_err(Error::from_caught)
        })();
        signed.map_err(|e| e.to_string())
    }
}

fn call_signer(
    env: &mut Env,
    sign: JMethodID,
    signer: &Global<JObject<'static>>,
    headers: &[(String, String)],
    body: &[u8],
) -> jni::errors::Result<Vec<(String, String)>> {
    let array = JObjectArray::<JString>::new(env, 2 * headers.len(), JString::null())?;
    for (i, (name, value)) in headers.iter().enumerate() {
        let n = env.new_string(name)?;
        let v = env.new_string(value)?;
        array.set_element(env, 2 * i, &n)?;
        array.set_element(env, 2 * i + 1, &v)?;
        env.delete_local_ref(n);
        env.delete_local_ref(v);
    }
    let jbody: JByteArray = env.byte_array_from_slice(body)?;
    let args = [
        JValue::Object(&array).as_jni(),
        JValue::Object(&jbody).as_jni(),
    ];
    // SAFETY: `sign` was looked up on `RequestSigning` with the descriptor these arguments and
    // this return type follow, and `signer` implements it (checked by Java's type system).
    let returned =
        unsafe { env.call_method_unchecked(signer.as_obj(), sign, ReturnType::Object, &args)? }
            .l()?;
    if returned.is_null() {
        return Ok(Vec::new());
    }
    let returned = env.cast_local::<JObjectArray<JString>>(returned)?;
    let len = returned.len(env)?;
    let mut out = Vec::with_capacity(len / 2);
    for i in (0..len.saturating_sub(1)).step_by(2) {
        let n = returned.get_element(env, i)?;
        let v = returned.get_element(env, i + 1)?;
        if !n.is_null() && !v.is_null() {
            out.push((n.try_to_string(env)?, v.try_to_string(env)?));
        }
        env.delete_local_ref(n);
        env.delete_local_ref(v);
    }
    Ok(out)
}

impl Error {
    /// What went wrong in a call into Java: for an exception it threw, its class and message.
    fn from_caught(e: jni::errors::Error) -> Error {
        match e {
            jni::errors::Error::CaughtJavaException { name, msg, .. } => {
                Error::Jni(format!("{name}: {msg}"))
            }
            other => Error::Jni(other.to_string()),
        }
    }
}

/// `static native void submit(long handle, ByteBuffer batch, int length, BatchCallback cb)`:
/// prepares the batch now and completes `cb` later from the sender thread.
#[no_mangle]
pub extern "system" fn Java_dev_promsink_flink_internal_jni_NativeBridge_submit<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    buffer: JByteBuffer<'local>,
    length: jint,
    callback: JObject<'local>,
) {
    env.with_env(|env| submit(env, handle, &buffer, length, &callback))
        .resolve::<ThrowNativeException>()
}

fn submit(
    env: &mut Env,
    handle: jlong,
    buffer: &JByteBuffer,
    length: jint,
    callback: &JObject,
) -> Result<()> {
    // SAFETY: see `client`; Java passes a live handle.
    let client = unsafe { client(handle)? };
    if callback.is_null() {
        return Err(Error::malformed("the callback must not be null"));
    }
    let batch = direct_slice(env, buffer, length)?;
    let callback = env.new_global_ref(callback)?;
    client.submit(batch, completion(callback))
}

/// Hands a batch's result to its Java callback on the lane thread. If that call fails (the
/// callback throws, or a JNI call fails), the callback is called again with the batch failed and
/// the reason, so that the batch is never left in flight; only if that fails too (the JVM cannot
/// run the thread at all) is the reason printed to standard error.
fn completion(callback: Global<JObject<'static>>) -> Completion {
    Box::new(move |result: BatchResult| {
        let Err(first) = complete(&callback, &result) else {
            return;
        };
        let failed = BatchResult {
            outcome: Outcome::Failed,
            message: format!(
                "the result of a batch could not be handed to Java ({first}); it was: {}",
                if result.message.is_empty() {
                    "written"
                } else {
                    &result.message
                }
            ),
            ..result
        };
        if let Err(second) = complete(&callback, &failed) {
            eprintln!(
                "promsink: {}; then failing it also failed: {second}",
                failed.message
            );
        }
    })
}

fn complete(callback: &Global<JObject<'static>>, r: &BatchResult) -> Result<()> {
    let on_complete = with_java(|side| Ok(side.on_complete))?;
    // A local frame for this call (the lane thread never returns to Java to free them), and an
    // exception thrown by the callback is caught and returned as an error.
    JavaVM::singleton()?
        .attach_current_thread(|env| call_complete(env, on_complete, callback, r))
        .map_err(Error::from_caught)
}

fn call_complete(
    env: &mut Env,
    on_complete: JMethodID,
    callback: &Global<JObject<'static>>,
    r: &BatchResult,
) -> jni::errors::Result<()> {
    let message = env.new_string(&r.message)?;
    let body = env.new_string(&r.body)?;
    let first_invalid = env.new_string(&r.invalid.first)?;
    let counters = long_array(env, &r.counters)?;
    let args = [
        JValue::Int(r.outcome as jint).as_jni(),
        JValue::Object(&message).as_jni(),
        JValue::Int(jint::from(r.status)).as_jni(),
        JValue::Object(&body).as_jni(),
        JValue::Long(r.invalid.series as jlong).as_jni(),
        JValue::Long(r.invalid.samples as jlong).as_jni(),
        JValue::Object(&first_invalid).as_jni(),
        JValue::Object(&counters).as_jni(),
        JValue::Long(r.lanes as jlong).as_jni(),
    ];
    // SAFETY: `on_complete` was looked up on `BatchCallback` with the descriptor these arguments
    // follow, and `callback` implements it (checked by Java's type system).
    unsafe {
        env.call_method_unchecked(
            callback.as_obj(),
            on_complete,
            ReturnType::Primitive(Primitive::Void),
            &args,
        )?;
    }
    Ok(())
}

#[cfg(feature = "bench-support")]
thread_local! {
    static DRY_RUN: std::cell::RefCell<(crate::encode::Encoder, crate::compress::Compressor, Vec<u8>)> =
        std::cell::RefCell::new((crate::encode::Encoder::new(), crate::compress::Compressor::new(), Vec::new()));
}

/// `static native int prepare(ByteBuffer batch, int length)`: a dry run of `submit`'s work
/// (parse, validate, normalise, encode, compress) on the calling thread, without a client or a
/// request; returns the compressed size. Used by benchmarks to measure the native CPU per sample,
/// so only in a library built with the `bench-support` feature (the released one lacks it).
#[cfg(feature = "bench-support")]
#[no_mangle]
pub extern "system" fn Java_dev_promsink_flink_internal_jni_NativeBridge_prepare<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    buffer: JByteBuffer<'local>,
    length: jint,
) -> jint {
    env.with_env(|env| -> Result<jint> {
        let batch = direct_slice(env, &buffer, length)?;
        DRY_RUN.with(|state| {
            let (encoder, compressor, body) = &mut *state.borrow_mut();
            crate::client::encode_batch(batch, encoder)?;
            compressor.compress_into(encoder.bytes(), body);
            Ok(body.len() as jint)
        })
    })
    .resolve::<ThrowNativeException>()
}

/// The first `length` bytes of a direct buffer, checked against its capacity.
///
/// The slice is valid while the buffer is reachable, which the Java caller guarantees for the
/// duration of the native call that uses it.
fn direct_slice<'b>(env: &Env, buffer: &'b JByteBuffer, length: jint) -> Result<&'b [u8]> {
    if buffer.is_null() {
        return Err(Error::malformed("the batch buffer must not be null"));
    }
    let address = env.get_direct_buffer_address(buffer)?;
    let capacity = env.get_direct_buffer_capacity(buffer)?;
    let length = usize::try_from(length)
        .ok()
        .filter(|&l| l <= capacity)
        .ok_or_else(|| {
            Error::malformed(format!(
                "length {length} outside the buffer's capacity {capacity}"
            ))
        })?;
    // SAFETY: a direct buffer's address is valid for its capacity while the buffer is
    // reachable, which the caller guarantees for the duration of the native call; the bytes are
    // fully read before that call returns.
    Ok(unsafe { std::slice::from_raw_parts(address as *const u8, length) })
}

/// `static native long[] nativeMemory(boolean resetPeak)`: bytes the library holds now and at
/// its peak (since loaded, or since the last reset); then starts a new peak if asked.
#[no_mangle]
pub extern "system" fn Java_dev_promsink_flink_internal_jni_NativeBridge_nativeMemory<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    reset_peak: jboolean,
) -> JLongArray<'local> {
    env.with_env(|env| -> Result<JLongArray> {
        let values = [
            crate::memory::current() as u64,
            crate::memory::peak() as u64,
        ];
        if reset_peak {
            crate::memory::reset_peak();
        }
        Ok(long_array(env, &values)?)
    })
    .resolve::<ThrowNativeException>()
}

/// A Java `long[]` holding `values` (counters and byte counts, far below `i64::MAX`).
fn long_array<'local>(
    env: &mut Env<'local>,
    values: &[u64],
) -> jni::errors::Result<JLongArray<'local>> {
    let longs: Vec<jlong> = values.iter().map(|&v| v as jlong).collect();
    let array = env.new_long_array(longs.len())?;
    array.set_region(env, 0, &longs)?;
    Ok(array)
}

/// `static native long[] counters(long handle)`: the counters, indexed as `metrics::Counter`.
#[no_mangle]
pub extern "system" fn Java_dev_promsink_flink_internal_jni_NativeBridge_counters<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JLongArray<'local> {
    env.with_env(|env| -> Result<JLongArray> {
        // SAFETY: see `client`.
        let client = unsafe { client(handle)? };
        Ok(long_array(env, &client.counters())?)
    })
    .resolve::<ThrowNativeException>()
}

/// `static native void close(long handle)`: stops and joins the worker and frees the client.
#[no_mangle]
pub extern "system" fn Java_dev_promsink_flink_internal_jni_NativeBridge_close<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    env.with_env(|_| -> Result<()> {
        if handle != 0 {
            // SAFETY: `handle` came from `create` and Java closes it exactly once.
            drop(unsafe { Box::from_raw(handle as *mut Client) });
        }
        Ok(())
    })
    .resolve::<ThrowNativeException>()
}
