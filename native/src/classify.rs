//! What an HTTP answer from a Remote-Write receiver means for the request that caused it.
//! The table is documented in `docs/failure-semantics.md`.

/// The class of a receiver's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 2xx: written.
    Success,
    /// 429 and 5xx, and transport errors (refused, reset, timeout): retried with backoff.
    Retryable,
    /// 4xx other than 401, 403, 404 and 429: the request is dropped and counted, the job goes on.
    NonRetryable,
    /// 401, 403, 404, 1xx, 3xx and anything unknown: the job fails. Retrying cannot help and
    /// dropping would lose every later batch silently.
    Fatal,
}

/// Classifies an HTTP status code.
pub fn classify_status(status: u16) -> Class {
    match status {
        200..=299 => Class::Success,
        429 | 500..=599 => Class::Retryable,
        401 | 403 | 404 => Class::Fatal,
        400..=499 => Class::NonRetryable,
        _ => Class::Fatal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_class() {
        for s in 200..=299 {
            assert_eq!(classify_status(s), Class::Success, "{s}");
        }
        for s in 500..=599 {
            assert_eq!(classify_status(s), Class::Retryable, "{s}");
        }
        assert_eq!(classify_status(429), Class::Retryable);
        for s in [401, 403, 404] {
            assert_eq!(classify_status(s), Class::Fatal, "{s}");
        }
        for s in (400..=499).filter(|s| ![401, 403, 404, 429].contains(s)) {
            assert_eq!(classify_status(s), Class::NonRetryable, "{s}");
        }
        for s in (100..=199).chain(300..=399).chain([0, 99, 600, 999]) {
            assert_eq!(classify_status(s), Class::Fatal, "{s}");
        }
    }
}
