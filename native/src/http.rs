//! The HTTP side: one POST of a compressed `WriteRequest`, answered with what the receiver said
//! or why no answer came. Each lane has its own [`HttpTransport`], so its own keep-alive `ureq`
//! agent and connection.

use crate::config::{redacted_url, Config, RESERVED_HEADERS};
use crate::error::{Error, Result};
use crate::resolve::CachingResolver;
use crate::retry::parse_retry_after;
use std::io::Read;
use std::time::{Duration, SystemTime};
use ureq::tls::{Certificate, PemItem};

/// At most this much of an error body is kept for logs and exceptions.
pub const MAX_ERROR_BODY: usize = 4096;

/// The answer header in which a Remote-Write 2.0 receiver says how many samples it wrote.
pub const SAMPLES_WRITTEN_HEADER: &str = "x-prometheus-remote-write-samples-written";

/// The wire format of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireVersion {
    /// Remote-Write 1.0: `prometheus.WriteRequest`.
    V1,
    /// Remote-Write 2.0: `io.prometheus.write.v2.Request`.
    V2,
}

impl WireVersion {
    /// The `Content-Type` of a request body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            WireVersion::V1 => "application/x-protobuf",
            WireVersion::V2 => "application/x-protobuf;proto=io.prometheus.write.v2.Request",
        }
    }

    /// The `X-Prometheus-Remote-Write-Version` header of a request in this format.
    pub fn version_header(self) -> &'static str {
        match self {
            WireVersion::V1 => "0.1.0",
            WireVersion::V2 => "2.0.0",
        }
    }
}

/// The result of one attempt to send a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver answered.
    Answered {
        /// HTTP status code.
        status: u16,
        /// The `Retry-After` delay, when the answer carried a valid one.
        retry_after: Option<Duration>,
        /// The start of the response body (at most [`MAX_ERROR_BODY`] bytes), lossily decoded.
        body: String,
        /// The samples the receiver says it wrote (`X-Prometheus-Remote-Write-Samples-Written`),
        /// when it said so: Remote-Write 2.0 receivers do, 1.0 receivers do not.
        written: Option<u64>,
    },
    /// No answer: connection refused or reset, timeout, TLS or protocol failure.
    NoAnswer {
        /// What went wrong.
        error: String,
        /// False when retrying cannot help (bad URL, TLS certificate rejected).
        retryable: bool,
    },
}

/// Adds headers to each request, computed from the request's headers and compressed body (for
/// example a signature). Called once per attempt, retries included, and by several lanes at once:
/// no lock is held around it, so a slow signer (a credential refresh) stalls only its own lane.
pub trait Signer: Send + Sync {
    /// Returns the headers to add; an error fails this attempt as a retryable one.
    fn sign(
        &self,
        headers: &[(String, String)],
        body: &[u8],
    ) -> std::result::Result<Vec<(String, String)>, String>;
}

/// Sends one request body. Implemented by [`HttpTransport`] and by test doubles.
pub trait Transport: Send {
    /// Posts `body` (snappy-compressed protobuf in the format `version`) once.
    fn post(&mut self, body: &[u8], version: WireVersion) -> Attempt;
    /// The endpoint, for messages: without its query or credentials.
    fn endpoint(&self) -> &str;
}

/// Remote-Write over HTTP(S) with `ureq`.
pub struct HttpTransport {
    agent: ureq::Agent,
    url: String,
    /// The endpoint as messages show it (`redacted_url`).
    shown_url: String,
    /// Every header sent with a 1.0 request, the reserved ones first; what a signer is shown.
    headers: Vec<(String, String)>,
    /// The same for a 2.0 request (another content type and version).
    headers_v2: Vec<(String, String)>,
    signer: Option<SharedSigner>,
}

/// One signer shared by the lanes of a client.
pub type SharedSigner = std::sync::Arc<dyn Signer>;

