//! One native client per Flink sink writer. `submit` prepares a batch on the caller's thread
//! (parse, validate, normalise, encode) and splits it by series into parts, one per active
//! sending lane (`hashing.rs`, `lane.rs`, `router.rs`); each lane sends in order with one request in flight,
//! so several batches can be in flight at once while every series keeps its order. The number
//! of active lanes adapts to the receiver (`governor::Governor`). A batch completes, through its
//! callback, when all its parts are done. Batches still pending when the client closes are
//! abandoned without a callback.

use crate::batch::BatchReader;
use crate::config::Config;
use crate::encode::Encoder;
use crate::error::{Error, Result};
use crate::governor::{Governor, LaneStats};
use crate::hashing::{jump, series_key};
use crate::http::Transport;
use crate::lane::Lane;
use crate::metrics::{Counter, Counters, COUNTERS};
pub use crate::part::Outcome;
use crate::part::{Ending, Part, PartDone};
use crate::request::Protocol;
use crate::router::Router;
use crate::validate::{Invalid, NormalSeries, Normalizer};
use crossbeam_channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the callback of a batch receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchResult {
    /// How it ended: the worst outcome of its parts.
    pub outcome: Outcome,
    /// For anything but `Written`: endpoint, status or error, and the response body (of the
    /// worst part).
    pub message: String,
    /// The HTTP status of the worst part's last answer; 0 when it had none (or was written).
    pub status: u16,
    /// The start of that answer's body; empty when none.
    pub body: String,
    /// Series of the batch rejected by validation (already counted).
    pub invalid: InvalidSummary,
    /// Counter values after this batch.
    pub counters: [u64; COUNTERS],
    /// Sending lanes in use when it completed, as `generation << 8 | active lanes`
    /// ([`Router::lanes_word`]).
    pub lanes: u64,
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

/// Called once when a batch is done, on a lane's thread.
pub type Completion = Box<dyn FnOnce(BatchResult) + Send>;

/// Collects the outcomes of the parts of one batch and completes it after the last.
struct Batch {
    remaining: AtomicUsize,
    /// The worst ending of its parts, and a notice that came with `Written` (the switch to
    /// Remote-Write 1.0), kept apart so that a worse outcome cannot hide it.
    worst: Mutex<(Ending, String)>,
    invalid: InvalidSummary,
    done: Mutex<Option<Completion>>,
    counters: Arc<Counters>,
    router: Arc<Router>,
}

impl PartDone for Batch {
    fn part_split(&self) {
        self.remaining.fetch_add(1, Ordering::AcqRel);
    }

    fn part_done(&self, ending: &Ending) {
        {
            let mut worst = self.worst.lock();
            if ending.outcome == Outcome::Written && !ending.message.is_empty() {
                worst.1 = ending.message.clone();
            } else if ending.outcome > worst.0.outcome {
                worst.0 = ending.clone();
            }
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let (worst, notice) = std::mem::take(&mut *self.worst.lock());
            let message = match (notice.is_empty(), worst.message.is_empty()) {
                (true, _) => worst.message,
                (false, true) => notice,
                (false, false) => format!("{notice}. Then: {}", worst.message),
            };
            if let Some(done) = self.done.lock().take() {
                done(BatchResult {
                    outcome: worst.outcome,
                    message,
                    status: worst.status,
                    body: worst.body,
                    invalid: self.invalid.clone(),
                    counters: self.counters.snapshot(),
                    lanes: self.router.lanes_word(),
                });
            }
        }
    }
}

/// A Remote-Write client with one or more sending lanes.
pub struct Client {
    // One encoder per lane, reused from batch to batch, the governor of the lane count and the
    // lane threads: one lock, so that a batch is routed with the lane count it was split for,
    // onto lanes whose threads run.
    encoders: Mutex<(Vec<Encoder>, Governor, LaneThreads)>,
    counters: Arc<Counters>,
    router: Arc<Router>,
    stats: Arc<LaneStats>,
    closed: bool,
    spare: Receiver<Vec<u8>>,
    // Dropped on close: wakes every lane from any backoff wait at once.
    stop: Option<Sender<()>>,
    // Disconnected when every lane thread has ended (and the client has let go of its sender).
    workers_done: Receiver<()>,
    close_grace: Duration,
}

/// A lane and its queue, before its thread starts.
type UnstartedLane = (Lane, Receiver<Part>);

/// The lanes' threads, started when a lane is first put in use: a client whose adaptive lanes
/// stay at one runs one thread, whatever its maximum.
struct LaneThreads {
    unstarted: Vec<Option<UnstartedLane>>,
    started: Vec<JoinHandle<()>>,
    // Each thread holds a clone until it ends; taken on close.
    done: Option<Sender<()>>,
    thread_name: String,
    on_start: Arc<dyn Fn() + Send + Sync>,
}

impl LaneThreads {
    /// Starts the threads of lanes `0..lanes` that have none yet.
    fn start_up_to(&mut self, lanes: usize) -> Result<()> {
        for i in 0..lanes.min(self.unstarted.len()) {
            let (Some((lane, parts)), Some(done)) = (self.unstarted[i].take(), self.done.clone())
            else {
                continue;
            };
            let on_start = self.on_start.clone();
            let (ready, started) = bounded::<()>(1);
            let handle = std::thread::Builder::new()
                .name(format!("{}.{i}", self.thread_name))
                .spawn(move || {
                    let _done = done; // dropped when this thread ends, however it ends
                    on_start();
                    let _ = ready.send(());
                    lane.run(parts);
                })
                .map_err(|e| Error::Jni(format!("cannot start a sender thread: {e}")))?;
            // A lane is in use once its thread has started (attached to the JVM, named): what
            // the caller sees after this returns is every thread of the lanes in use.
            let _ = started.recv();
            self.started.push(handle);
        }
        Ok(())
    }
}

impl Client {
    /// A client with one lane per transport, its threads named `thread_name.N`. `on_start` runs
    /// first on every lane thread (the JNI layer attaches it to the JVM there).
    pub fn new(
        config: &Config,
        transports: Vec<Box<dyn Transport>>,
        thread_name: String,
        on_start: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<Client> {
        if transports.is_empty() {
            return Err(Error::config("a client needs at least one lane"));
        }
        let counters = Arc::new(Counters::default());
        let (spare_tx, spare_rx) = bounded::<Vec<u8>>(4 * transports.len());
        let (stop_tx, stop_rx) = bounded::<()>(0);
        let (done_tx, done_rx) = bounded::<()>(0);
        let max = transports.len();
        let receivers: Vec<Receiver<Part>>;
        let router = {
            let (senders, rx): (Vec<_>, Vec<_>) = (0..max).map(|_| unbounded::<Part>()).unzip();
            receivers = rx;
            // Adaptive lanes start with one and double while saturated (the batches in flight
            // follow, so what is pending stays small and a change settles in a few round trips).
            let first = if config.adaptive_lanes { 1 } else { max };
            Arc::new(Router::new(senders, first))
        };
        let stats = Arc::new(LaneStats::default());
        let protocol = Arc::new(Protocol::new(config.remote_write));
        let mut unstarted = Vec::new();
        let mut encoders = Vec::new();
        for (transport, parts_rx) in transports.into_iter().zip(receivers) {
            let lane = Lane {
                transport,
                retry: config.retry,
                on_retry_limit: config.on_retry_limit,
                max_request_samples: config.max_request_samples,
                linger: config.linger,
                counters: counters.clone(),
                stop: stop_rx.clone(),
                spare: spare_tx.clone(),
                router: router.clone(),
                stats: stats.clone(),
                protocol: protocol.clone(),
            };
            unstarted.push(Some((lane, parts_rx)));
            encoders.push(Encoder::new());
        }
        let mut threads = LaneThreads {
            unstarted,
            started: Vec::new(),
            done: Some(done_tx),
            thread_name,
            on_start,
        };
        threads.start_up_to(router.active())?;
        let governor = Governor::new(
            max,
            config.adaptive_lanes,
            config.max_request_samples,
            Instant::now(),
        );
        Ok(Client {
            encoders: Mutex::new((encoders, governor, threads)),
            counters,
            router,
            stats,
            closed: false,
            spare: spare_rx,
            stop: Some(stop_tx),
            workers_done: done_rx,
            close_grace: close_grace(config.socket_timeout),
        })
    }

    /// Parses, validates and encodes `batch` on the calling thread, then queues its parts on
    /// the lanes; `done` is called when every part is written, dropped or failed. A malformed
    /// batch is an error and nothing of it is sent (nor is `done` called).
    pub fn submit(&self, batch: &[u8], done: Completion) -> Result<()> {
        if self.closed {
            return Err(Error::Closed);
        }
        let mut guard = self.encoders.lock();
        let (encoders, governor, threads) = &mut *guard;
        let active = self.router.active();
        let wanted = governor.decide(active, self.router.settling(), &self.stats, Instant::now());
        let active = self.router.resize(wanted);
        threads.start_up_to(active)?;
        let (parts, invalid) = {
            let invalid = encode_batch_lanes(batch, &mut encoders[..active])?;
            let parts: Vec<(usize, Vec<u8>, u64)> = encoders[..active]
                .iter_mut()
                .enumerate()
                .filter(|(_, e)| e.series() > 0)
                .map(|(lane, e)| {
                    let samples = e.samples() as u64;
                    let spare = self.spare.try_recv().unwrap_or_default();
                    (lane, e.take_bytes(spare), samples)
                })
                .collect();
            (parts, invalid)
        };
        if invalid.series > 0 {
            self.counters
                .add(Counter::SamplesInvalidDropped, invalid.samples);
            self.counters.add(Counter::SamplesDropped, invalid.samples);
        }
        // A batch with nothing valid still completes through a lane, after what precedes it.
        let parts = if parts.is_empty() {
            vec![(0, Vec::new(), 0)]
        } else {
            parts
        };
        let owner = Arc::new(Batch {
            remaining: AtomicUsize::new(parts.len()),
            worst: Mutex::new(Default::default()),
            invalid,
            done: Mutex::new(Some(done)),
            counters: self.counters.clone(),
            router: self.router.clone(),
        });
        let parts = parts.into_iter().map(|(lane, bytes, samples)| {
            let part = Part {
                bytes,
                samples,
                owner: owner.clone(),
                generation: 0, // set by the router
            };
            (lane, part)
        });
        self.router.dispatch(parts)
    }

    /// Number of sending lanes: the most that can be in use.
    pub fn lanes(&self) -> usize {
        self.encoders.lock().0.len()
    }

    /// Sending lanes in use now.
    pub fn active_lanes(&self) -> usize {
        self.router.active()
    }

    /// Current counter values.
    pub fn counters(&self) -> [u64; COUNTERS] {
        self.counters.snapshot()
    }

    /// Stops the lanes (abandoning queued parts and any backoff wait) and joins them once the
    /// requests in progress, if any, have ended. Idempotent. Never hangs: a request that
    /// outlives the grace period (possible only without a socket timeout) is left to end on its
    /// own thread, which then exits; it holds no reference to this client.
    pub fn close(&mut self) {
        self.closed = true;
        self.router.close();
        self.stop = None;
        let workers = {
            let mut guard = self.encoders.lock();
            let threads = &mut guard.2;
            threads.done = None;
            threads.unstarted.clear();
            std::mem::take(&mut threads.started)
        };
        if workers.is_empty() {
            return;
        }
        match self.workers_done.recv_timeout(self.close_grace) {
            Err(RecvTimeoutError::Timeout) => drop(workers), // detached
            _ => workers.into_iter().for_each(|w| {
                let _ = w.join();
            }),
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
    encode_batch_lanes(batch, std::slice::from_mut(encoder))
}

/// Encodes every valid series of `batch` into the encoder of its lane (all cleared first; the
/// lane is [`lane_of`] its labels among `encoders.len()`) and describes the invalid ones.
pub fn encode_batch_lanes(batch: &[u8], encoders: &mut [Encoder]) -> Result<InvalidSummary> {
    let mut reader = BatchReader::new(batch)?;
    let mut normalizer = Normalizer::new();
    let mut invalid = InvalidSummary::default();
    encoders.iter_mut().for_each(Encoder::clear);
    while let Some(series) = reader.next_series() {
        let series = series?;
        match normalizer.normalise(&series) {
            Ok(normal) => {
                if !normal.samples.is_empty() {
                    let lane = lane_of(&normal, encoders.len());
                    encoders[lane].push(&normal)
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

/// The lane of a series among `lanes`: a consistent hash of its sorted labels
/// ([`series_key`], [`jump`]), so that one series always takes one lane.
pub fn lane_of(series: &NormalSeries<'_, '_>, lanes: usize) -> usize {
    if lanes <= 1 {
        return 0;
    }
    jump(
        series_key(series.labels.iter().map(|(n, v)| (*n, *v))),
        lanes,
    )
}

fn describe(reason: Invalid, metric: &[u8]) -> String {
    let name: String = String::from_utf8_lossy(metric).chars().take(200).collect();
    format!("{reason} (metric name {name:?})")
}
