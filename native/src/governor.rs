//! How many lanes are active: the number adapts to the receiver (`Governor`). Raised (at most
//! doubled) when the lanes are saturated, that is when most requests were full with parts still
//! pending, and kept only if the throughput grew; lowered when the traffic would fit into fewer
//! lanes at half their capacity. A lane's capacity is one full request (`max_request_samples`)
//! per round trip, measured as the mean duration of an attempt.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
