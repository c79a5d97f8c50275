//! Typed configuration of a native client, parsed from the key/value pairs the Java builder
//! sends over JNI. The Java builder validates every option first and names it in its message;
//! this parser checks again so that the native core is safe on its own.

use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use std::time::Duration;

/// What to do with a batch that still fails after the last retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRetryLimit {
    /// Fail the job with an exception naming the endpoint, status and body.
    Fail,
    /// Drop the batch, count it, log a warning and continue.
    DiscardAndContinue,
}

/// Headers that Remote-Write reserves; users cannot set them.
pub const RESERVED_HEADERS: [&str; 4] = [
    "content-encoding",
    "content-type",
    "x-prometheus-remote-write-version",
    "user-agent",
];

/// Configuration of one native client (one Flink sink writer).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The Remote-Write endpoint, `http://` or `https://`.
    pub url: String,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Connect and read timeout; `None` waits for ever (socket timeout 0, as in the Apache
    /// connector).
    pub socket_timeout: Option<Duration>,
    /// Backoff and retry limit for retryable answers.
    pub retry: RetryPolicy,
    /// What happens after the retry limit.
    pub on_retry_limit: OnRetryLimit,
    /// Extra request headers (never one of [`RESERVED_HEADERS`]).
    pub headers: Vec<(String, String)>,
    /// PEM file of the certificate authorities trusted for `https://`; `None` trusts the
    /// Mozilla root store bundled in the library.
    pub tls_ca_file: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            url: String::new(),
            user_agent: format!("promsink/{}", env!("CARGO_PKG_VERSION")),
            socket_timeout: Some(Duration::from_millis(5000)),
            retry: RetryPolicy {
                initial_delay: Duration::from_millis(30),
                max_delay: Duration::from_millis(5000),
                max_retries: 100,
            },
            on_retry_limit: OnRetryLimit::Fail,
            headers: Vec::new(),
            tls_ca_file: None,
        }
    }
}

