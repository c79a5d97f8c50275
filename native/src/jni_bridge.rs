//! The JNI shell: four exports of `dev.promsink.flink.jni.NativeBridge`, each a thin wrapper over
//! a function returning `Result`. Errors and panics never cross into the JVM as anything but a
//! `dev.promsink.flink.jni.NativeException` carrying the error's code and message.

use crate::client::{BatchResult, Client, Completion};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::http::{HttpTransport, SharedSigner, Signer, Transport};
use jni::objects::{GlobalRef, JByteBuffer, JClass, JObject, JObjectArray, JString, JValue};
use jni::sys::{jint, jlong, jlongArray};
use jni::{JNIEnv, JavaVM};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const EXCEPTION_CLASS: &str = "dev/promsink/flink/jni/NativeException";
const COMPLETE_METHOD: &str = "onComplete";
/// `onComplete(int outcome, String message, long invalidSeries, long invalidSamples,
/// String firstInvalid, long[] counters, long lanes)`
const COMPLETE_SIGNATURE: &str = "(ILjava/lang/String;JJLjava/lang/String;[JJ)V";

static SENDER_THREADS: AtomicU64 = AtomicU64::new(0);

impl From<jni::errors::Error> for Error {
    fn from(e: jni::errors::Error) -> Self {
        Error::Jni(e.to_string())
    }
}