impl HttpTransport {
    /// An agent configured from `config`: keep-alive, timeouts, no redirects followed (a 3xx is
    /// an answer the job must see), HTTP statuses returned rather than turned into errors.
    pub fn new(config: &Config) -> Result<HttpTransport> {
        let t = config.socket_timeout;
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(path) = &config.tls_ca_file {
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&read_ca_file(path)?));
        }
        let config_of_agent = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(ureq::config::AutoHeaderValue::None)
            .accept_encoding("identity")
            // Name resolution is bounded too (ureq's default waits for ever on a stuck resolver).
            .timeout_resolve(t)
            .timeout_connect(t)
            .timeout_send_request(t)
            .timeout_send_body(t)
            .timeout_recv_response(t)
            .timeout_recv_body(t)
            .build();
        // The endpoint's addresses are looked up once per ADDRESS_TTL, not before each request.
        let agent = ureq::Agent::with_parts(
            config_of_agent,
            ureq::unversioned::transport::DefaultConnector::default(),
            CachingResolver::new(),
        );
        let headers = |version: WireVersion| {
            let mut headers = vec![
                ("Content-Encoding".to_string(), "snappy".to_string()),
                (
                    "Content-Type".to_string(),
                    version.content_type().to_string(),
                ),
                (
                    "X-Prometheus-Remote-Write-Version".to_string(),
                    version.version_header().to_string(),
                ),
                ("User-Agent".to_string(), config.user_agent.clone()),
            ];
            if let Some(auth) = &config.authorization {
                headers.push(("Authorization".to_string(), auth.0.clone()));
            }
            headers.extend(config.headers.iter().cloned());
            headers
        };
        Ok(HttpTransport {
            agent,
            url: config.url.clone(),
            shown_url: redacted_url(&config.url),
            headers: headers(WireVersion::V1),
            headers_v2: headers(WireVersion::V2),
            signer: None,
        })
    }

    /// Signs every attempt with `signer`.
    pub fn with_signer(mut self, signer: SharedSigner) -> HttpTransport {
        self.signer = Some(signer);
        self
    }
}

/// `base` with the signer's headers added or replacing same-named ones, except the reserved
/// Remote-Write headers, which a signer cannot change.
fn merge_headers(base: &[(String, String)], extra: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut headers = base.to_vec();
    for (name, value) in extra {
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        match headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some(existing) => existing.1 = value,
            None => headers.push((name, value)),
        }
    }
    headers
}

/// Every certificate of a PEM file.
fn read_ca_file(path: &str) -> Result<Vec<Certificate<'static>>> {
    let pem = std::fs::read(path)
        .map_err(|e| Error::config(format!("tls.ca_file {path:?} cannot be read: {e}")))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::config(format!(
                    "tls.ca_file {path:?} is not valid PEM: {e}"
                )))
            }
        }
    }
    if certs.is_empty() {
        return Err(Error::config(format!(
            "tls.ca_file {path:?} holds no PEM certificate"
        )));
    }
    Ok(certs)
}

impl Transport for HttpTransport {
    fn post(&mut self, body: &[u8], version: WireVersion) -> Attempt {
        let base = match version {
            WireVersion::V1 => &self.headers,
            WireVersion::V2 => &self.headers_v2,
        };
        let signed;
        let headers = match &self.signer {
            Some(signer) => match signer.sign(base, body) {
                Ok(extra) => {
                    signed = merge_headers(base, extra);
                    &signed
                }
                Err(error) => {
                    return Attempt::NoAnswer {
                        error: format!("request signer failed: {error}"),
                        retryable: true,
                    }
                }
            },
            None => base,
        };
        let mut request = self.agent.post(&self.url);
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        match request.send(body) {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                let written = response
                    .headers()
                    .get(SAMPLES_WRITTEN_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok());
                let mut bytes = Vec::new();
                // Read at most MAX_ERROR_BODY bytes; a short 2xx body is drained so the
                // connection goes back to the pool. A read error only shortens the message.
                let _ = response
                    .body_mut()
                    .as_reader()
                    .take(MAX_ERROR_BODY as u64)
                    .read_to_end(&mut bytes);
                Attempt::Answered {
                    status,
                    retry_after,
                    body: String::from_utf8_lossy(&bytes).into_owned(),
                    written,
                }
            }
            Err(e) => Attempt::NoAnswer {
                retryable: is_retryable(&e),
                error: e.to_string(),
            },
        }
    }

    fn endpoint(&self) -> &str {
        &self.shown_url
    }
}

/// Transport failures that may pass: network and timeouts. Configuration and certificate
/// problems do not pass by waiting: retrying them (for ever, with an unlimited retry count)
/// would only hide them.
fn is_retryable(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::BadUri(_)
        | ureq::Error::Http(_)
        | ureq::Error::Tls(_)
        | ureq::Error::Pem(_)
        | ureq::Error::Rustls(_)
        | ureq::Error::InvalidProxyUrl => false,
        // rustls reports handshake failures through the I/O layer.
        ureq::Error::Io(io) => !io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .is_some_and(|tls| {
                matches!(
                    tls,
                    rustls::Error::InvalidCertificate(_)
                        | rustls::Error::NoCertificatesPresented
                        | rustls::Error::UnsupportedNameType
                )
            }),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn signer_headers_add_or_replace_but_never_touch_reserved_ones() {
        let base = pairs(&[
            ("Content-Type", "application/x-protobuf"),
            ("Authorization", "a"),
        ]);
        let merged = merge_headers(
            &base,
            pairs(&[
                ("content-type", "text/plain"),
                ("authorization", "b"),
                ("X-Sig", "s"),
            ]),
        );
        assert_eq!(
            merged,
            pairs(&[
                ("Content-Type", "application/x-protobuf"),
                ("Authorization", "b"),
                ("X-Sig", "s")
            ])
        );
    }
}
