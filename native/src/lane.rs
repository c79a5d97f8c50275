//! A sending lane: one worker thread with one request in flight. It takes the parts queued for
//! it in order, coalesces what is pending into one request (up to the max request size in
//! samples), sends it, retries it in place with backoff, and reports the outcome to every part.
//! Series are routed to lanes by a hash of their labels, so one series always uses one lane and
//! its samples stay in order.

use crate::classify::{classify_status, Class};
use crate::config::OnRetryLimit;
use crate::encode::prefix_within;
use crate::governor::LaneStats;
use crate::http::{Attempt, Transport, WireVersion};
use crate::metrics::{Counter, Counters};
use crate::part::{Ending, Outcome, Part};
use crate::request::{Protocol, RequestBody};
use crate::retry::{jitter, RetryPolicy};
use crate::router::Router;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The lane's settings and shared state.
pub struct Lane {
    /// Sends the requests.
    pub transport: Box<dyn Transport>,
    /// Backoff and retry limit.
    pub retry: RetryPolicy,
    /// What happens at the retry limit.
    pub on_retry_limit: OnRetryLimit,
    /// Upper bound of one coalesced request, in samples (a single larger part is sent alone).
    pub max_request_samples: u64,
    /// How long a request that is not full waits for more parts (the next batches' shares).
    pub linger: Duration,
    /// The client's counters.
    pub counters: Arc<Counters>,
    /// Disconnected when the client closes: ends any wait at once.
    pub stop: Receiver<()>,
    /// Where spent part buffers go back for reuse.
    pub spare: Sender<Vec<u8>>,
    /// Told when each part is done, for the generation barrier.
    pub router: Arc<Router>,
    /// Where the lane reports its requests and attempts.
    pub stats: Arc<LaneStats>,
    /// The Remote-Write version the client's lanes send.
    pub protocol: Arc<Protocol>,
}

/// The lane was stopped while a request was pending.
struct Stopped;