/// Runs `f`, turning an error or a panic into a pending Java exception and `fallback`.
fn guard<'local, T>(
    env: &mut JNIEnv<'local>,
    fallback: T,
    f: impl FnOnce(&mut JNIEnv<'local>) -> Result<T>,
) -> T {
    let result = match catch_unwind(AssertUnwindSafe(|| f(env))) {
        Ok(r) => r,
        Err(panic) => Err(Error::Panic(panic_message(&panic))),
    };
    match result {
        Ok(v) => v,
        Err(e) => {
            throw(env, &e);
            fallback
        }
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

/// Throws `NativeException(code, message)`, unless a Java exception is already pending (a JNI
/// call that failed has usually thrown one, and it says more).
fn throw(env: &mut JNIEnv, e: &Error) {
    if env.exception_check().unwrap_or(true) {
        return;
    }
    let thrown = (|| -> jni::errors::Result<()> {
        let message = env.new_string(e.to_string())?;
        let exception = env.new_object(
            EXCEPTION_CLASS,
            "(ILjava/lang/String;)V",
            &[JValue::Int(e.code()), JValue::Object(&message)],
        )?;
        env.throw(jni::objects::JThrowable::from(exception))
    })();
    if thrown.is_err() && !env.exception_check().unwrap_or(true) {
        let _ = env.throw_new("java/lang/IllegalStateException", e.to_string());
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
pub extern "system" fn Java_dev_promsink_flink_jni_NativeBridge_create<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    options: JObjectArray<'local>,
    signer: JObject<'local>,
) -> jlong {
    guard(&mut env, 0, |env| create(env, &options, &signer))
}

fn create(env: &mut JNIEnv, options: &JObjectArray, signer: &JObject) -> Result<jlong> {
    let len = env.get_array_length(options)?;
    if len % 2 != 0 {
        return Err(Error::config("options must be key/value pairs"));
    }
    let mut strings = Vec::with_capacity(len as usize);
    for i in 0..len {
        let item = JString::from(env.get_object_array_element(options, i)?);
        if item.is_null() {
            return Err(Error::config(format!("option {} is null", i / 2)));
        }
        strings.push(String::from(env.get_string(&item)?));
    }
    let pairs = strings
        .chunks_exact(2)
        .map(|kv| (kv[0].as_str(), kv[1].as_str()));
    let config = Config::from_pairs(pairs)?;
    let signer: Option<SharedSigner> = if signer.is_null() {
        None
    } else {
        Some(Arc::new(JniSigner {
            vm: env.get_java_vm()?,
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
    let vm = Arc::new(env.get_java_vm()?);
    let n = SENDER_THREADS.fetch_add(1, Ordering::Relaxed) + 1;
    let name = format!("promsink-sender-{n}");
    let client = Client::new(
        &config,
        transports,
        name,
        Arc::new(move || {
            let thread = std::thread::current();
            attach_worker(&vm, thread.name().unwrap_or("promsink-sender"))
        }),
    )?;
    Ok(Box::into_raw(Box::new(client)) as jlong)
}

/// A Java `RequestSigning` called from the sender thread for every attempt.
struct JniSigner {
    vm: JavaVM,
    signer: GlobalRef,
}

impl Signer for JniSigner {
    fn sign(
        &self,
        headers: &[(String, String)],
        body: &[u8],
    ) -> std::result::Result<Vec<(String, String)>, String> {
        let mut env = self
            .vm
            .attach_current_thread_as_daemon()
            .map_err(|e| e.to_string())?;
        let signer = &self.signer;
        let result = env.with_local_frame(16 + 2 * headers.len() as i32, |env| {
            call_signer(env, signer, headers, body)
        });
        result.map_err(|e| match e {
            jni::errors::Error::JavaException => take_exception(&mut env),
            other => other.to_string(),
        })
    }
}

fn call_signer(
    env: &mut JNIEnv,
    signer: &GlobalRef,
    headers: &[(String, String)],
    body: &[u8],
) -> jni::errors::Result<Vec<(String, String)>> {
    let array = env.new_object_array(
        2 * headers.len() as i32,
        "java/lang/String",
        JObject::null(),
    )?;
    for (i, (name, value)) in headers.iter().enumerate() {
        let n = env.new_string(name)?;
        let v = env.new_string(value)?;
        env.set_object_array_element(&array, 2 * i as i32, n)?;
        env.set_object_array_element(&array, 2 * i as i32 + 1, v)?;
    }
    let jbody = env.byte_array_from_slice(body)?;
    let returned = env
        .call_method(
            signer,
            "sign",
            "([Ljava/lang/String;[B)[Ljava/lang/String;",
            &[JValue::Object(&array), JValue::Object(&jbody)],
        )?
        .l()?;
    if returned.is_null() {
        return Ok(Vec::new());
    }
    let returned = JObjectArray::from(returned);
    let len = env.get_array_length(&returned)?;
    let mut out = Vec::with_capacity(len as usize / 2);
    for i in (0..len - 1).step_by(2) {
        let n = JString::from(env.get_object_array_element(&returned, i)?);
        let v = JString::from(env.get_object_array_element(&returned, i + 1)?);
        if n.is_null() || v.is_null() {
            continue;
        }
        out.push((
            String::from(env.get_string(&n)?),
            String::from(env.get_string(&v)?),
        ));
    }
    Ok(out)
}

/// Clears the pending Java exception and returns its `toString()`.
fn take_exception(env: &mut JNIEnv) -> String {
    let Ok(throwable) = env.exception_occurred() else {
        return "unknown Java exception".into();
    };
    let _ = env.exception_clear();
    let text = env
        .call_method(&throwable, "toString", "()Ljava/lang/String;", &[])
        .and_then(|v| v.l())
        .and_then(|s| env.get_string(&JString::from(s)).map(String::from));
    let _ = env.exception_clear();
    text.unwrap_or_else(|_| "unknown Java exception".into())
}

/// Attaches the worker thread to the JVM once, as a daemon (it never keeps the JVM alive), and
/// gives its Java `Thread` the worker's name so thread dumps show it.
fn attach_worker(vm: &JavaVM, name: &str) {
    let Ok(mut env) = vm.attach_current_thread_as_daemon() else {
        return;
    };
    let _ = env.with_local_frame(8, |env| -> jni::errors::Result<()> {
        let thread = env
            .call_static_method(
                "java/lang/Thread",
                "currentThread",
                "()Ljava/lang/Thread;",
                &[],
            )?
            .l()?;
        let jname = env.new_string(name)?;
        env.call_method(
            &thread,
            "setName",
            "(Ljava/lang/String;)V",
            &[JValue::Object(&jname)],
        )?;
        Ok(())
    });
    let _ = env.exception_clear();
}

/// `static native void submit(long handle, ByteBuffer batch, int length, BatchCallback cb)`:
/// prepares the batch now and completes `cb` later from the sender thread.
#[no_mangle]
pub extern "system" fn Java_dev_promsink_flink_jni_NativeBridge_submit<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    buffer: JByteBuffer<'local>,
    length: jint,
    callback: JObject<'local>,
) {
    guard(&mut env, (), |env| {
        submit(env, handle, &buffer, length, &callback)
    })
}

fn submit(
    env: &mut JNIEnv,
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
    let vm = env.get_java_vm()?;
    client.submit(batch, completion(vm, callback))
}

fn completion(vm: JavaVM, callback: GlobalRef) -> Completion {
    Box::new(move |result: BatchResult| {
        // The worker thread is attached for good; give every call its own local frame so
        // local references do not pile up on a thread that never returns to Java.
        let Ok(mut env) = vm.attach_current_thread_as_daemon() else {
            return;
        };
        let called = env.with_local_frame(8, |env| call_complete(env, &callback, &result));
        if called.is_err() || env.exception_check().unwrap_or(false) {
            let _ = env.exception_describe();
            let _ = env.exception_clear();
        }
    })
}

fn call_complete(
    env: &mut JNIEnv,
    callback: &GlobalRef,
    r: &BatchResult,
) -> jni::errors::Result<()> {
    let message = env.new_string(&r.message)?;
    let first_invalid = env.new_string(&r.invalid.first)?;
    let counters = long_array(env, &r.counters)?;
    env.call_method(
        callback,
        COMPLETE_METHOD,
        COMPLETE_SIGNATURE,
        &[
            JValue::Int(r.outcome as jint),
            JValue::Object(&message),
            JValue::Long(r.invalid.series as jlong),
            JValue::Long(r.invalid.samples as jlong),
            JValue::Object(&first_invalid),
            JValue::Object(&counters),
            JValue::Long(r.lanes as jlong),
        ],
    )?;
    Ok(())
}

thread_local! {
    static DRY_RUN: std::cell::RefCell<(crate::encode::Encoder, crate::compress::Compressor, Vec<u8>)> =
        std::cell::RefCell::new((crate::encode::Encoder::new(), crate::compress::Compressor::new(), Vec::new()));
}

/// `static native int prepare(ByteBuffer batch, int length)`: a dry run of `submit`'s work
/// (parse, validate, normalise, encode, compress) on the calling thread, without a client or a
/// request; returns the compressed size. Used by benchmarks to measure the native CPU per sample.
#[no_mangle]
pub extern "system" fn Java_dev_promsink_flink_jni_NativeBridge_prepare<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    buffer: JByteBuffer<'local>,
    length: jint,
) -> jint {
    guard(&mut env, 0, |env| {
        let batch = direct_slice(env, &buffer, length)?;
        DRY_RUN.with(|state| {
            let (encoder, compressor, body) = &mut *state.borrow_mut();
            crate::client::encode_batch(batch, encoder)?;
            compressor.compress_into(encoder.bytes(), body);
            Ok(body.len() as jint)
        })
    })
}

/// The first `length` bytes of a direct buffer, checked against its capacity.
///
/// The slice is valid while the buffer is reachable, which the Java caller guarantees for the
/// duration of the native call that uses it.
fn direct_slice<'b>(env: &mut JNIEnv, buffer: &'b JByteBuffer, length: jint) -> Result<&'b [u8]> {
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
pub extern "system" fn Java_dev_promsink_flink_jni_NativeBridge_nativeMemory<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    reset_peak: jni::sys::jboolean,
) -> jlongArray {
    guard(&mut env, std::ptr::null_mut(), |env| {
        let values = [
            crate::memory::current() as u64,
            crate::memory::peak() as u64,
        ];
        if reset_peak != 0 {
            crate::memory::reset_peak();
        }
        Ok(long_array(env, &values)?.into_raw())
    })
}

/// A Java `long[]` holding `values` (counters and byte counts, far below `i64::MAX`).
fn long_array<'local>(
    env: &mut JNIEnv<'local>,
    values: &[u64],
) -> jni::errors::Result<jni::objects::JLongArray<'local>> {
    let longs: Vec<jlong> = values.iter().map(|&v| v as jlong).collect();
    let array = env.new_long_array(longs.len() as i32)?;
    env.set_long_array_region(&array, 0, &longs)?;
    Ok(array)
}

/// `static native long[] counters(long handle)`: the counters, indexed as `metrics::Counter`.
#[no_mangle]
pub extern "system" fn Java_dev_promsink_flink_jni_NativeBridge_counters<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jlongArray {
    guard(&mut env, std::ptr::null_mut(), |env| {
        // SAFETY: see `client`.
        let client = unsafe { client(handle)? };
        Ok(long_array(env, &client.counters())?.into_raw())
    })
}

/// `static native void close(long handle)`: stops and joins the worker and frees the client.
#[no_mangle]
pub extern "system" fn Java_dev_promsink_flink_jni_NativeBridge_close<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    guard(&mut env, (), |_| {
        if handle != 0 {
            // SAFETY: `handle` came from `create` and Java closes it exactly once.
            drop(unsafe { Box::from_raw(handle as *mut Client) });
        }
        Ok(())
    })
}
