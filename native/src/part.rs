//! What travels from a batch to the lanes and back: a part (the series of one batch bound for one
//! lane), who waits for it, and how the request holding it ended.

use std::sync::Arc;

/// How a request (and so each part in it, and each batch) ended. The numeric values are part of
/// the JNI contract (`BatchCallback` in Java) and order the outcomes by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Outcome {
    /// Written (or there was nothing valid to write).
    #[default]
    Written = 0,
    /// The receiver answered a non-retryable 4xx: dropped and counted, the job goes on.
    DroppedNonRetryable = 1,
    /// Retry limit reached with DISCARD_AND_CONTINUE: dropped and counted, the job goes on.
    DroppedRetryLimit = 2,
    /// Fatal answer, or retry limit reached with FAIL: the job must fail.
    Failed = 3,
}

/// How a request ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ending {
    /// Written, dropped or failed.
    pub outcome: Outcome,
    /// What went wrong: endpoint, status or error, samples lost, response body. For `Written`
    /// it is empty or a notice to log (the switch from Remote-Write 2.0 to 1.0).
    pub message: String,
    /// The HTTP status of the last answer; 0 when the last attempt had none.
    pub status: u16,
    /// The start of that answer's body (bounded by the HTTP client); empty when none.
    pub body: String,
}

impl Ending {
    /// An ending with only an outcome and a message (no HTTP answer).
    pub fn new(outcome: Outcome, message: String) -> Ending {
        Ending {
            outcome,
            message,
            ..Ending::default()
        }
    }
}

/// Told once when the request holding a part has ended.
pub trait PartDone: Send + Sync {
    /// `ending.message` goes to a dropped request's first part only, so that it is logged once
    /// (the others get it empty); a failure goes to every part.
    fn part_done(&self, ending: &Ending);
    /// One of its parts was split in two: one more `part_done` to wait for.
    fn part_split(&self);
}

/// The series of one batch bound for one lane: `WriteRequest.timeseries` entries, already
/// encoded, so that parts concatenate into one request.
pub struct Part {
    /// Encoded `timeseries` fields.
    pub bytes: Vec<u8>,
    /// Samples in them.
    pub samples: u64,
    /// Who waits for this part.
    pub owner: Arc<dyn PartDone>,
    /// The routing generation it was queued under (`router.rs`).
    pub generation: u64,
}

impl Part {
    /// Cuts this part after its first `at` bytes (whole series, `samples` samples) and returns
    /// the rest as a new part of the same batch and generation, for the next request. The router
    /// must be told too (`Router::part_split`).
    pub fn split_off(&mut self, at: usize, samples: u64) -> Part {
        self.owner.part_split();
        let rest = Part {
            bytes: self.bytes.split_off(at),
            samples: self.samples.saturating_sub(samples),
            owner: self.owner.clone(),
            generation: self.generation,
        };
        self.samples = samples;
        rest
    }
}
