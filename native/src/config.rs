//! Typed configuration of a native client, parsed from the key/value pairs the Java builder
//! sends over JNI. The Java builder validates every option first and names it in its message;
//! this parser checks again so that the native core is safe on its own.

use crate::error::{Error, Result};
use crate::http::WireVersion;
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

/// Headers users cannot set: those Remote-Write reserves, and those HTTP derives from the
/// request itself. The Java builder holds the same list (checked by `tests/contract.rs`).
pub const RESERVED_HEADERS: [&str; 8] = [
    "content-encoding",
    "content-type",
    "x-prometheus-remote-write-version",
    "user-agent",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
];

/// The most sending lanes of one client (the Java builder's `MAX_SENDING_LANES`).
pub const MAX_LANES: usize = 64;

/// A credential: compared and cloned like a string, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

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
    /// The `Authorization` header value, from basic-auth credentials or a bearer token.
    pub authorization: Option<Secret>,
    /// Sending lanes, each with one request in flight: the most in use at once.
    pub lanes: usize,
    /// Whether the lanes in use adapt between 1 and `lanes` (`governor.rs`); otherwise all are.
    pub adaptive_lanes: bool,
    /// Upper bound in samples of a request coalesced from pending parts.
    pub max_request_samples: u64,
    /// How long a lane's request that is not full waits for more parts before it is sent.
    pub linger: Duration,
    /// The Remote-Write version to send; 2.0 falls back to 1.0 for a receiver that shows it does
    /// not speak 2.0 (`lane.rs`).
    pub remote_write: WireVersion,
}

/// Default wait of a request that is not full for more parts, in milliseconds: long enough for
/// the next batches' shares to arrive under load, short next to a receiver's round trip.
pub const DEFAULT_LINGER_MS: u64 = 5;

/// The longest wait a request may linger, in milliseconds.
pub const MAX_LINGER_MS: u64 = 1000;

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
            authorization: None,
            lanes: 1,
            adaptive_lanes: true,
            max_request_samples: 500,
            linger: Duration::from_millis(DEFAULT_LINGER_MS),
            remote_write: WireVersion::V1,
        }
    }
}

