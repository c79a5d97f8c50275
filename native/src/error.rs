//! The one error type of the native core. Every variant has a stable code that crosses JNI with its
//! message (see `jni_bridge.rs`), so Java callers can tell a malformed buffer from a bad option.

use std::fmt;

/// An error of the native core: a stable code and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The batch buffer does not follow `docs/batch-format.md`.
    MalformedBatch(String),
    /// A configuration key or value is not acceptable.
    InvalidConfig(String),
    /// The client was closed or its worker is gone.
    Closed,
    /// A Rust panic was caught at the JNI boundary.
    Panic(String),
    /// The JVM refused a JNI operation.
    Jni(String),
}

impl Error {
    /// Stable numeric code, part of the JNI contract (`NativeException.code()` in Java).
    pub fn code(&self) -> i32 {
        match self {
            Error::MalformedBatch(_) => 1,
            Error::InvalidConfig(_) => 2,
            Error::Closed => 3,
            Error::Panic(_) => 4,
            Error::Jni(_) => 5,
        }
    }

    pub(crate) fn malformed(message: impl Into<String>) -> Error {
        Error::MalformedBatch(message.into())
    }

    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error::InvalidConfig(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::MalformedBatch(m) => write!(f, "malformed batch: {m}"),
            Error::InvalidConfig(m) => write!(f, "invalid configuration: {m}"),
            Error::Closed => write!(f, "the native client is closed"),
            Error::Panic(m) => write!(f, "native panic: {m}"),
            Error::Jni(m) => write!(f, "JNI error: {m}"),
        }
    }
}

impl std::error::Error for Error {}

/// Result of the native core.
pub type Result<T> = std::result::Result<T, Error>;
