//! One native client per Flink sink writer: prepares batches on the caller's thread (parse,
//! validate, encode, compress) and sends them on its own worker thread, in order, one request in
//! flight, retrying with backoff. Every batch is completed exactly once through its callback,
//! except batches still queued or retrying when the client is closed.

use crate::batch::BatchReader;
use crate::classify::{classify_status, Class};
use crate::compress::Compressor;
use crate::config::{Config, OnRetryLimit};
use crate::encode::Encoder;
use crate::error::{Error, Result};
use crate::http::{Attempt, Transport};
use crate::metrics::{Counter, Counters, COUNTERS};
use crate::retry::RetryPolicy;
use crate::validate::{Invalid, Normalizer};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TryRecvError};
use parking_lot::Mutex;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How a batch ended. The numeric values are part of the JNI contract (`BatchOutcome` in Java).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every valid series was written (or there was nothing valid to write).
    Written = 0,
    /// The receiver answered a non-retryable 4xx: dropped and counted, the job goes on.
    DroppedNonRetryable = 1,
    /// Retry limit reached with DISCARD_AND_CONTINUE: dropped and counted, the job goes on.
    DroppedRetryLimit = 2,
    /// Fatal answer, or retry limit reached with FAIL: the job must fail.
    Failed = 3,
}

/// What the callback of a batch receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchResult {
    /// How it ended.
    pub outcome: Outcome,
    /// For anything but `Written`: endpoint, status or error, and the response body.
    pub message: String,
    /// Series of the batch rejected by validation (already counted).
    pub invalid: InvalidSummary,
    /// Counter values after this batch.
    pub counters: [u64; COUNTERS],
}

/// Series dropped by validation in one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvalidSummary {
    /// Number of series dropped.
    pub series: u64,
    /// Number of samples in them.
    pub samples: u64,
    /// The first one, described for a log line: reason and metric name.
    pub first: String,
}

/// Called once when a batch is done, on the worker thread.
pub type Completion = Box<dyn FnOnce(BatchResult) + Send>;

struct Job {
    body: Vec<u8>,
    samples: u64,
    invalid: InvalidSummary,
    done: Completion,
}

/// State of the preparing side, reused from batch to batch.
struct Prepare {
    encoder: Encoder,
    compressor: Compressor,
}

/// A Remote-Write client with one sending worker.
pub struct Client {
    prepare: Mutex<Prepare>,
    counters: Arc<Counters>,
    jobs: Option<Sender<Job>>,
    spare_bodies: Receiver<Vec<u8>>,
    // Dropped on close: wakes the worker from any backoff wait at once.
    stop: Option<Sender<()>>,
    worker: Option<JoinHandle<()>>,
    // Disconnected when the worker thread ends.
    worker_done: Receiver<()>,
    close_grace: Duration,
}

/// Jobs queued beyond the one being sent. Flink keeps one batch in flight per writer, so this
/// only absorbs bursts from a caller that submits before completion arrives.
const QUEUE: usize = 16;