impl Lane {
    /// Serves `parts` until the client closes or drops its senders.
    pub fn run(mut self, parts: Receiver<Part>) {
        let mut body = RequestBody::default();
        let mut request = Vec::new();
        let mut carry: Option<Part> = None;
        loop {
            let first = match carry.take() {
                Some(p) => p,
                None => match parts.recv() {
                    Ok(p) => p,
                    Err(_) => return,
                },
            };
            if self.stopped() {
                return; // closing: abandon the pending parts
            }
            let (taken, samples, saturated) = self.fill(first, &parts, &mut carry);
            let result = if samples == 0 {
                Ok(Ending::default())
            } else {
                // A panic while sending fails this request's batches instead of ending the
                // lane, which would leave every batch with a part on it waiting for ever.
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let bytes: &[u8] = if taken.len() == 1 {
                        &taken[0].bytes
                    } else {
                        request.clear();
                        taken
                            .iter()
                            .for_each(|p| request.extend_from_slice(&p.bytes));
                        &request
                    };
                    self.deliver(bytes, samples, &mut body)
                }))
                .unwrap_or_else(|_| {
                    self.counters.add(Counter::SamplesDropped, samples);
                    self.counters
                        .add(Counter::WriteRequestsPermanentlyFailed, 1);
                    let m = format!("internal error while sending {samples} samples (panic)");
                    Ok(Ending::new(Outcome::Failed, m))
                })
            };
            let Ok(ending) = result else {
                return;
            };
            if samples > 0 {
                self.stats.request(samples, saturated);
            }
            let untold = Ending {
                message: String::new(),
                ..ending.clone()
            };
            for (i, part) in taken.into_iter().enumerate() {
                let Part {
                    bytes,
                    owner,
                    generation,
                    ..
                } = part;
                let _ = self.spare.try_send(bytes);
                // A dropped request is told (and so logged) once, with its first part; a failure
                // goes to every part, since each of their batches fails with it.
                let told = if i == 0 || ending.outcome == Outcome::Failed {
                    &ending
                } else {
                    &untold
                };
                // A panicking callback must not take the lane down with every later batch.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    owner.part_done(told)
                }));
                self.router.part_done(generation);
            }
        }
    }

    /// Cuts `part` after `at` bytes (`samples` samples): the rest is one more part to wait for.
    fn cut(&self, part: &mut Part, at: usize, samples: u64) -> Part {
        self.router.part_split(part.generation);
        part.split_off(at, samples)
    }

    /// The parts of the next request: `first`, then what is pending, up to the max request size
    /// in samples, waiting up to the linger time for more parts while the request is not full.
    /// Requests are filled exactly: a part that does not fit whole is cut after the series that
    /// fit, and its rest (or a part that does not fit at all) is left in `carry`. Also returns
    /// whether the request was full from parts already pending, without waiting (the lane is
    /// saturated: `governor.rs`).
    fn fill(
        &self,
        mut first: Part,
        parts: &Receiver<Part>,
        carry: &mut Option<Part>,
    ) -> (Vec<Part>, u64, bool) {
        let max = self.max_request_samples;
        if first.samples > max {
            // At least one series, even if larger than the max on its own (bytes that do not
            // parse as series are sent whole).
            let (at, n) = prefix_within(&first.bytes, max, true);
            if at > 0 && at < first.bytes.len() {
                *carry = Some(self.cut(&mut first, at, n));
            }
            let samples = first.samples;
            return (vec![first], samples, carry.is_some());
        }
        let deadline = Instant::now() + self.linger;
        let mut waited = false;
        let mut samples = first.samples;
        let mut taken = vec![first];
        while samples < max {
            let mut p = match parts.try_recv() {
                Ok(p) => p,
                Err(_) if self.linger.is_zero() => break,
                Err(_) => {
                    waited = true;
                    match parts.recv_deadline(deadline) {
                        Ok(p) => p,
                        Err(_) => break,
                    }
                }
            };
            if samples + p.samples <= max {
                samples += p.samples;
                taken.push(p);
                continue;
            }
            let (at, n) = prefix_within(&p.bytes, max - samples, false);
            if at > 0 && at < p.bytes.len() {
                *carry = Some(self.cut(&mut p, at, n));
                samples += n;
                taken.push(p);
            } else {
                *carry = Some(p);
            }
            break;
        }
        let more = carry.is_some() || !parts.is_empty();
        (taken, samples, more && samples >= max && !waited)
    }

    fn stopped(&self) -> bool {
        matches!(self.stop.try_recv(), Err(TryRecvError::Disconnected))
    }

    /// Sends the request holding the 1.0 entries `v1` (in the version the client speaks) until
    /// it is written, dropped or failed.
    fn deliver(
        &mut self,
        v1: &[u8],
        samples: u64,
        body: &mut RequestBody,
    ) -> Result<Ending, Stopped> {
        let mut retries = 0u32;
        let mut notice = String::new();
        let mut built = None;
        loop {
            let version = self.protocol.current();
            if built != Some(version) {
                if let Err(e) = body.build(v1, version) {
                    self.end(samples, 0);
                    let m = format!("internal error: cannot encode {samples} samples ({e})");
                    return Ok(Ending::new(Outcome::Failed, with_notice(&notice, m)));
                }
                built = Some(version);
            }
            let started = Instant::now();
            let attempt = self.transport.post(body.bytes(), version);
            self.stats.attempt(started.elapsed(), retries > 0);
            let (class, written) = match &attempt {
                Attempt::Answered {
                    status, written, ..
                } => {
                    if version == WireVersion::V2 && Protocol::refused_v2(*status, *written) {
                        // Nothing of it counts as written: send it again as 1.0, at once.
                        if self.protocol.fall_back() {
                            notice = self.fallback_notice(*status);
                        }
                        continue;
                    }
                    // Only a 2.0 answer says how much was written (partial writes).
                    let written = match version {
                        WireVersion::V2 => written.map(|w| w.min(samples)),
                        WireVersion::V1 => None,
                    };
                    (classify_status(*status), written)
                }
                Attempt::NoAnswer {
                    retryable: true, ..
                } => (Class::Retryable, None),
                Attempt::NoAnswer {
                    retryable: false, ..
                } => (Class::Fatal, None),
            };
            let c = &self.counters;
            match class {
                Class::Success => {
                    // A 2.0 receiver may write less than it was sent: the rest was refused.
                    let written = written.unwrap_or(samples);
                    self.end(samples, written);
                    if written == samples {
                        return Ok(Ending::new(Outcome::Written, notice));
                    }
                    c.add(Counter::SamplesNonRetryableDropped, samples - written);
                    let what = "refused in part";
                    let e = self.ending(what, &attempt, samples, written, retries, &notice);
                    return Ok(Ending {
                        outcome: Outcome::DroppedNonRetryable,
                        ..e
                    });
                }
                Class::NonRetryable => {
                    let written = written.unwrap_or(0);
                    self.end(samples, written);
                    c.add(Counter::SamplesNonRetryableDropped, samples - written);
                    let what = "non-retryable answer";
                    let e = self.ending(what, &attempt, samples, written, retries, &notice);
                    return Ok(Ending {
                        outcome: Outcome::DroppedNonRetryable,
                        ..e
                    });
                }
                Class::Fatal => {
                    let written = written.unwrap_or(0);
                    self.end(samples, written);
                    let e = self.ending("fatal", &attempt, samples, written, retries, &notice);
                    return Ok(Ending {
                        outcome: Outcome::Failed,
                        ..e
                    });
                }
                Class::Retryable if retries >= self.retry.max_retries => {
                    let written = written.unwrap_or(0);
                    self.end(samples, written);
                    let what = "retry limit reached";
                    let e = self.ending(what, &attempt, samples, written, retries, &notice);
                    let outcome = match self.on_retry_limit {
                        OnRetryLimit::Fail => Outcome::Failed,
                        OnRetryLimit::DiscardAndContinue => {
                            c.add(Counter::SamplesRetryLimitDropped, samples - written);
                            Outcome::DroppedRetryLimit
                        }
                    };
                    return Ok(Ending { outcome, ..e });
                }
                Class::Retryable => {
                    // Retried whole, also when a 2.0 receiver wrote part of it: a sample it
                    // already has comes back identical, which receivers accept.
                    retries += 1;
                    c.add(Counter::WriteRequestsRetries, 1);
                    let retry_after = match &attempt {
                        Attempt::Answered { retry_after, .. } => *retry_after,
                        Attempt::NoAnswer { .. } => None,
                    };
                    self.wait(self.retry.delay(retries, retry_after, jitter()))?;
                }
            }
        }
    }

    /// Counts a request that has ended with `written` of its `samples` written: the rest is
    /// dropped (the caller adds the counter naming why).
    fn end(&self, samples: u64, written: u64) {
        let c = &self.counters;
        if written > 0 {
            c.add(Counter::SamplesOut, written);
            c.add(Counter::WriteRequestsOut, 1);
        }
        if written < samples {
            c.add(Counter::SamplesDropped, samples - written);
            c.add(Counter::WriteRequestsPermanentlyFailed, 1);
        }
    }

    fn fallback_notice(&self, status: u16) -> String {
        let why = if status == 415 {
            String::from("HTTP 415")
        } else {
            format!("HTTP {status} without X-Prometheus-Remote-Write-Samples-Written")
        };
        format!(
            "{} answered a Remote-Write 2.0 request with {why}: it does not speak 2.0, so \
             nothing of it counts as written; sending Remote-Write 1.0 from now on \
             (setRemoteWriteVersion(V1) says so from the start)",
            self.transport.endpoint()
        )
    }

    /// Sleeps for `delay` unless the client is closed first.
    fn wait(&self, delay: Duration) -> Result<(), Stopped> {
        match self.stop.recv_timeout(delay) {
            Err(RecvTimeoutError::Timeout) => Ok(()),
            _ => Err(Stopped),
        }
    }

    /// The ending of a request that lost samples: its message (after `notice`, if any), and the
    /// status and body of the last answer. The caller sets the outcome.
    fn ending(
        &self,
        what: &str,
        attempt: &Attempt,
        samples: u64,
        written: u64,
        retries: u32,
        notice: &str,
    ) -> Ending {
        let endpoint = self.transport.endpoint();
        let lost = if written == 0 {
            format!("{samples} samples not written")
        } else {
            format!(
                "{} of {samples} samples not written (the receiver wrote {written})",
                samples - written
            )
        };
        match attempt {
            Attempt::Answered { status, body, .. } => {
                let body = body.trim_end();
                let shown = if body.is_empty() {
                    "empty response body".to_string()
                } else {
                    format!("response body: {body}")
                };
                let m = format!(
                    "{what}: {endpoint} answered HTTP {status} after {retries} retries; \
                     {lost}; {shown}"
                );
                Ending {
                    outcome: Outcome::Failed,
                    message: with_notice(notice, m),
                    status: *status,
                    body: body.to_string(),
                }
            }
            Attempt::NoAnswer { error, .. } => {
                let m = format!(
                    "{what}: no answer from {endpoint} after {retries} retries ({error}); {lost}"
                );
                Ending::new(Outcome::Failed, with_notice(notice, m))
            }
        }
    }
}

