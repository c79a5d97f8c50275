//! The Java/Rust contract, checked from both sides' sources: what the Java shell and the native
//! core must agree on is defined once on each side (their own languages' constants), and this
//! test reads the Java sources and holds them to the Rust definitions. A change on one side
//! without the other fails here.

use promsink::client::Outcome;
use promsink::config::{Config, DEFAULT_LINGER_MS, MAX_LANES, MAX_LINGER_MS, RESERVED_HEADERS};
use promsink::error::Error;
use promsink::metrics::Counter;
use std::path::Path;

fn java(path: &str) -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../java/src/main/java/dev/promsink/flink")
        .join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// The text between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start:?}")) + start.len();
    let to = text[from..]
        .find(end)
        .unwrap_or_else(|| panic!("no {end:?}"))
        + from;
    &text[from..to]
}

/// Every double-quoted string literal in `text`, in order.
fn strings(text: &str) -> Vec<&str> {
    text.split('"').skip(1).step_by(2).collect()
}

/// The value of `name = <int>;` in `text`.
fn int_constant(text: &str, name: &str) -> i64 {
    between(text, &format!("{name} = "), ";")
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn reserved_headers_are_the_same_list() {
    let builder = java("PrometheusSinkBuilder.java");
    let list = between(&builder, "RESERVED_HEADERS =", ";");
    assert_eq!(strings(list), RESERVED_HEADERS);
}

#[test]
fn the_lane_limit_is_the_same() {
    let builder = java("PrometheusSinkBuilder.java");
    assert_eq!(
        int_constant(&builder, "MAX_SENDING_LANES"),
        MAX_LANES as i64
    );
}

#[test]
fn the_linger_default_and_limit_are_the_same() {
    let builder = java("PrometheusSinkBuilder.java");
    assert_eq!(
        int_constant(&builder, "DEFAULT_REQUEST_LINGER_MS"),
        DEFAULT_LINGER_MS as i64
    );
    assert_eq!(
        int_constant(&builder, "MAX_REQUEST_LINGER_MS"),
        MAX_LINGER_MS as i64
    );
}

#[test]
fn counters_have_the_same_order_and_names() {
    let counters = java("internal/jni/SinkCounter.java");
    let names: Vec<&str> = strings(between(
        &counters,
        "public enum SinkCounter {",
        "private final",
    ));
    let rust: Vec<&str> = Counter::ALL.iter().map(|c| c.java_name()).collect();
    assert_eq!(names, rust);
    for (i, c) in Counter::ALL.iter().enumerate() {
        assert_eq!(*c as usize, i);
    }
}

#[test]
fn outcome_codes_are_the_same() {
    let callback = java("internal/jni/BatchCallback.java");
    for (name, outcome) in [
        ("WRITTEN", Outcome::Written),
        ("DROPPED_NON_RETRYABLE", Outcome::DroppedNonRetryable),
        ("DROPPED_RETRY_LIMIT", Outcome::DroppedRetryLimit),
        ("FAILED", Outcome::Failed),
    ] {
        assert_eq!(int_constant(&callback, name), outcome as i64, "{name}");
    }
}

#[test]
fn error_codes_are_the_same() {
    let exception = java("internal/jni/NativeException.java");
    for (name, error) in [
        ("MALFORMED_BATCH", Error::MalformedBatch(String::new())),
        ("INVALID_CONFIG", Error::InvalidConfig(String::new())),
        ("CLOSED", Error::Closed),
        ("PANIC", Error::Panic(String::new())),
        ("JNI", Error::Jni(String::new())),
    ] {
        assert_eq!(
            int_constant(&exception, name),
            error.code() as i64,
            "{name}"
        );
    }
}

#[test]
fn every_option_key_the_builder_sends_is_one_the_native_client_knows() {
    let builder = java("PrometheusSinkBuilder.java");
    let keys: Vec<&str> = builder
        .split("options.put(")
        .skip(1)
        .filter_map(|s| s.strip_prefix('"'))
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert!(keys.len() >= 15, "found {keys:?}");
    for key in keys {
        let key = if key == "header." {
            "header.X-Test"
        } else {
            key
        };
        let message = match Config::from_pairs([("url", "http://h/w"), (key, "1")]) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
        assert!(!message.contains("unknown option"), "{key}: {message}");
    }
}

/// The JNI descriptor of a Java parameter list such as `int outcome, String message, long[] c`.
fn descriptor(params: &str) -> String {
    let mut out = String::new();
    for param in params.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let ty = param.split_whitespace().next().unwrap();
        let (base, arrays) = (ty.trim_end_matches("[]"), ty.matches("[]").count());
        out.push_str(&"[".repeat(arrays));
        out.push_str(match base {
            "int" => "I",
            "long" => "J",
            "boolean" => "Z",
            "byte" => "B",
            "double" => "D",
            "String" => "Ljava/lang/String;",
            other => panic!("no descriptor for {other}"),
        });
    }
    out
}

/// The descriptor of the method of `file` declared as `<ret> <name>(...)`.
fn method_descriptor(file: &str, returns: &str, ret: &str, name: &str) -> String {
    let source = java(file);
    let params = between(&source, &format!("{returns} {name}("), ")");
    format!("({}){ret}", descriptor(params))
}

#[test]
fn the_methods_the_library_calls_have_the_descriptors_it_looks_up() {
    use promsink::jni_bridge::contract::*;
    assert_eq!(
        method_descriptor("internal/jni/BatchCallback.java", "void", "V", ON_COMPLETE),
        ON_COMPLETE_SIGNATURE
    );
    assert_eq!(
        method_descriptor(
            "internal/jni/RequestSigning.java",
            "String[]",
            "[Ljava/lang/String;",
            SIGN
        ),
        SIGN_SIGNATURE
    );
    assert_eq!(
        method_descriptor(
            "internal/jni/NativeException.java",
            "public",
            "V",
            "NativeException"
        ),
        EXCEPTION_INIT
    );
    for class in [CALLBACK_CLASS, SIGNER_CLASS, EXCEPTION_CLASS] {
        let file = class.trim_start_matches("dev/promsink/flink/");
        assert!(java(&format!("{file}.java")).contains("package dev.promsink.flink.internal.jni;"));
    }
}

/// The JNI export names spell the package and class that declare the native methods (a rename
/// on either side would otherwise show only as an `UnsatisfiedLinkError` at run time).
#[test]
fn the_exported_symbols_name_the_class_that_declares_the_native_methods() {
    let bridge = java("internal/jni/NativeBridge.java");
    let package = between(&bridge, "package ", ";");
    // JNI escapes '_' in names as "_1": the names used here have none, so none is needed.
    assert!(!package.contains('_'), "{package}");
    let prefix = format!("Java_{}_NativeBridge_", package.replace('.', "_"));
    let natives: Vec<&str> = bridge
        .split("static native ")
        .skip(1)
        .map(|s| s[..s.find('(').unwrap()].split_whitespace().last().unwrap())
        .collect();
    assert_eq!(
        natives,
        [
            "create",
            "submit",
            "prepare",
            "nativeMemory",
            "counters",
            "close"
        ]
    );
    let rust =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/jni_bridge.rs"))
            .unwrap();
    for name in &natives {
        assert!(
            rust.contains(&format!("pub extern \"system\" fn {prefix}{name}<")),
            "no export {prefix}{name}"
        );
    }
    assert_eq!(
        rust.matches("pub extern \"system\" fn Java_").count(),
        natives.len()
    );
}