impl Client {
    /// A client sending with `transport`, its worker thread named `thread_name`. `on_start` runs
    /// first on the worker thread (the JNI layer attaches it to the JVM there).
    pub fn new(
        config: &Config,
        transport: Box<dyn Transport>,
        thread_name: String,
        on_start: Box<dyn FnOnce() + Send>,
    ) -> Result<Client> {
        let counters = Arc::new(Counters::default());
        let (jobs_tx, jobs_rx) = bounded::<Job>(QUEUE);
        let (spare_tx, spare_rx) = bounded::<Vec<u8>>(4);
        let (stop_tx, stop_rx) = bounded::<()>(0);
        let (done_tx, done_rx) = bounded::<()>(0);
        let worker = Worker {
            transport,
            retry: config.retry,
            on_retry_limit: config.on_retry_limit,
            counters: counters.clone(),
            stop: stop_rx,
        };
        let handle = std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || {
                let _done = done_tx; // dropped when this thread ends, however it ends
                on_start();
                worker.run(jobs_rx, spare_tx);
            })
            .map_err(|e| Error::Jni(format!("cannot start the sender thread: {e}")))?;
        Ok(Client {
            prepare: Mutex::new(Prepare {
                encoder: Encoder::new(),
                compressor: Compressor::new(),
            }),
            counters,
            jobs: Some(jobs_tx),
            spare_bodies: spare_rx,
            stop: Some(stop_tx),
            worker: Some(handle),
            worker_done: done_rx,
            close_grace: close_grace(config.socket_timeout),
        })
    }

    /// Parses, validates, encodes and compresses `batch` on the calling thread, then queues it
    /// for sending; `done` is called when it is written, dropped or failed. A malformed batch
    /// is an error and nothing of it is sent (nor is `done` called).
    pub fn submit(&self, batch: &[u8], done: Completion) -> Result<()> {
        let jobs = self.jobs.as_ref().ok_or(Error::Closed)?;
        let (body, samples, invalid) = {
            let mut p = self.prepare.lock();
            let Prepare {
                encoder,
                compressor,
            } = &mut *p;
            let invalid = encode_batch(batch, encoder)?;
            let mut body = self.spare_bodies.try_recv().unwrap_or_default();
            if encoder.series() > 0 {
                compressor.compress_into(encoder.bytes(), &mut body);
            } else {
                body.clear();
            }
            (body, encoder.samples() as u64, invalid)
        };
        if invalid.series > 0 {
            self.counters
                .add(Counter::SamplesInvalidDropped, invalid.samples);
            self.counters.add(Counter::SamplesDropped, invalid.samples);
        }
        jobs.send(Job {
            body,
            samples,
            invalid,
            done,
        })
        .map_err(|_| Error::Closed)
    }

    /// Current counter values.
    pub fn counters(&self) -> [u64; COUNTERS] {
        self.counters.snapshot()
    }

    /// Stops the worker (abandoning queued batches and any backoff wait) and joins it once the
    /// request in progress, if any, has ended. Idempotent. Never hangs: a request that outlives
    /// the grace period (possible only without a socket timeout) is left to end on its own
    /// thread, which then exits; it holds no reference to this client.
    pub fn close(&mut self) {
        self.jobs = None;
        self.stop = None;
        if let Some(worker) = self.worker.take() {
            match self.worker_done.recv_timeout(self.close_grace) {
                Err(RecvTimeoutError::Timeout) => drop(worker), // detached
                _ => {
                    let _ = worker.join();
                }
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close();
    }
}

/// How long `close` waits for a request in progress: every phase of a request is bounded by the
/// socket timeout (connect, send, wait, receive, with some slack), or 10 s without one.
fn close_grace(socket_timeout: Option<Duration>) -> Duration {
    socket_timeout.map_or(Duration::from_secs(10), |t| {
        t.saturating_mul(5) + Duration::from_secs(1)
    })
}

/// Encodes every valid series of `batch` into `encoder` (cleared first) and describes the
/// invalid ones.
pub fn encode_batch(batch: &[u8], encoder: &mut Encoder) -> Result<InvalidSummary> {
    let mut reader = BatchReader::new(batch)?;
    let mut normalizer = Normalizer::new();
    let mut invalid = InvalidSummary::default();
    encoder.clear();
    while let Some(series) = reader.next_series() {
        let series = series?;
        match normalizer.normalise(&series) {
            Ok(normal) => {
                if !normal.samples.is_empty() {
                    encoder.push(&normal)
                }
            }
            Err(reason) => {
                if invalid.series == 0 {
                    invalid.first = describe(reason, series.metric_name);
                }
                invalid.series += 1;
                invalid.samples += series.sample_count() as u64;
            }
        }
    }
    Ok(invalid)
}

fn describe(reason: Invalid, metric: &[u8]) -> String {
    let name: String = String::from_utf8_lossy(metric).chars().take(200).collect();
    format!("{reason} (metric name {name:?})")
}

struct Worker {
    transport: Box<dyn Transport>,
    retry: RetryPolicy,
    on_retry_limit: OnRetryLimit,
    counters: Arc<Counters>,
    stop: Receiver<()>,
}

/// Why a delivery did not finish.
struct Stopped;

impl Worker {
    fn run(mut self, jobs: Receiver<Job>, spare: Sender<Vec<u8>>) {
        for job in jobs.iter() {
            if matches!(self.stop.try_recv(), Err(TryRecvError::Disconnected)) {
                return; // closing: abandon queued batches
            }
            let result = if job.body.is_empty() {
                Ok((Outcome::Written, String::new()))
            } else {
                self.deliver(&job.body, job.samples)
            };
            let Ok((outcome, message)) = result else {
                return; // closing: abandon this and every queued batch
            };
            let _ = spare.try_send(job.body);
            let result = BatchResult {
                outcome,
                message,
                invalid: job.invalid,
                counters: self.counters.snapshot(),
            };
            // A panicking callback must not take the sender down with every later batch.
            let _ =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || (job.done)(result)));
        }
    }

    /// Sends one body until it is written, dropped or failed.
    fn deliver(
        &mut self,
        body: &[u8],
        samples: u64,
    ) -> std::result::Result<(Outcome, String), Stopped> {
        let mut retries = 0u32;
        loop {
            let attempt = self.transport.post(body);
            let class = match &attempt {
                Attempt::Answered { status, .. } => classify_status(*status),
                Attempt::NoAnswer {
                    retryable: true, ..
                } => Class::Retryable,
                Attempt::NoAnswer {
                    retryable: false, ..
                } => Class::Fatal,
            };
            let c = &self.counters;
            match class {
                Class::Success => {
                    c.add(Counter::SamplesOut, samples);
                    c.add(Counter::WriteRequestsOut, 1);
                    return Ok((Outcome::Written, String::new()));
                }
                Class::NonRetryable => {
                    c.add(Counter::SamplesNonRetryableDropped, samples);
                    c.add(Counter::SamplesDropped, samples);
                    c.add(Counter::WriteRequestsPermanentlyFailed, 1);
                    let m = self.message("non-retryable answer", &attempt, samples, retries);
                    return Ok((Outcome::DroppedNonRetryable, m));
                }
                Class::Fatal => {
                    c.add(Counter::SamplesDropped, samples);
                    c.add(Counter::WriteRequestsPermanentlyFailed, 1);
                    let m = self.message("fatal", &attempt, samples, retries);
                    return Ok((Outcome::Failed, m));
                }
                Class::Retryable if retries >= self.retry.max_retries => {
                    c.add(Counter::SamplesDropped, samples);
                    c.add(Counter::WriteRequestsPermanentlyFailed, 1);
                    let m = self.message("retry limit reached", &attempt, samples, retries);
                    return Ok(match self.on_retry_limit {
                        OnRetryLimit::Fail => (Outcome::Failed, m),
                        OnRetryLimit::DiscardAndContinue => {
                            c.add(Counter::SamplesRetryLimitDropped, samples);
                            (Outcome::DroppedRetryLimit, m)
                        }
                    });
                }
                Class::Retryable => {
                    retries += 1;
                    c.add(Counter::WriteRequestsRetries, 1);
                    let retry_after = match &attempt {
                        Attempt::Answered { retry_after, .. } => *retry_after,
                        Attempt::NoAnswer { .. } => None,
                    };
                    self.wait(self.retry.delay(retries, retry_after))?;
                }
            }
        }
    }

    /// Sleeps for `delay` unless the client is closed first.
    fn wait(&self, delay: Duration) -> std::result::Result<(), Stopped> {
        match self.stop.recv_timeout(delay) {
            Err(RecvTimeoutError::Timeout) => Ok(()),
            _ => Err(Stopped),
        }
    }

    fn message(&self, what: &str, attempt: &Attempt, samples: u64, retries: u32) -> String {
        let endpoint = self.transport.endpoint();
        match attempt {
            Attempt::Answered { status, body, .. } => {
                let body = body.trim_end();
                let body = if body.is_empty() {
                    "empty response body".to_string()
                } else {
                    format!("response body: {body}")
                };
                format!(
                    "{what}: {endpoint} answered HTTP {status} after {retries} retries; \
                     {samples} samples not written; {body}"
                )
            }
            Attempt::NoAnswer { error, .. } => format!(
                "{what}: no answer from {endpoint} after {retries} retries ({error}); \
                 {samples} samples not written"
            ),
        }
    }
}
