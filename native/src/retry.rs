//! Retry policy: exponential backoff that cannot overflow, and `Retry-After` parsing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long to wait between attempts and how many retries to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before the first retry.
    pub initial_delay: Duration,
    /// Upper bound of every delay, including one asked for by `Retry-After`.
    pub max_delay: Duration,
    /// Retries after the first attempt; `u32::MAX` (from Java's `Integer.MAX_VALUE`) retries
    /// in practice for ever.
    pub max_retries: u32,
}

impl RetryPolicy {
    /// Delay before retry number `retry` (1-based): `initial * 2^(retry-1)`, capped by the max
    /// delay, saturating instead of overflowing however many retries were made.
    pub fn backoff(&self, retry: u32) -> Duration {
        let shift = retry.saturating_sub(1).min(63);
        let factor = 1u64 << shift;
        let initial_ms = self.initial_delay.as_millis().min(u64::MAX as u128) as u64;
        let delay = Duration::from_millis(initial_ms.saturating_mul(factor));
        delay.min(self.max_delay)
    }

    /// Delay before retry number `retry`: the backoff, or a longer `Retry-After` (a shorter, zero
    /// or past one never shortens it), capped by the max delay; then `jitter` (0 to 1) times a
    /// quarter of that added on top. So the configured delays stay lower bounds, and writers
    /// refused at the same moment do not retry in lockstep:
    /// `d = min(max(initial * 2^(retry-1), retry_after), max)`, wait `d * (1 + jitter / 4)`.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        let d = self
            .backoff(retry)
            .max(retry_after.unwrap_or_default())
            .min(self.max_delay);
        d + d.mul_f64(0.25 * jitter.clamp(0.0, 1.0))
    }
}

/// A random number in [0, 1) for [`RetryPolicy::delay`]: the standard library's per-instance
/// random hash keys, mixed (no dependency, no shared state between lanes).
pub fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Parses a `Retry-After` header value: delay-seconds or an HTTP date (IMF-fixdate, or the
/// obsolete RFC 850 and asctime forms, which RFC 9110 requires a recipient to accept). A date in
/// the past means no wait. Anything else is ignored.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            initial_delay: Duration::from_millis(30),
            max_delay: Duration::from_millis(5000),
            max_retries: 100,
        }
    }

    #[test]
    fn backoff_doubles_from_initial_delay() {
        let p = policy();
        let ms: Vec<u128> = (1..=8).map(|n| p.backoff(n).as_millis()).collect();
        assert_eq!(ms, vec![30, 60, 120, 240, 480, 960, 1920, 3840]);
    }

    #[test]
    fn backoff_is_capped_by_max_delay() {
        let p = policy();
        assert_eq!(p.backoff(9), Duration::from_millis(5000));
        assert_eq!(p.backoff(100), Duration::from_millis(5000));
    }

    #[test]
    fn backoff_never_overflows() {
        let p = RetryPolicy {
            initial_delay: Duration::from_millis(u32::MAX as u64),
            max_delay: Duration::from_millis(u64::MAX / 2),
            max_retries: u32::MAX,
        };
        let mut last = Duration::ZERO;
        for n in [1, 2, 30, 62, 63, 64, 65, 1000, u32::MAX] {
            let d = p.backoff(n);
            assert!(d >= last, "retry {n}: {d:?} < {last:?}");
            assert!(d > Duration::ZERO);
            last = d;
        }
        assert_eq!(p.backoff(u32::MAX), Duration::from_millis(u64::MAX / 2));
    }

    #[test]
    fn a_longer_retry_after_replaces_the_backoff_and_is_capped() {
        let p = policy();
        let s = Duration::from_secs;
        assert_eq!(p.delay(1, Some(s(2)), 0.0), s(2));
        assert_eq!(p.delay(1, Some(s(60)), 0.0), s(5));
        assert_eq!(p.delay(3, None, 0.0), Duration::from_millis(120));
    }

    #[test]
    fn a_shorter_zero_or_past_retry_after_never_shortens_the_backoff() {
        let p = policy();
        for retry_after in [
            Duration::ZERO,
            Duration::from_millis(10),
            Duration::from_millis(59),
        ] {
            assert_eq!(
                p.delay(2, Some(retry_after), 0.0),
                Duration::from_millis(60)
            );
        }
        // A date in the past parses as zero: the backoff, not a tight loop.
        let past = parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", SystemTime::now());
        assert_eq!(p.delay(4, past, 0.0), Duration::from_millis(240));
        // A negative number is no Retry-After at all.
        assert_eq!(
            p.delay(1, parse_retry_after("-5", SystemTime::now()), 0.0),
            p.backoff(1)
        );
    }

    #[test]
    fn jitter_adds_up_to_a_quarter_and_never_takes_away() {
        let p = policy();
        assert_eq!(p.delay(2, None, 1.0), Duration::from_millis(75));
        assert_eq!(p.delay(20, None, 1.0), Duration::from_millis(6250));
        assert_eq!(p.delay(2, None, 0.5), Duration::from_micros(67_500));
        let draws: Vec<f64> = (0..1000).map(|_| jitter()).collect();
        assert!(draws.iter().all(|j| (0.0..1.0).contains(j)));
        let (low, high) = (
            draws.iter().filter(|&&j| j < 0.25).count(),
            draws.iter().filter(|&&j| j >= 0.75).count(),
        );
        assert!(
            low > 150 && high > 150,
            "not spread: {low} below 0.25, {high} above 0.75"
        );
        for j in draws {
            let d = p.delay(3, None, j);
            assert!(
                d >= Duration::from_millis(120) && d < Duration::from_millis(150),
                "{d:?}"
            );
        }
    }

    #[test]
    fn retry_after_seconds() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn retry_after_http_date() {
        // 1994-11-06T08:49:37Z is 784111777 seconds after the epoch.
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777 - 10);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(10))
        );
        // In the past: no wait.
        let later = UNIX_EPOCH + Duration::from_secs(784_111_777 + 10);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", later),
            Some(Duration::ZERO)
        );
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29T00:00:00Z
        assert_eq!(
            parse_retry_after("Tue, 29 Feb 2000 00:00:05 GMT", leap),
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn retry_after_in_the_obsolete_date_forms() {
        // RFC 9110 5.6.7: a recipient accepts RFC 850 and asctime dates too.
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777 - 10);
        for v in ["Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            assert_eq!(
                parse_retry_after(v, now),
                Some(Duration::from_secs(10)),
                "{v}"
            );
        }
    }

    #[test]
    fn malformed_retry_after_dates_are_ignored() {
        let now = SystemTime::now();
        for v in [
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 36 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "soon",
        ] {
            assert_eq!(parse_retry_after(v, now), None, "{v}");
        }
    }
}
