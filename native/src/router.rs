//! Which lane sends a series, and how many lanes are active.
//!
//! A series goes to lane `jump(hash(labels), active)`: jump consistent hashing (Lamping and
//! Veach, 2014), so when `active` grows from `k` to `m` a series either keeps its lane or moves
//! to one of the new lanes `k..m`, and when it shrinks only the series of the removed lanes move.
//!
//! The number of active lanes adapts to the receiver (`Governor`): raised (at most doubled) when
//! the lanes are saturated, that is when most requests could not take everything pending, and
//! kept only if the throughput grew; lowered when the traffic would fit into fewer lanes at half
//! their capacity. A lane's capacity is one full request (`max_request_samples`) per round trip,
//! measured as the mean duration of an attempt.
//!
//! Order across a change (`Router`): a change starts a new generation. While parts of the old
//! generation are pending, new parts for lanes that may receive moved series are held back (on
//! growth: the new lanes; on shrinking: every lane) and released, in order, when the last old
//! part is done. Only one change is in progress at a time.

use crate::error::{Error, Result};
use crate::lane::Part;
use crossbeam_channel::Sender;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// FNV-1a over a series' sorted labels, each name and value followed by 0xff.
pub fn series_key<'a>(labels: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes.iter().chain(&[0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for (name, value) in labels {
        eat(name);
        eat(value);
    }
    h
}

/// Jump consistent hash: the lane of `key` among `lanes` (at least 1).
pub fn jump(mut key: u64, lanes: usize) -> usize {
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < lanes as i64 {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b.max(0) as usize
}

/// What the lanes report, accumulated until the governor takes it.
#[derive(Debug, Default)]
pub struct LaneStats {
    requests: AtomicU64,
    samples: AtomicU64,
    saturated: AtomicU64,
    attempts: AtomicU64,
    attempt_nanos: AtomicU64,
    retries: AtomicU64,
}

/// One window of [`LaneStats`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Requests finished (written, dropped or failed).
    pub requests: u64,
    /// Samples in them.
    pub samples: u64,
    /// Requests that left parts pending because they were full.
    pub saturated: u64,
    /// HTTP attempts, and their total duration.
    pub attempts: u64,
    /// Total duration of the attempts, in nanoseconds.
    pub attempt_nanos: u64,
    /// Attempts that were retries.
    pub retries: u64,
}

