//! Name resolution for a lane's HTTP agent: the addresses of the endpoint are looked up once and
//! kept for [`ADDRESS_TTL`], not looked up again for every request.
//!
//! ureq resolves the host before every request, pooled connection or not, and with a resolve
//! timeout set (the sink bounds resolution by the socket timeout, so that a stuck resolver cannot
//! hang a lane) its resolver starts a thread for each lookup. One thread per request cost more
//! CPU than the request's protobuf encoding (perf: `clone3` and thread teardown on the lanes, at
//! 20,000 requests per 10 million samples). The lookup itself, and its bound, are ureq's; only
//! its answer is kept. A failed or timed-out lookup is not kept: the next attempt looks up again.

use parking_lot::Mutex;
use std::time::{Duration, Instant};
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long resolved addresses are used for new connections (the JVM's default for successful
/// lookups is the same 30 s). Pooled connections are reused whatever the name resolves to now.
pub const ADDRESS_TTL: Duration = Duration::from_secs(30);

/// A resolver that keeps the last answer of `inner` for one endpoint for `ttl`.
#[derive(Debug)]
pub struct CachingResolver<R: Resolver = DefaultResolver> {
    inner: R,
    ttl: Duration,
    last: Mutex<Option<Answer>>,
}

struct Answer {
    /// Scheme (for the default port), host and port of the URI asked for; never the user
    /// information an authority may carry, so no credential is kept here.
    scheme: String,
    host: String,
    port: Option<u16>,
    at: Instant,
    addresses: ResolvedSocketAddrs,
}

/// The endpoint as a URL prefix (`scheme://host:port`), its age and its addresses.
impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Answer {{ endpoint: {}://{}", self.scheme, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(
            f,
            ", age: {:?}, addresses: {:?} }}",
            self.at.elapsed(),
            self.addresses
        )
    }
}

impl Answer {
    /// Whether this answer is for `uri`'s endpoint: compared in place, nothing allocated on the
    /// per-request path.
    fn is_for(&self, uri: &Uri) -> bool {
        uri.scheme_str() == Some(self.scheme.as_str())
            && uri.host() == Some(self.host.as_str())
            && uri.port_u16() == self.port
    }
}

impl CachingResolver<DefaultResolver> {
    /// ureq's resolver, its answers kept for [`ADDRESS_TTL`].
    pub fn new() -> Self {
        CachingResolver::with(DefaultResolver::default(), ADDRESS_TTL)
    }
}

impl Default for CachingResolver<DefaultResolver> {
    fn default() -> Self {
        CachingResolver::new()
    }
}

impl<R: Resolver> CachingResolver<R> {
    /// `inner`'s answers kept for `ttl`.
    pub fn with(inner: R, ttl: Duration) -> Self {
        CachingResolver {
            inner,
            ttl,
            last: Mutex::new(None),
        }
    }
}