impl Config {
    /// Builds a configuration from `key=value` pairs; unknown keys are errors.
    ///
    /// Keys: `url` (required), `user_agent`, `socket_timeout_ms`, `retry.initial_delay_ms`,
    /// `retry.max_delay_ms`, `retry.max_retries`, `on_max_retries_exceeded` (`FAIL` or
    /// `DISCARD_AND_CONTINUE`), `tls.ca_file`, `auth.basic.username` with `auth.basic.password`,
    /// `auth.bearer_token`, `lanes`, `lanes.adaptive` (`true` or `false`),
    /// `max_request_samples`, `linger_ms`, `remote_write.version` (`1` or `2`), `header.<Name>`. Messages never repeat the value of a credential.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Config> {
        let mut c = Config::default();
        let mut username = None;
        let mut password = None;
        let mut bearer = None;
        for (key, value) in pairs {
            match key {
                "auth.basic.username" => username = Some(value.to_string()),
                "auth.basic.password" => password = Some(value.to_string()),
                "auth.bearer_token" => bearer = Some(value.to_string()),
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
                "lanes" => c.lanes = number(key, value)?,
                "lanes.adaptive" => {
                    c.adaptive_lanes = match value {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(Error::config(format!(
                                "{key} is {value:?}; allowed: true, false"
                            )))
                        }
                    }
                }
                "max_request_samples" => c.max_request_samples = number(key, value)?,
                "linger_ms" => c.linger = Duration::from_millis(number(key, value)?),
                "remote_write.version" => {
                    c.remote_write = match value {
                        "1" => WireVersion::V1,
                        "2" => WireVersion::V2,
                        _ => {
                            return Err(Error::config(format!("{key} is {value:?}; allowed: 1, 2")))
                        }
                    }
                }
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
        c.authorization = match (username, password, bearer) {
            (None, None, None) => None,
            (Some(user), Some(pass), None) => {
                if user.contains(':') {
                    return Err(Error::config("auth.basic.username must not contain ':'"));
                }
                Some(Secret(format!(
                    "Basic {}",
                    base64(format!("{user}:{pass}").as_bytes())
                )))
            }
            (None, None, Some(token)) => {
                if token.is_empty() || token.contains(['\r', '\n']) {
                    return Err(Error::config(
                        "auth.bearer_token must be non-empty, without CR or LF",
                    ));
                }
                Some(Secret(format!("Bearer {token}")))
            }
            (_, _, Some(_)) => {
                return Err(Error::config(
                    "auth.bearer_token and auth.basic.* cannot be used together",
                ))
            }
            _ => {
                return Err(Error::config(
                    "auth.basic.username and auth.basic.password go together",
                ))
            }
        };
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<()> {
        let url = self.url.to_ascii_lowercase();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::config(format!(
                "url {:?} must start with http:// or https://",
                redacted_url(&self.url)
            )));
        }
        if authority(&self.url).contains('@') {
            return Err(Error::config(format!(
                "url {:?} must not carry user:password@ (use auth.basic.*)",
                redacted_url(&self.url)
            )));
        }
        if self.user_agent.trim().is_empty() {
            return Err(Error::config("user_agent must not be blank"));
        }
        if !(1..=MAX_LANES).contains(&self.lanes) {
            return Err(Error::config(format!(
                "lanes is {}; allowed: 1 to {MAX_LANES}",
                self.lanes
            )));
        }
        if self.max_request_samples == 0 {
            return Err(Error::config("max_request_samples must be > 0"));
        }
        if self.linger > Duration::from_millis(MAX_LINGER_MS) {
            return Err(Error::config(format!(
                "linger_ms must be at most {MAX_LINGER_MS}"
            )));
        }
        if self.retry.initial_delay.is_zero() {
            return Err(Error::config("retry.initial_delay_ms must be > 0"));
        }
        if self.retry.max_delay < self.retry.initial_delay {
            return Err(Error::config(
                "retry.max_delay_ms must be >= retry.initial_delay_ms",
            ));
        }
        for (name, value) in &self.headers {
            let token = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
            if name.is_empty() || !name.bytes().all(token) {
                return Err(Error::config(format!(
                    "header name {name:?} is not an HTTP token (RFC 9110)"
                )));
            }
            if value.contains(['\r', '\n']) {
                return Err(Error::config(format!(
                    "header {name:?} has a CR or LF in its value"
                )));
            }
            let lower = name.to_ascii_lowercase();
            if RESERVED_HEADERS.contains(&lower.as_str()) {
                return Err(Error::config(format!(
                    "header {name:?} is reserved by Remote-Write and cannot be set"
                )));
            }
            if lower == "authorization" && self.authorization.is_some() {
                return Err(Error::config(
                    "header \"Authorization\" conflicts with auth.basic.* / auth.bearer_token",
                ));
            }
        }
        Ok(())
    }
}

/// The authority of an `scheme://authority/...` URL (empty without `://`).
fn authority(url: &str) -> &str {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return "";
    };
    let rest = &url[start..];
    &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())]
}

/// `url` as it may be shown in messages and logs: its query (often an API key) and any
/// `user:password@` replaced by `<hidden>`. The Java builder shows URLs by the same rule.
pub fn redacted_url(url: &str) -> String {
    let mut out = match url.find('?') {
        Some(q) => format!("{}?<hidden>", &url[..q]),
        None => url.to_string(),
    };
    let userinfo = authority(&out).rfind('@');
    if let (Some(at), Some(start)) = (userinfo, out.find("://").map(|i| i + 3)) {
        out.replace_range(start..start + at, "<hidden>");
    }
    out
}