impl LaneStats {
    /// One finished request of `samples`; `saturated` if parts were left pending behind it.
    pub fn request(&self, samples: u64, saturated: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.samples.fetch_add(samples, Ordering::Relaxed);
        if saturated {
            self.saturated.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One HTTP attempt that took `took`; `retry` if it was not the first of its request.
    pub fn attempt(&self, took: Duration, retry: bool) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.attempt_nanos.fetch_add(nanos, Ordering::Relaxed);
        if retry {
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Everything since the last call.
    pub fn take(&self) -> Window {
        let t = |a: &AtomicU64| a.swap(0, Ordering::Relaxed);
        Window {
            requests: t(&self.requests),
            samples: t(&self.samples),
            saturated: t(&self.saturated),
            attempts: t(&self.attempts),
            attempt_nanos: t(&self.attempt_nanos),
            retries: t(&self.retries),
        }
    }
}

/// How long the governor observes before deciding.
pub const WINDOW: Duration = Duration::from_millis(200);
/// Consecutive windows that must all ask for fewer lanes before the count is lowered (by half
/// at most, so that a few slow windows, such as retry stalls, cannot undo a ramp-up at once).
pub const LOWER_AFTER_WINDOWS: u32 = 5;

/// What one window asks for: twice as many lanes if most requests were saturated (full, with
/// more pending), else the number that would carry its traffic with each lane at most half
/// full.
pub fn wanted_lanes(
    active: usize,
    max: usize,
    w: &Window,
    elapsed: Duration,
    max_request: u64,
) -> usize {
    if w.requests == 0 || w.attempts == 0 || elapsed.is_zero() {
        return active;
    }
    if w.saturated * 2 >= w.requests {
        return (active * 2).clamp(1, max.max(active));
    }
    // samples/s x seconds per attempt = samples per round trip; a lane carries max_request.
    let round_trip = w.attempt_nanos as f64 / w.attempts as f64;
    let per_round_trip = w.samples as f64 * round_trip / elapsed.as_nanos() as f64;
    let needed = (per_round_trip / (max_request.max(1) as f64 / 2.0)).ceil() as usize;
    needed.clamp(1, max)
}

/// How long a raise that did not pay keeps the count from being raised again.
pub const COOL_DOWN: Duration = Duration::from_secs(30);
/// Windows over which a raise's throughput is measured, after one window to settle.
pub const TRIAL_WINDOWS: u32 = 2;

/// The throughput gain that keeps a raise from `from` to `to` lanes: a little over a third of
/// what the extra lanes would give if the lanes were purely waiting on the network (doubling:
/// +35%, 8 to 12: +17.5%).
pub fn gain_needed(from: usize, to: usize) -> f64 {
    1.0 + 0.35 * (to - from) as f64 / from as f64
}

/// A raise on probation: kept only if it raised the throughput.
#[derive(Debug, Clone, Copy)]
struct Trial {
    from: usize,
    to: usize,
    // Samples/s before the raise.
    baseline: f64,
    // Windows seen since the raise (the first only settles), the best rate of the others, and
    // whether any of them had retries.
    windows: u32,
    best: f64,
    retried: bool,
}

/// Decides the number of active lanes from the lanes' statistics, window by window.
///
/// A raise is a trial: one window lets the change settle, the next [`TRIAL_WINDOWS`] measure
/// the throughput, and unless the best of them beats the better of the two windows before the
/// raise by [`gain_needed`], the count goes back and stays at most there for [`COOL_DOWN`].
/// Comparing best with best keeps a stall from deciding either way. Windows with retries (the
/// receiver throttling or failing) judge nothing: a raise is kept and the count not lowered. Saturated lanes are not always
/// waiting on the network: when the CPU is the limit (a fast receiver on the same cores), or the
/// receiver throttles, more lanes only make requests smaller or refusals more frequent.
#[derive(Debug)]
pub struct Governor {
    max: usize,
    adaptive: bool,
    max_request: u64,
    window_start: Instant,
    lower_votes: u32,
    trial: Option<Trial>,
    // The last window: its lane count, its samples/s, whether its lanes were saturated.
    last: Option<(usize, f64, bool)>,
    cap: usize,
    cap_until: Instant,
}

impl Governor {
    /// Adapts between 1 and `max` lanes, or keeps `max` if not `adaptive`.
    pub fn new(max: usize, adaptive: bool, max_request: u64, now: Instant) -> Governor {
        Governor {
            max,
            adaptive,
            max_request,
            window_start: now,
            lower_votes: 0,
            trial: None,
            last: None,
            cap: max,
            cap_until: now,
        }
    }

    /// The lanes to use from now on, given the current `active` count and whether the router
    /// is still `settling` a change; reads `stats` once a window is complete.
    pub fn decide(
        &mut self,
        active: usize,
        settling: bool,
        stats: &LaneStats,
        now: Instant,
    ) -> usize {
        let elapsed = now.saturating_duration_since(self.window_start);
        if !self.adaptive || elapsed < WINDOW {
            return active;
        }
        self.window_start = now;
        let window = stats.take();
        let rate = window.samples as f64 / elapsed.as_secs_f64();
        let saturated = window.requests > 0 && window.saturated * 2 >= window.requests;
        let last = self.last.replace((active, rate, saturated));
        if let Some(mut trial) = self.trial.take() {
            if active == trial.to && settling {
                // New lanes still wait for the old generation: nothing to judge yet.
                self.trial = Some(trial);
                return active;
            }
            if active == trial.to {
                trial.windows += 1;
                if trial.windows > 1 {
                    trial.best = trial.best.max(rate);
                    trial.retried |= window.retries > 0;
                }
                if trial.windows <= TRIAL_WINDOWS {
                    self.trial = Some(trial);
                    return active;
                }
                // No gain: the bottleneck is elsewhere (CPU, the receiver's limits), or the
                // traffic fell; either way fewer lanes do as well. Windows with retries are too
                // noisy (a lane in backoff stalls the batches in flight) to judge: kept.
                if !trial.retried && trial.best < trial.baseline * gain_needed(trial.from, trial.to)
                {
                    self.cap = trial.from;
                    self.cap_until = now + COOL_DOWN;
                    self.lower_votes = 0;
                    self.last = None;
                    return trial.from;
                }
            }
        }
        if self.cap < self.max && now >= self.cap_until {
            self.cap = self.max;
        }
        let mut wanted =
            wanted_lanes(active, self.cap, &window, elapsed, self.max_request).min(active * 2);
        if wanted > active {
            // Raise only after two windows at this count whose lanes were both saturated or
            // both not, against the better of the two: a throughput still climbing (job
            // start-up) must not pass for a gain of the raise.
            match last {
                Some((a, before, was_saturated)) if a == active && was_saturated == saturated => {
                    self.trial = Some(Trial {
                        from: active,
                        to: wanted,
                        baseline: before.max(rate),
                        windows: 0,
                        best: 0.0,
                        retried: false,
                    });
                    self.last = None;
                }
                _ => wanted = active,
            }
        }
        if wanted >= active || window.retries > 0 {
            // Not lowered while the receiver makes lanes retry: slow windows then say little.
            self.lower_votes = 0;
            return wanted.max(active);
        }
        self.lower_votes += 1;
        if self.lower_votes < LOWER_AFTER_WINDOWS {
            return active;
        }
        self.lower_votes = 0;
        self.last = None;
        wanted.max(active.div_ceil(2))
    }
}

/// Routes parts to the lanes' queues, holding back those that must wait for a change of the
/// lane count to settle.
pub struct Router {
    state: Mutex<RouterState>,
    // generation << 8 | active lanes (at most 255), readable without the lock.
    word: AtomicU64,
}

struct RouterState {
    lanes: Vec<Sender<Part>>,
    generation: u64,
    // Parts not yet done, by generation parity.
    pending: [usize; 2],
    // While the previous generation has pending parts, new parts for lanes >= held_from wait.
    held_from: usize,
    held: Vec<(usize, Part)>,
}

impl Router {
    /// Routes to `lanes`, `active` of them in use at first.
    pub fn new(lanes: Vec<Sender<Part>>, active: usize) -> Router {
        Router {
            word: AtomicU64::new(active.clamp(1, lanes.len().clamp(1, 255)) as u64),
            state: Mutex::new(RouterState {
                lanes,
                generation: 0,
                pending: [0, 0],
                held_from: 0,
                held: Vec::new(),
            }),
        }
    }

    /// Lanes in use.
    pub fn active(&self) -> usize {
        (self.word.load(Ordering::Relaxed) & 0xff) as usize
    }

    /// `generation << 8 | active lanes`: ordered, so that of two reports the later generation
    /// wins (completions of different lanes can arrive out of order).
    pub fn lanes_word(&self) -> u64 {
        self.word.load(Ordering::Relaxed)
    }

    /// Whether parts of the previous generation are still pending (a change is settling).
    pub fn settling(&self) -> bool {
        let s = self.state.lock();
        s.pending[((s.generation + 1) % 2) as usize] > 0
    }

    /// Switches to `wanted` lanes if it differs and no earlier change is still settling;
    /// returns the lanes in use.
    pub fn resize(&self, wanted: usize) -> usize {
        let mut s = self.state.lock();
        let active = self.active();
        let wanted = wanted.clamp(1, s.lanes.len().clamp(1, 255));
        let previous = (s.generation + 1) % 2;
        if wanted == active || s.pending[previous as usize] > 0 || !s.held.is_empty() {
            return active;
        }
        s.generation += 1;
        // The new generation's slot is the settled one before the last: zero.
        s.held_from = if wanted > active { active } else { 0 };
        self.word
            .store(s.generation << 8 | wanted as u64, Ordering::Relaxed);
        wanted
    }

    /// Queues `parts` (lane, part) in order, as parts of the current generation.
    pub fn dispatch(&self, parts: impl IntoIterator<Item = (usize, Part)>) -> Result<()> {
        let mut s = self.state.lock();
        if s.lanes.is_empty() {
            return Err(Error::Closed);
        }
        let current = (s.generation % 2) as usize;
        let settling = s.pending[1 - current] > 0;
        for (lane, mut part) in parts {
            part.generation = s.generation;
            s.pending[current] += 1;
            if settling && lane >= s.held_from {
                s.held.push((lane, part));
            } else {
                let _ = s.lanes[lane].send(part);
            }
        }
        Ok(())
    }

    /// A part of `generation` was split in two: one more to wait for.
    pub fn part_split(&self, generation: u64) {
        self.state.lock().pending[(generation % 2) as usize] += 1;
    }

    /// A part of `generation` is done; the last part of a previous generation releases what
    /// was held.
    pub fn part_done(&self, generation: u64) {
        let mut s = self.state.lock();
        let slot = (generation % 2) as usize;
        debug_assert!(s.pending[slot] > 0, "a part done twice");
        s.pending[slot] = s.pending[slot].saturating_sub(1);
        if generation != s.generation && s.pending[slot] == 0 {
            let held = std::mem::take(&mut s.held);
            for (lane, part) in held {
                if let Some(tx) = s.lanes.get(lane) {
                    let _ = tx.send(part);
                }
            }
        }
    }

    /// Disconnects every lane (their threads end) and abandons held parts.
    pub fn close(&self) {
        let mut s = self.state.lock();
        s.lanes.clear();
        s.held.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lane::{Ending, PartDone};
    use crossbeam_channel::{unbounded, Receiver};
    use std::sync::Arc;

    struct Nobody;
    impl PartDone for Nobody {
        fn part_done(&self, _: &Ending) {}
        fn part_split(&self) {}
    }

    fn keys() -> impl Iterator<Item = u64> {
        (0..20_000u64).map(|i| series_key([(b"device".as_slice(), i.to_string().as_bytes())]))
    }

    #[test]
    fn jump_spreads_evenly_and_moves_series_only_to_or_from_changed_lanes() {
        for lanes in [1, 2, 3, 12, 64] {
            let mut per_lane = vec![0usize; lanes];
            keys().for_each(|k| per_lane[jump(k, lanes)] += 1);
            // Within 5 standard deviations of a fair split (binomial).
            let expected = 20_000 / lanes;
            let tolerance = 5.0 * (expected as f64).sqrt();
            for n in per_lane {
                let off = n.abs_diff(expected) as f64;
                assert!(off <= tolerance, "{n} vs {expected} of {lanes}");
            }
        }
        for (from, to) in [(1, 2), (2, 4), (4, 8), (8, 12), (3, 7)] {
            for k in keys() {
                let (a, b) = (jump(k, from), jump(k, to));
                assert!(a == b || b >= from, "growing {from}->{to} moved {a} to {b}");
            }
        }
        // The same key stays put when the count does not change, and 1 lane is lane 0.
        assert!(keys().all(|k| jump(k, 12) == jump(k, 12) && jump(k, 1) == 0));
    }

    fn window(requests: u64, samples: u64, saturated: u64, rtt_ms: u64, retries: u64) -> Window {
        Window {
            requests,
            samples,
            saturated,
            attempts: requests + retries,
            attempt_nanos: (requests + retries) * rtt_ms * 1_000_000,
            retries,
        }
    }

    #[test]
    fn saturated_lanes_double() {
        let second = Duration::from_secs(1);
        let w = window(20, 10_000, 10, 50, 0);
        assert_eq!(wanted_lanes(1, 12, &w, second, 500), 2);
        assert_eq!(wanted_lanes(4, 12, &w, second, 500), 8);
        assert_eq!(wanted_lanes(8, 12, &w, second, 500), 12);
        assert_eq!(wanted_lanes(12, 12, &w, second, 500), 12);
        // Retries do not change the wish; the trial of the raise decides.
        let throttled = window(20, 10_000, 10, 50, 1);
        assert_eq!(wanted_lanes(4, 12, &throttled, second, 500), 8);
        // Fewer than half saturated: sized by the traffic instead.
        let w = window(20, 10_000, 9, 50, 0);
        assert_eq!(wanted_lanes(4, 12, &w, second, 500), 2);
    }

    #[test]
    fn the_wanted_lanes_carry_the_traffic_at_half_capacity() {
        let second = Duration::from_secs(1);
        // 100,000 samples/s at 50 ms per attempt: 5,000 per round trip, 250 per lane -> 20 (max 12).
        let distant = window(200, 100_000, 0, 50, 0);
        assert_eq!(wanted_lanes(12, 12, &distant, second, 500), 12);
        // 8,000 samples/s at 50 ms: 400 per round trip -> 2 lanes.
        let modest = window(20, 8_000, 0, 50, 0);
        assert_eq!(wanted_lanes(12, 12, &modest, second, 500), 2);
        // 1.3 M samples/s at 0.1 ms: 130 per round trip -> 1 lane.
        let local = Window {
            requests: 2_600,
            samples: 1_300_000,
            saturated: 0,
            attempts: 2_600,
            attempt_nanos: 2_600 * 100_000,
            retries: 0,
        };
        assert_eq!(wanted_lanes(12, 12, &local, second, 500), 1);
        // No finished request: no opinion.
        assert_eq!(wanted_lanes(5, 12, &Window::default(), second, 500), 5);
    }

    /// One window of `requests` requests of `samples` samples each, all saturated or none.
    fn report(stats: &LaneStats, requests: u64, samples: u64, saturated: bool, rtt_ms: u64) {
        for _ in 0..requests {
            stats.request(samples, saturated);
            stats.attempt(Duration::from_millis(rtt_ms), false);
        }
    }

    #[test]
    fn the_governor_lowers_only_after_consecutive_windows_and_not_when_fixed() {
        let stats = LaneStats::default();
        let t0 = Instant::now();
        let mut g = Governor::new(12, true, 500, t0);
        let mut t = t0;
        let mut active = 12;
        let mut decided = Vec::new();
        for _ in 0..12 {
            report(&stats, 1, 100, false, 1);
            assert_eq!(g.decide(active, false, &stats, t + WINDOW / 2), active); // window not over
            t += WINDOW;
            active = g.decide(active, false, &stats, t);
            decided.push(active);
        }
        // Five windows per step, at most halving: 12 -> 6 -> 3.
        assert_eq!(decided, [12, 12, 12, 12, 6, 6, 6, 6, 6, 3, 3, 3]);
        // A window that wants as many lanes in between resets the votes.
        let mut g = Governor::new(12, true, 500, t);
        let busy = [false, false, false, true, false, false, false, false, false];
        let expected = [12, 12, 12, 12, 12, 12, 12, 12, 6];
        for (busy, expected) in busy.into_iter().zip(expected) {
            // Busy: 3,200 samples per 200 ms round trip need 13 half-full lanes.
            let (samples, rtt) = if busy { (400, 200) } else { (10, 50) };
            report(&stats, 8, samples, false, rtt);
            t += WINDOW;
            assert_eq!(g.decide(12, false, &stats, t), expected, "busy {busy}");
        }
        let mut fixed = Governor::new(12, false, 500, t0);
        report(&stats, 1, 100, false, 1);
        assert_eq!(fixed.decide(12, false, &stats, t0 + WINDOW * 10), 12);
    }

    #[test]
    fn a_raise_is_kept_only_if_the_throughput_grows() {
        let stats = LaneStats::default();
        let t0 = Instant::now();
        let mut g = Governor::new(12, true, 500, t0);
        let mut t = t0;
        let next = |g: &mut Governor, t: &mut Instant, active, requests| {
            report(&stats, requests, 500, true, 50);
            *t += WINDOW;
            g.decide(active, false, &stats, *t)
        };
        // Two saturated windows at one lane, then a raise.
        assert_eq!(next(&mut g, &mut t, 1, 4), 1);
        assert_eq!(next(&mut g, &mut t, 1, 4), 2);
        // Waiting on the network: 2 lanes carry twice as much, the raise stays and goes on.
        assert_eq!(next(&mut g, &mut t, 2, 6), 2); // settling
        assert_eq!(next(&mut g, &mut t, 2, 8), 2); // measuring
        assert_eq!(next(&mut g, &mut t, 2, 8), 4); // 8 >= 4 x 1.35: kept, and raised again
        for _ in 0..2 {
            assert_eq!(next(&mut g, &mut t, 4, 9), 4);
        }
        // CPU-bound: 4 lanes carry no more than 2 did; back to 2, and no raise for a while.
        assert_eq!(next(&mut g, &mut t, 4, 9), 2);
        for _ in 0..10 {
            assert_eq!(next(&mut g, &mut t, 2, 8), 2);
        }
        t += COOL_DOWN;
        assert_eq!(next(&mut g, &mut t, 2, 8), 4);
        // A raise the router refused (still settling) is no trial: asked again after two more
        // saturated windows.
        assert_eq!(next(&mut g, &mut t, 2, 8), 2);
        assert_eq!(next(&mut g, &mut t, 2, 8), 4);
        for _ in 0..2 {
            assert_eq!(next(&mut g, &mut t, 4, 16), 4);
        }
        // The baseline is the better of the last two windows at 2 lanes: 16 >= 8 x 1.35.
        assert_eq!(next(&mut g, &mut t, 4, 16), 8);
        // With retries in the measured windows a trial is kept, and nothing is lowered.
        let mut g2 = Governor::new(12, true, 500, t);
        let mut t2 = t;
        let mut throttled = |g: &mut Governor, active| {
            stats.request(500, true);
            stats.attempt(Duration::from_millis(50), false);
            stats.attempt(Duration::from_millis(50), true);
            t2 += WINDOW;
            g.decide(active, false, &stats, t2)
        };
        assert_eq!(throttled(&mut g2, 2), 2);
        assert_eq!(throttled(&mut g2, 2), 4);
        // No gain, but kept: after settling and two windows, still saturated, raised again.
        let after: Vec<usize> = (0..3).map(|_| throttled(&mut g2, 4)).collect();
        assert_eq!(after, [4, 4, 8]);
        // The traffic falls during a trial: no gain, back to 4; then lowered as usual.
        let mut light = |active| {
            report(&stats, 2, 100, false, 50);
            t += WINDOW;
            g.decide(active, false, &stats, t)
        };
        assert_eq!([light(8), light(8), light(8)], [8, 8, 4]);
        assert_eq!(
            [light(4), light(4), light(4), light(4), light(4)],
            [4, 4, 4, 4, 2]
        );
        assert!((gain_needed(8, 12) - 1.175).abs() < 1e-12);
    }

    fn part(generation: u64, tag: u64) -> Part {
        Part {
            bytes: Vec::new(),
            samples: tag,
            owner: Arc::new(Nobody),
            generation,
        }
    }

    fn router(lanes: usize, active: usize) -> (Router, Vec<Receiver<Part>>) {
        let (tx, rx): (Vec<_>, Vec<_>) = (0..lanes).map(|_| unbounded()).unzip();
        (Router::new(tx, active), rx)
    }

    fn queued(rx: &Receiver<Part>) -> Vec<u64> {
        rx.try_iter().map(|p| p.samples).collect()
    }

    #[test]
    fn growing_holds_only_the_new_lanes_until_the_old_generation_is_done() {
        let (r, rx) = router(4, 2);
        r.dispatch([(0, part(0, 1)), (1, part(0, 2))]).unwrap();
        assert_eq!(r.lanes_word(), 2);
        assert_eq!(r.resize(4), 4);
        assert_eq!(r.lanes_word(), 1 << 8 | 4);
        r.dispatch((0..4).map(|lane| (lane, part(1, 10 + lane as u64))))
            .unwrap();
        // Old lanes flow at once; new lanes wait.
        assert_eq!(queued(&rx[0]), [1, 10]);
        assert_eq!(queued(&rx[1]), [2, 11]);
        assert!(queued(&rx[2]).is_empty() && queued(&rx[3]).is_empty());
        // No other change while this one settles.
        assert_eq!(r.resize(1), 4);
        r.part_done(0);
        assert!(queued(&rx[2]).is_empty());
        r.part_done(0);
        assert_eq!(queued(&rx[2]), [12]);
        assert_eq!(queued(&rx[3]), [13]);
        // Settled once the held parts are queued: parts done of the current generation do not
        // block a change.
        r.dispatch([(3, part(1, 20))]).unwrap();
        assert_eq!(queued(&rx[3]), [20]);
        assert_eq!(r.resize(1), 1);
    }

    #[test]
    fn shrinking_holds_every_lane_and_releases_in_order() {
        let (r, rx) = router(3, 3);
        r.dispatch([(2, part(0, 1))]).unwrap();
        assert_eq!(r.resize(1), 1);
        r.dispatch([(0, part(1, 2))]).unwrap();
        r.dispatch([(0, part(1, 3))]).unwrap();
        assert!(queued(&rx[0]).is_empty());
        assert_eq!(queued(&rx[2]), [1]);
        r.part_done(0);
        assert_eq!(queued(&rx[0]), [2, 3]);
        r.part_done(1);
        r.part_done(1);
        r.close();
        assert!(r.dispatch([(0, part(1, 4))]).is_err());
    }
}