impl<R: Resolver> Resolver for CachingResolver<R> {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        if let Some(last) = self.last.lock().as_ref() {
            if last.is_for(uri) && last.at.elapsed() < self.ttl {
                return Ok(last.addresses.clone());
            }
        }
        // Looked up outside the lock: lanes of other agents never wait here, and this agent
        // sends one request at a time.
        let addresses = self.inner.resolve(uri, config, timeout)?;
        *self.last.lock() = Some(Answer {
            scheme: uri.scheme_str().unwrap_or_default().to_string(),
            host: uri.host().unwrap_or_default().to_string(),
            port: uri.port_u16(),
            at: Instant::now(),
            addresses: addresses.clone(),
        });
        Ok(addresses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use ureq::unversioned::transport::time::Duration as UreqDuration;
    use ureq::Timeout;

    /// Answers from a script: an address per port asked, or `HostNotFound` for port 1; counts
    /// the lookups.
    #[derive(Debug, Default)]
    struct Counting {
        lookups: Arc<AtomicUsize>,
    }

    impl Resolver for Counting {
        fn resolve(
            &self,
            uri: &Uri,
            _config: &Config,
            _timeout: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, ureq::Error> {
            let n = self.lookups.fetch_add(1, Ordering::SeqCst);
            let port = uri.port_u16().unwrap_or(80);
            if port == 1 {
                return Err(ureq::Error::HostNotFound);
            }
            let mut addresses = self.empty();
            // A new address per lookup, so a kept answer is told from a fresh one.
            let address: SocketAddr = format!("127.0.0.{}:{port}", n + 1).parse().unwrap();
            addresses.push(address);
            Ok(addresses)
        }
    }

    fn timeout() -> NextTimeout {
        NextTimeout {
            after: UreqDuration::from_secs(5),
            reason: Timeout::Resolve,
            per_read: None,
            per_write: None,
        }
    }

    fn resolve<R: Resolver>(resolver: &CachingResolver<R>, url: &str) -> Vec<String> {
        let uri: Uri = url.parse().unwrap();
        match resolver.resolve(&uri, &Config::default(), timeout()) {
            Ok(addresses) => addresses.iter().map(|a| a.to_string()).collect(),
            Err(e) => vec![format!("error: {e}")],
        }
    }

    #[test]
    fn an_answer_is_kept_for_its_endpoint_until_it_is_older_than_the_ttl() {
        let lookups = Arc::new(AtomicUsize::new(0));
        let resolver = CachingResolver::with(
            Counting {
                lookups: lookups.clone(),
            },
            Duration::from_millis(300),
        );
        let url = "http://metrics.example:9090/api/v1/write";

        assert_eq!(resolve(&resolver, url), ["127.0.0.1:9090"]);
        for _ in 0..100 {
            assert_eq!(resolve(&resolver, url), ["127.0.0.1:9090"]);
        }
        assert_eq!(lookups.load(Ordering::SeqCst), 1);
        // Another path of the same endpoint: the same addresses.
        assert_eq!(
            resolve(&resolver, "http://metrics.example:9090/other"),
            ["127.0.0.1:9090"]
        );
        assert_eq!(lookups.load(Ordering::SeqCst), 1);

        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(resolve(&resolver, url), ["127.0.0.2:9090"]);
        assert_eq!(lookups.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn another_endpoint_is_looked_up_and_a_failure_is_not_kept() {
        let lookups = Arc::new(AtomicUsize::new(0));
        let resolver = CachingResolver::with(
            Counting {
                lookups: lookups.clone(),
            },
            ADDRESS_TTL,
        );

        assert_eq!(
            resolve(&resolver, "http://a.example:9090/"),
            ["127.0.0.1:9090"]
        );
        assert_eq!(
            resolve(&resolver, "http://a.example:9091/"),
            ["127.0.0.2:9091"]
        );
        assert_eq!(
            resolve(&resolver, "https://a.example:9091/"),
            ["127.0.0.3:9091"]
        );
        assert_eq!(lookups.load(Ordering::SeqCst), 3);
        for attempt in 0..3 {
            assert_eq!(
                resolve(&resolver, "http://a.example:1/"),
                ["error: host not found"],
                "attempt {attempt}"
            );
        }
        assert_eq!(lookups.load(Ordering::SeqCst), 6);
    }

    #[test]
    fn the_kept_answer_holds_no_credentials_of_the_url() {
        let resolver = CachingResolver::with(Counting::default(), ADDRESS_TTL);
        resolve(
            &resolver,
            "http://user:secret-password@a.example:9090/api/v1/write",
        );
        let shown = format!("{resolver:?}");
        assert!(shown.contains("http://a.example:9090"), "{shown}");
        assert!(!shown.contains("secret-password"), "{shown}");
        // The same endpoint without the credentials is the same entry.
        assert_eq!(
            resolve(&resolver, "http://a.example:9090/"),
            ["127.0.0.1:9090"]
        );
    }

    #[test]
    fn the_default_resolver_answers_an_address_literal() {
        let resolver = CachingResolver::new();
        assert_eq!(
            resolve(&resolver, "http://127.0.0.1:9090/api/v1/write"),
            ["127.0.0.1:9090"]
        );
        assert_eq!(resolve(&resolver, "http://[::1]:9090/"), ["[::1]:9090"]);
    }
}