/// Standard base64 with padding (RFC 4648), for basic-auth credentials.
fn base64(input: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(input)
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
    fn base64_matches_rfc_4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, expected) in vectors {
            assert_eq!(base64(input.as_bytes()), expected, "{input}");
        }
    }

    #[test]
    fn basic_auth_and_bearer_token_become_the_authorization_header() {
        let url = ("url", "http://h/w");
        let c = Config::from_pairs([
            url,
            ("auth.basic.username", "Aladdin"),
            ("auth.basic.password", "open sesame"),
        ])
        .unwrap();
        assert_eq!(
            c.authorization,
            Some(Secret("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==".into()))
        );
        let c = Config::from_pairs([url, ("auth.bearer_token", "t0k3n")]).unwrap();
        assert_eq!(c.authorization, Some(Secret("Bearer t0k3n".into())));
    }

    #[test]
    fn credentials_never_show_in_debug_or_errors() {
        let c =
            Config::from_pairs([("url", "http://h/w"), ("auth.bearer_token", "t0k3n")]).unwrap();
        assert!(!format!("{c:?}").contains("t0k3n"));
        let errors = [
            Config::from_pairs([("url", "http://h/w"), ("auth.basic.password", "pw-123")]),
            Config::from_pairs([
                ("url", "http://h/w"),
                ("auth.basic.username", "u"),
                ("auth.basic.password", "pw-123"),
                ("auth.bearer_token", "t0k3n"),
            ]),
            Config::from_pairs([("url", "http://h/w"), ("auth.bearer_token", "t0k\n3n")]),
            Config::from_pairs([
                ("url", "http://h/w"),
                ("auth.bearer_token", "t0k3n"),
                ("header.Authorization", "x"),
            ]),
        ];
        for e in errors {
            let m = e.unwrap_err().to_string();
            assert!(m.contains("auth"), "{m}");
            assert!(!m.contains("pw-123") && !m.contains("t0k"), "{m}");
        }
    }

    #[test]
    fn reserved_headers_cannot_be_set() {
        for h in [
            "Content-Encoding",
            "content-type",
            "X-Prometheus-Remote-Write-Version",
            "User-Agent",
            "Host",
            "CONTENT-LENGTH",
            "Transfer-Encoding",
            "connection",
        ] {
            let e = Config::from_pairs([("url", "http://h/w"), (&*format!("header.{h}"), "x")])
                .unwrap_err();
            assert!(e.to_string().contains("reserved"), "{h}: {e}");
        }
    }

    #[test]
    fn header_names_must_be_tokens_and_values_free_of_line_breaks() {
        let with = |name: &str, value: &str| {
            Config::from_pairs([("url", "http://h/w"), (&*format!("header.{name}"), value)])
        };
        assert!(with("X-Scope-OrgID", "tenant-1").is_ok());
        for (name, value) in [("X Bad", "x"), ("", "x"), ("X:1", "x")] {
            let e = with(name, value).unwrap_err().to_string();
            assert!(e.contains("not an HTTP token"), "{name}: {e}");
        }
        for value in ["a\r\nInjected: 1", "a\nb", "a\r"] {
            let e = with("X-Ok", value).unwrap_err().to_string();
            assert!(e.contains("CR or LF"), "{e}");
            assert!(!e.contains("Injected"), "the value is never repeated: {e}");
        }
    }

    #[test]
    fn lanes_are_1_to_64_as_in_the_java_builder() {
        let lanes = |n: &str| Config::from_pairs([("url", "http://h/w"), ("lanes", n)]);
        assert!(lanes("1").is_ok() && lanes("64").is_ok());
        for n in ["0", "65", "255"] {
            assert_eq!(
                lanes(n).unwrap_err().to_string(),
                format!("invalid configuration: lanes is {n}; allowed: 1 to 64")
            );
        }
    }

    #[test]
    fn urls_are_shown_without_query_or_credentials() {
        assert_eq!(
            redacted_url("http://u:p@h:1/w?k=v#f"),
            "http://<hidden>@h:1/w?<hidden>"
        );
        assert_eq!(
            redacted_url("https://h/w?api_key=x"),
            "https://h/w?<hidden>"
        );
        assert_eq!(redacted_url("http://h/w"), "http://h/w");
        assert_eq!(redacted_url("http://h/a@b"), "http://h/a@b");
        let e = Config::from_pairs([("url", "https://flink:s3cret@h/w?k=Q")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration: url \"https://<hidden>@h/w?<hidden>\" must not carry \
             user:password@ (use auth.basic.*)"
        );
        let e = Config::from_pairs([("url", "ftp://h/w?k=Q-s3cret")]).unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }
}