/// `message`, after the notice of a switch to Remote-Write 1.0 made while sending it.
fn with_notice(notice: &str, message: String) -> String {
    if notice.is_empty() {
        message
    } else {
        format!("{notice}. Then: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::part::PartDone;
    use crossbeam_channel::{bounded, unbounded};

    struct Unused;
    impl Transport for Unused {
        fn post(&mut self, _: &[u8], _: WireVersion) -> Attempt {
            unreachable!("fill never sends")
        }
        fn endpoint(&self) -> &str {
            "unused"
        }
    }

    struct Nobody;
    impl PartDone for Nobody {
        fn part_done(&self, _: &Ending) {}
        fn part_split(&self) {}
    }

    /// Answers every request with one status.
    struct Answers(u16);
    impl Transport for Answers {
        fn post(&mut self, _: &[u8], _: WireVersion) -> Attempt {
            Attempt::Answered {
                status: self.0,
                retry_after: None,
                body: "no".into(),
                written: None,
            }
        }
        fn endpoint(&self) -> &str {
            "http://receiver/w"
        }
    }

    /// Records what each part was told.
    #[derive(Default)]
    struct Told(parking_lot::Mutex<Vec<(Outcome, String)>>);
    impl PartDone for Told {
        fn part_done(&self, ending: &Ending) {
            self.0.lock().push((ending.outcome, ending.message.clone()));
        }
        fn part_split(&self) {}
    }

    /// Three parts pending before the lane starts, coalesced into one request, answered `status`.
    fn one_request_of_three_parts(status: u16) -> Vec<(Outcome, String)> {
        let (stop_tx, stop) = bounded::<()>(0);
        let (spare, _spare_rx) = bounded(8);
        let (tx, rx) = unbounded();
        let router = Arc::new(Router::new(vec![tx], 1));
        let told = Arc::new(Told::default());
        let mut encoder = crate::encode::Encoder::new();
        let mut parts = Vec::new();
        for i in 0..3 {
            encoder.clear();
            let value = [b'0' + i];
            let labels = [(&b"__name__"[..], &b"m"[..]), (&b"i"[..], &value[..])];
            encoder.push(&crate::validate::NormalSeries {
                labels: &labels,
                samples: crate::validate::Samples::Sorted(&[(1.0, 1)]),
            });
            parts.push((
                0,
                Part {
                    bytes: encoder.bytes().to_vec(),
                    samples: 1,
                    owner: told.clone(),
                    generation: 0,
                },
            ));
        }
        router.dispatch(parts).unwrap();
        router.close(); // the lane ends once it has sent what is queued
        let lane = Lane {
            transport: Box::new(Answers(status)),
            retry: RetryPolicy {
                initial_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(1),
                max_retries: 0,
            },
            on_retry_limit: OnRetryLimit::DiscardAndContinue,
            max_request_samples: 10,
            linger: Duration::ZERO,
            counters: Arc::new(Counters::default()),
            stop,
            spare,
            router,
            stats: Arc::new(LaneStats::default()),
            protocol: Arc::new(Protocol::new(WireVersion::V1)),
        };
        lane.run(rx);
        drop(stop_tx);
        let told = told.0.lock().clone();
        told
    }

    #[test]
    fn a_dropped_request_is_told_once_a_failed_one_to_every_part() {
        let dropped = one_request_of_three_parts(400);
        assert_eq!(dropped.len(), 3);
        assert!(dropped
            .iter()
            .all(|(o, _)| *o == Outcome::DroppedNonRetryable));
        assert!(dropped[0]
            .1
            .starts_with("non-retryable answer: http://receiver/w answered HTTP 400"));
        assert_eq!((dropped[1].1.as_str(), dropped[2].1.as_str()), ("", ""));
        let failed = one_request_of_three_parts(401);
        assert!(failed
            .iter()
            .all(|(o, m)| *o == Outcome::Failed && m.starts_with("fatal: ")));
    }

    #[test]
    fn bytes_that_do_not_parse_as_series_are_taken_whole_never_cut() {
        let (_stop_tx, stop) = bounded::<()>(0);
        let (spare, _spare_rx) = bounded(1);
        let (tx, _rx) = unbounded();
        let router = Arc::new(Router::new(vec![tx], 1));
        let lane = Lane {
            transport: Box::new(Unused),
            retry: RetryPolicy {
                initial_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(1),
                max_retries: 0,
            },
            on_retry_limit: OnRetryLimit::Fail,
            max_request_samples: 10,
            linger: Duration::ZERO,
            counters: Arc::new(Counters::default()),
            stop,
            spare,
            router,
            stats: Arc::new(LaneStats::default()),
            protocol: Arc::new(Protocol::new(WireVersion::V1)),
        };
        let garbage = |samples| Part {
            bytes: vec![0xff; 20],
            samples,
            owner: Arc::new(Nobody),
            generation: 0,
        };
        let (queued_tx, queued) = unbounded();
        let mut carry = None;
        // Larger than a request: sent whole instead of being cut into an empty head for ever.
        let (taken, samples, _) = lane.fill(garbage(50), &queued, &mut carry);
        assert_eq!((taken.len(), samples, taken[0].bytes.len()), (1, 50, 20));
        assert!(carry.is_none());
        // Not fitting behind another part: left whole for the next request.
        queued_tx.send(garbage(8)).unwrap();
        let (taken, samples, _) = lane.fill(garbage(5), &queued, &mut carry);
        assert_eq!((taken.len(), samples), (1, 5));
        assert_eq!(carry.map(|p| (p.samples, p.bytes.len())), Some((8, 20)));
    }
}