impl Config {
    /// Builds a configuration from `key=value` pairs; unknown keys are errors.
    ///
    /// Keys: `url` (required), `user_agent`, `socket_timeout_ms`, `retry.initial_delay_ms`,
    /// `retry.max_delay_ms`, `retry.max_retries`, `on_max_retries_exceeded` (`FAIL` or
    /// `DISCARD_AND_CONTINUE`), `tls.ca_file`, `header.<Name>`.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Config> {
        let mut c = Config::default();
        for (key, value) in pairs {
            match key {
                "url" => c.url = value.to_string(),
                "user_agent" => c.user_agent = value.to_string(),
                "socket_timeout_ms" => {
                    let ms: u64 = number(key, value)?;
                    c.socket_timeout = (ms > 0).then(|| Duration::from_millis(ms));
                }
                "retry.initial_delay_ms" => {
                    c.retry.initial_delay = Duration::from_millis(number(key, value)?)
                }
                "retry.max_delay_ms" => {
                    c.retry.max_delay = Duration::from_millis(number(key, value)?)
                }
                "retry.max_retries" => c.retry.max_retries = number(key, value)?,
                "tls.ca_file" => c.tls_ca_file = Some(value.to_string()),
                "on_max_retries_exceeded" => {
                    c.on_retry_limit = match value {
                        "FAIL" => OnRetryLimit::Fail,
                        "DISCARD_AND_CONTINUE" => OnRetryLimit::DiscardAndContinue,
                        _ => {
                            return Err(Error::config(format!(
                                "{key} is {value:?}; allowed: FAIL, DISCARD_AND_CONTINUE"
                            )))
                        }
                    }
                }
                _ => match key.strip_prefix("header.") {
                    Some(name) => c.headers.push((name.to_string(), value.to_string())),
                    None => return Err(Error::config(format!("unknown option {key:?}"))),
                },
            }
        }
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<()> {
        let url = self.url.to_ascii_lowercase();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::config(format!(
                "url {:?} must start with http:// or https://",
                self.url
            )));
        }
        if self.user_agent.trim().is_empty() {
            return Err(Error::config("user_agent must not be blank"));
        }
        if self.retry.initial_delay.is_zero() {
            return Err(Error::config("retry.initial_delay_ms must be > 0"));
        }
        if self.retry.max_delay < self.retry.initial_delay {
            return Err(Error::config(
                "retry.max_delay_ms must be >= retry.initial_delay_ms",
            ));
        }
        for (name, _) in &self.headers {
            if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(Error::config(format!(
                    "header {name:?} is reserved by Remote-Write and cannot be set"
                )));
            }
        }
        Ok(())
    }
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T> {
    value
        .parse()
        .map_err(|_| Error::config(format!("{key} is {value:?}, not a non-negative number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_apache_connector() {
        let c = Config::from_pairs([("url", "http://127.0.0.1:9090/api/v1/write")]).unwrap();
        assert_eq!(c.retry.initial_delay, Duration::from_millis(30));
        assert_eq!(c.retry.max_delay, Duration::from_millis(5000));
        assert_eq!(c.retry.max_retries, 100);
        assert_eq!(c.socket_timeout, Some(Duration::from_millis(5000)));
        assert_eq!(c.on_retry_limit, OnRetryLimit::Fail);
        assert_eq!(
            c.user_agent,
            format!("promsink/{}", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn every_key_is_read() {
        let c = Config::from_pairs([
            ("url", "https://h/w"),
            ("user_agent", "ua/1"),
            ("socket_timeout_ms", "0"),
            ("retry.initial_delay_ms", "5"),
            ("retry.max_delay_ms", "7"),
            ("retry.max_retries", "2147483647"),
            ("on_max_retries_exceeded", "DISCARD_AND_CONTINUE"),
            ("header.X-Tenant", "t1"),
            ("tls.ca_file", "/etc/ca.pem"),
        ])
        .unwrap();
        assert_eq!(c.url, "https://h/w");
        assert_eq!(c.user_agent, "ua/1");
        assert_eq!(c.socket_timeout, None);
        assert_eq!(c.retry.initial_delay, Duration::from_millis(5));
        assert_eq!(c.retry.max_delay, Duration::from_millis(7));
        assert_eq!(c.retry.max_retries, i32::MAX as u32);
        assert_eq!(c.on_retry_limit, OnRetryLimit::DiscardAndContinue);
        assert_eq!(c.headers, vec![("X-Tenant".to_string(), "t1".to_string())]);
        assert_eq!(c.tls_ca_file.as_deref(), Some("/etc/ca.pem"));
    }

    #[test]
    fn bad_values_name_the_option() {
        let err = |pairs: &[(&str, &str)]| Config::from_pairs(pairs.iter().copied()).unwrap_err();
        let url = ("url", "http://h/w");
        assert!(err(&[]).to_string().contains("url"));
        assert!(err(&[("url", "ftp://h")]).to_string().contains("url"));
        assert!(err(&[url, ("socket_timeout_ms", "-1")])
            .to_string()
            .contains("socket_timeout_ms"));
        assert!(err(&[url, ("retry.initial_delay_ms", "0")])
            .to_string()
            .contains("retry.initial_delay_ms"));
        assert!(err(&[url, ("retry.max_delay_ms", "1")])
            .to_string()
            .contains("retry.max_delay_ms"));
        assert!(err(&[url, ("on_max_retries_exceeded", "IGNORE")])
            .to_string()
            .contains("on_max_retries_exceeded"));
        assert!(err(&[url, ("user_agent", " ")])
            .to_string()
            .contains("user_agent"));
        assert!(err(&[url, ("colour", "red")])
            .to_string()
            .contains("colour"));
    }

    #[test]
    fn reserved_headers_cannot_be_set() {
        for h in [
            "Content-Encoding",
            "content-type",
            "X-Prometheus-Remote-Write-Version",
            "User-Agent",
        ] {
            let e = Config::from_pairs([("url", "http://h/w"), (&*format!("header.{h}"), "x")])
                .unwrap_err();
            assert!(e.to_string().contains("reserved"), "{h}: {e}");
        }
    }
}
