//! Counters of one native client, in atomics; Java exposes them as Flink counters with the
//! Apache connector's names (see `Counter::java_name`).

use std::sync::atomic::{AtomicU64, Ordering};

/// The counters, in the order of the array that crosses JNI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Samples written (2xx).
    SamplesOut = 0,
    /// Write requests answered 2xx.
    WriteRequestsOut = 1,
    /// Retries (attempts after the first), for any retryable answer or transport error.
    WriteRequestsRetries = 2,
    /// Samples dropped for any reason: non-retryable answers, retry limit with
    /// DISCARD_AND_CONTINUE, failed requests, invalid series.
    SamplesDropped = 3,
    /// Samples in requests dropped after a non-retryable answer (4xx).
    SamplesNonRetryableDropped = 4,
    /// Samples in requests dropped after the retry limit (DISCARD_AND_CONTINUE).
    SamplesRetryLimitDropped = 5,
    /// Requests that were not written: non-retryable, retry limit or fatal.
    WriteRequestsPermanentlyFailed = 6,
    /// Samples of series rejected by validation.
    SamplesInvalidDropped = 7,
}

/// Number of counters.
pub const COUNTERS: usize = 8;

impl Counter {
    /// Every counter, in the order of the array that crosses JNI.
    pub const ALL: [Counter; COUNTERS] = [
        Counter::SamplesOut,
        Counter::WriteRequestsOut,
        Counter::WriteRequestsRetries,
        Counter::SamplesDropped,
        Counter::SamplesNonRetryableDropped,
        Counter::SamplesRetryLimitDropped,
        Counter::WriteRequestsPermanentlyFailed,
        Counter::SamplesInvalidDropped,
    ];

    /// The Flink metric name.
    pub fn java_name(self) -> &'static str {
        match self {
            Counter::SamplesOut => "numSamplesOut",
            Counter::WriteRequestsOut => "numWriteRequestsOut",
            Counter::WriteRequestsRetries => "numWriteRequestsRetries",
            Counter::SamplesDropped => "numSamplesDropped",
            Counter::SamplesNonRetryableDropped => "numSamplesNonRetryableDropped",
            Counter::SamplesRetryLimitDropped => "numSamplesRetryLimitDropped",
            Counter::WriteRequestsPermanentlyFailed => "numWriteRequestsPermanentlyFailed",
            Counter::SamplesInvalidDropped => "numSamplesInvalidDropped",
        }
    }
}

/// Monotonic counters shared by the submitting thread and the worker.
#[derive(Debug, Default)]
pub struct Counters([AtomicU64; COUNTERS]);

impl Counters {
    /// Adds `n` to counter `c`.
    pub fn add(&self, c: Counter, n: u64) {
        self.0[c as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// Current value of counter `c`.
    pub fn get(&self, c: Counter) -> u64 {
        self.0[c as usize].load(Ordering::Relaxed)
    }

    /// All values, indexed by `Counter as usize`.
    pub fn snapshot(&self) -> [u64; COUNTERS] {
        std::array::from_fn(|i| self.0[i].load(Ordering::Relaxed))
    }
}
