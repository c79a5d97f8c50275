//! The client end to end over real HTTP against a scripted in-process receiver.

mod support;

use crossbeam_channel::{unbounded, Receiver as Rx};
use promsink::batch::BatchWriter;
use promsink::client::{BatchResult, Client, Outcome};
use promsink::config::Config;
use promsink::http::HttpTransport;
use promsink::metrics::Counter;
use promsink_wire::v1::WriteRequest;
use prost::Message;
use std::time::Duration;
use support::{Receiver, Reply};

fn config(url: &str, extra: &[(&str, &str)]) -> Config {
    let mut pairs = vec![
        ("url", url),
        ("retry.initial_delay_ms", "10"),
        ("retry.max_delay_ms", "40"),
        ("retry.max_retries", "3"),
    ];
    pairs.extend_from_slice(extra);
    Config::from_pairs(pairs).unwrap()
}

fn client(config: &Config) -> Client {
    support::http_client(config, 1, "test-sender")
}

fn batch(series: usize) -> Vec<u8> {
    let mut w = BatchWriter::new();
    for i in 0..series {
        let device = format!("d{i}");
        w.series(
            "temperature",
            &[("device", &device), ("fleet", "f1")],
            &[
                (20.0 + i as f64, 1_700_000_000_000),
                (21.0, 1_700_000_001_000),
            ],
        );
    }
    w.finish()
}

fn submit(c: &Client, buf: &[u8]) -> Rx<BatchResult> {
    let (tx, rx) = unbounded();
    c.submit(buf, Box::new(move |r| tx.send(r).unwrap()))
        .unwrap();
    rx
}

fn wait(rx: &Rx<BatchResult>) -> BatchResult {
    rx.recv_timeout(Duration::from_secs(20))
        .expect("batch completed")
}

#[test]
fn success_sends_required_headers_and_decodable_body() {
    let r = Receiver::start(vec![], Reply::status(204));
    let c = client(&config(&r.url, &[("header.X-Scope-OrgID", "tenant-1")]));
    let result = wait(&submit(&c, &batch(3)));
    assert_eq!(result.outcome, Outcome::Written);
    let reqs = r.requests();
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/api/v1/write");
    assert_eq!(req.header("content-encoding"), Some("snappy"));
    assert_eq!(req.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(
        req.header("x-prometheus-remote-write-version"),
        Some("0.1.0")
    );
    assert_eq!(
        req.header("user-agent"),
        Some(format!("promsink/{}", env!("CARGO_PKG_VERSION")).as_str())
    );
    assert_eq!(req.header("x-scope-orgid"), Some("tenant-1"));
    let raw = snap::raw::Decoder::new().decompress_vec(&req.body).unwrap();
    let wr = WriteRequest::decode(raw.as_slice()).unwrap();
    assert_eq!(wr.timeseries.len(), 3);
    let names: Vec<&str> = wr.timeseries[1]
        .labels
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(names, vec!["__name__", "device", "fleet"]);
    assert_eq!(wr.timeseries[1].labels[1].value, "d1");
    assert_eq!(wr.timeseries[1].samples[0].value, 21.0);
    assert_eq!(wr.timeseries[1].samples[1].timestamp, 1_700_000_001_000);
    assert_eq!(c.counters()[Counter::SamplesOut as usize], 6);
    assert_eq!(c.counters()[Counter::WriteRequestsOut as usize], 1);
    assert_eq!(result.counters, c.counters());
}

#[test]
fn unreadable_or_empty_ca_files_are_configuration_errors() {
    let missing = config(
        "https://127.0.0.1:1/w",
        &[("tls.ca_file", "/nonexistent/ca.pem")],
    );
    let err = HttpTransport::new(&missing).err().unwrap().to_string();
    assert!(
        err.contains("tls.ca_file \"/nonexistent/ca.pem\" cannot be read"),
        "{err}"
    );
    let path = std::env::temp_dir().join(format!("promsink-empty-{}.pem", std::process::id()));
    std::fs::write(&path, "not a certificate\n").unwrap();
    let empty = config(
        "https://127.0.0.1:1/w",
        &[("tls.ca_file", path.to_str().unwrap())],
    );
    let err = HttpTransport::new(&empty).err().unwrap().to_string();
    std::fs::remove_file(&path).unwrap();
    assert!(err.contains("holds no PEM certificate"), "{err}");
}

struct CountingSigner(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl promsink::http::Signer for CountingSigner {
    fn sign(
        &self,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, String> {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        assert!(headers
            .iter()
            .any(|(k, v)| k == "Content-Encoding" && v == "snappy"));
        Ok(vec![
            ("X-Signature".into(), format!("{}-{n}", body.len())),
            ("Content-Type".into(), "text/plain".into()),
        ])
    }
}

#[test]
fn the_signer_signs_every_attempt_including_retries() {
    let r = Receiver::start(
        vec![Reply::status(503), Reply::status(429)],
        Reply::status(204),
    );
    let cfg = config(&r.url, &[]);
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let transport = HttpTransport::new(&cfg)
        .unwrap()
        .with_signer(std::sync::Arc::new(CountingSigner(calls.clone())));
    let c = Client::new(
        &cfg,
        vec![Box::new(transport)],
        "signed".into(),
        std::sync::Arc::new(|| {}),
    )
    .unwrap();
    assert_eq!(wait(&submit(&c, &batch(2))).outcome, Outcome::Written);
    let reqs = r.requests();
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
    let signatures: Vec<String> = reqs
        .iter()
        .map(|q| q.header("x-signature").unwrap().to_string())
        .collect();
    let len = reqs[0].body.len();
    assert_eq!(
        signatures,
        vec![format!("{len}-1"), format!("{len}-2"), format!("{len}-3")]
    );
    // The signer could not replace a reserved header.
    assert!(reqs
        .iter()
        .all(|q| q.header("content-type") == Some("application/x-protobuf")));
}

#[test]
fn basic_auth_is_sent_as_the_authorization_header() {
    let r = Receiver::start(vec![], Reply::status(204));
    let c = client(&config(
        &r.url,
        &[
            ("auth.basic.username", "flink"),
            ("auth.basic.password", "s3cret"),
        ],
    ));
    assert_eq!(wait(&submit(&c, &batch(1))).outcome, Outcome::Written);
    assert_eq!(
        r.requests()[0].header("authorization"),
        Some("Basic Zmxpbms6czNjcmV0")
    );
}

#[test]
fn close_does_not_hang_on_a_request_that_never_ends() {
    // A server that accepts and never answers, and no socket timeout.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/write", listener.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(15));
        drop(stream);
    });
    let mut c = client(&config(&url, &[("socket_timeout_ms", "0")]));
    let _rx = submit(&c, &batch(1));
    std::thread::sleep(Duration::from_millis(200));
    let started = std::time::Instant::now();
    c.close();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(9), "{waited:?}");
    assert!(waited < Duration::from_secs(14), "{waited:?}");
    drop(held);
}

#[test]
fn a_panicking_callback_does_not_stop_the_sender() {
    let r = Receiver::start(vec![], Reply::status(204));
    let c = client(&config(&r.url, &[]));
    c.submit(&batch(1), Box::new(|_| panic!("callback bug")))
        .unwrap();
    assert_eq!(wait(&submit(&c, &batch(2))).outcome, Outcome::Written);
    assert_eq!(c.counters()[Counter::SamplesOut as usize], 6);
}

#[test]
fn custom_user_agent_is_sent() {
    let r = Receiver::start(vec![], Reply::status(200));
    let c = client(&config(&r.url, &[("user_agent", "fleet-job/2.1")]));
    assert_eq!(wait(&submit(&c, &batch(1))).outcome, Outcome::Written);
    assert_eq!(r.requests()[0].header("user-agent"), Some("fleet-job/2.1"));
}

#[test]
fn bad_request_drops_the_batch_with_the_body_in_the_message() {
    let r = Receiver::start(
        vec![Reply::status(400).body("out of order sample")],
        Reply::status(204),
    );
    let c = client(&config(&r.url, &[]));
    let result = wait(&submit(&c, &batch(2)));
    assert_eq!(result.outcome, Outcome::DroppedNonRetryable);
    assert!(result.message.contains("HTTP 400"), "{}", result.message);
    assert!(result.message.contains("out of order sample"));
    assert!(result.message.contains(&r.url));
    // Status and body also as fields, for the exception that carries them.
    assert_eq!(
        (result.status, result.body.as_str()),
        (400, "out of order sample")
    );
    let k = c.counters();
    assert_eq!(k[Counter::SamplesNonRetryableDropped as usize], 4);
    assert_eq!(k[Counter::SamplesDropped as usize], 4);
    assert_eq!(k[Counter::WriteRequestsPermanentlyFailed as usize], 1);
    assert_eq!(k[Counter::WriteRequestsRetries as usize], 0);
    assert_eq!(r.requests().len(), 1);
    // The next batch goes through.
    assert_eq!(wait(&submit(&c, &batch(1))).outcome, Outcome::Written);
    assert_eq!(c.counters()[Counter::SamplesOut as usize], 2);
}

#[test]
fn throttling_is_retried_until_success_honouring_retry_after() {
    let r = Receiver::start(
        vec![
            Reply::status(429),
            Reply::status(429).header("Retry-After", "0"),
            Reply::status(503),
        ],
        Reply::status(204),
    );
    let c = client(&config(&r.url, &[]));
    let result = wait(&submit(&c, &batch(2)));
    assert_eq!(result.outcome, Outcome::Written);
    let reqs = r.requests();
    assert_eq!(reqs.len(), 4);
    assert!(reqs.windows(2).all(|w| w[0].body == w[1].body));
    // Backoff 10 ms, then Retry-After 0, then backoff 40 ms (retry 3: 10 << 2, capped at 40).
    assert!(reqs[1].at - reqs[0].at >= Duration::from_millis(10));
    assert!(reqs[3].at - reqs[2].at >= Duration::from_millis(40));
    let k = c.counters();
    assert_eq!(k[Counter::WriteRequestsRetries as usize], 3);
    assert_eq!(k[Counter::SamplesOut as usize], 4);
    assert_eq!(k[Counter::SamplesDropped as usize], 0);
}

#[test]
fn server_errors_until_the_limit_fail_by_default() {
    let r = Receiver::start(vec![], Reply::status(500).body("boom"));
    let c = client(&config(&r.url, &[]));
    let result = wait(&submit(&c, &batch(1)));
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(result.message.contains("retry limit"), "{}", result.message);
    assert!(result.message.contains("HTTP 500"));
    assert!(result.message.contains("boom"));
    assert_eq!((result.status, result.body.as_str()), (500, "boom"));
    assert_eq!(r.requests().len(), 4);
    let k = c.counters();
    assert_eq!(k[Counter::WriteRequestsRetries as usize], 3);
    assert_eq!(k[Counter::WriteRequestsPermanentlyFailed as usize], 1);
    assert_eq!(k[Counter::SamplesRetryLimitDropped as usize], 0);
}

#[test]
fn server_errors_until_the_limit_discard_and_continue() {
    let r = Receiver::start(vec![Reply::status(502); 4], Reply::status(204));
    let c = client(&config(
        &r.url,
        &[("on_max_retries_exceeded", "DISCARD_AND_CONTINUE")],
    ));
    let result = wait(&submit(&c, &batch(1)));
    assert_eq!(result.outcome, Outcome::DroppedRetryLimit);
    let k = c.counters();
    assert_eq!(k[Counter::SamplesRetryLimitDropped as usize], 2);
    assert_eq!(k[Counter::SamplesDropped as usize], 2);
    assert_eq!(k[Counter::WriteRequestsPermanentlyFailed as usize], 1);
    assert_eq!(wait(&submit(&c, &batch(1))).outcome, Outcome::Written);
    assert_eq!(c.counters()[Counter::SamplesOut as usize], 2);
}

#[test]
fn forbidden_and_unauthorized_are_fatal() {
    for status in [401, 403, 404] {
        let r = Receiver::start(vec![], Reply::status(status).body("denied"));
        let c = client(&config(&r.url, &[]));
        let result = wait(&submit(&c, &batch(1)));
        assert_eq!(result.outcome, Outcome::Failed, "{status}");
        assert!(result.message.contains(&format!("HTTP {status}")));
        assert_eq!(r.requests().len(), 1, "{status} is not retried");
    }
}

#[test]
fn connection_refused_is_retried_then_reported() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/api/v1/write");
    let c = client(&config(&url, &[]));
    let result = wait(&submit(&c, &batch(1)));
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(result.message.contains("no answer"), "{}", result.message);
    assert_eq!((result.status, result.body.as_str()), (0, ""));
    assert_eq!(c.counters()[Counter::WriteRequestsRetries as usize], 3);
}

#[test]
fn invalid_series_are_dropped_alone_and_counted() {
    let r = Receiver::start(vec![], Reply::status(204));
    let c = client(&config(&r.url, &[]));
    let mut w = BatchWriter::new();
    w.series("good", &[("a", "1")], &[(1.0, 1000)]);
    w.series("bad-name", &[], &[(1.0, 1000), (2.0, 2000)]);
    w.series("good", &[("a", "2"), ("a", "3")], &[(1.0, 1000)]);
    w.series("good", &[("a", "")], &[(1.0, 1000)]);
    w.series("", &[("a", "4")], &[(1.0, 1000)]);
    w.series("good", &[("a", "5")], &[(5.0, 1000)]);
    let result = wait(&submit(&c, &w.finish()));
    assert_eq!(result.outcome, Outcome::Written);
    assert_eq!(result.invalid.series, 4);
    assert_eq!(result.invalid.samples, 5);
    assert!(result.invalid.first.contains("invalid metric name"));
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&r.requests()[0].body)
        .unwrap();
    let wr = WriteRequest::decode(raw.as_slice()).unwrap();
    let values: Vec<&str> = wr
        .timeseries
        .iter()
        .map(|t| t.labels[1].value.as_str())
        .collect();
    assert_eq!(values, vec!["1", "5"]);
    let k = c.counters();
    assert_eq!(k[Counter::SamplesOut as usize], 2);
    assert_eq!(k[Counter::SamplesInvalidDropped as usize], 5);
    assert_eq!(k[Counter::SamplesDropped as usize], 5);
}

#[test]
fn a_batch_of_only_invalid_series_sends_nothing() {
    let r = Receiver::start(vec![], Reply::status(204));
    let c = client(&config(&r.url, &[]));
    let mut w = BatchWriter::new();
    w.series("1bad", &[], &[(1.0, 1)]);
    let result = wait(&submit(&c, &w.finish()));
    assert_eq!(result.outcome, Outcome::Written);
    assert_eq!(result.invalid.series, 1);
    assert_eq!(r.requests().len(), 0);
}

#[test]
fn malformed_batch_is_an_error_and_sends_nothing() {
    let r = Receiver::start(vec![], Reply::status(204));
    let c = client(&config(&r.url, &[]));
    let mut buf = batch(2);
    buf.truncate(buf.len() - 3);
    let err = c
        .submit(&buf, Box::new(|_| panic!("must not complete")))
        .unwrap_err();
    assert!(err.to_string().contains("malformed batch"), "{err}");
    assert_eq!(wait(&submit(&c, &batch(1))).outcome, Outcome::Written);
    assert_eq!(r.requests().len(), 1);
}

fn decoded(q: &support::Received) -> WriteRequest {
    let raw = snap::raw::Decoder::new().decompress_vec(&q.body).unwrap();
    WriteRequest::decode(raw.as_slice()).unwrap()
}

/// `device` label and first sample timestamp of every series of the accepted requests.
fn accepted_series(r: &Receiver, accepted_from: usize) -> Vec<(String, i64)> {
    r.requests()[accepted_from..]
        .iter()
        .flat_map(|q| decoded(q).timeseries)
        .map(|t| (t.labels[1].value.clone(), t.samples[0].timestamp))
        .collect()
}

#[test]
fn batches_are_sent_in_submission_order_and_pending_ones_coalesce() {
    let r = Receiver::start(
        vec![Reply::status(503), Reply::status(503)],
        Reply::status(204),
    );
    let c = client(&config(&r.url, &[]));
    let receivers: Vec<_> = (1..=5).map(|n| submit(&c, &batch(n))).collect();
    for rx in &receivers {
        assert_eq!(wait(rx).outcome, Outcome::Written);
    }
    let reqs = r.requests();
    // The first request is retried in place: the same body three times.
    assert_eq!(reqs[0].body, reqs[1].body);
    assert_eq!(reqs[1].body, reqs[2].body);
    // What was pending meanwhile went out coalesced, in submission order.
    assert!(reqs.len() <= 4, "{} requests", reqs.len());
    let expected: Vec<String> = (1..=5)
        .flat_map(|n| (0..n).map(|i| format!("d{i}")))
        .collect();
    let got: Vec<String> = accepted_series(&r, 2).into_iter().map(|s| s.0).collect();
    assert_eq!(got, expected);
    assert_eq!(c.counters()[Counter::SamplesOut as usize], 30);
}

/// Fixed lanes (every lane in use); adaptive lanes are tested in `adaptive_lanes.rs`.
fn lanes_config(url: &str, lanes: &str, max_request_samples: &str) -> Config {
    config(
        url,
        &[
            ("lanes", lanes),
            ("lanes.adaptive", "false"),
            ("max_request_samples", max_request_samples),
        ],
    )
}

fn lanes_client(config: &Config) -> Client {
    support::http_client(config, config.lanes, "lanes")
}

/// Series d0..d{series-1}, one sample each at `timestamp`.
fn batch_at(series: usize, timestamp: i64) -> Vec<u8> {
    let mut w = BatchWriter::new();
    for i in 0..series {
        w.series(
            "m",
            &[("device", &format!("d{i}"))],
            &[(i as f64, timestamp)],
        );
    }
    w.finish()
}

#[test]
fn lanes_keep_every_series_in_order_across_batches_in_flight() {
    let r = Receiver::start(
        vec![Reply::status(503), Reply::status(429), Reply::status(500)],
        Reply::status(204),
    );
    let c = lanes_client(&lanes_config(&r.url, "4", "100"));
    assert_eq!(c.lanes(), 4);
    let receivers: Vec<_> = (0..20)
        .map(|b| submit(&c, &batch_at(50, 1000 + b)))
        .collect();
    for rx in &receivers {
        assert_eq!(wait(rx).outcome, Outcome::Written);
    }
    let requests = r.requests();
    assert!(requests.iter().all(|q| decoded(q)
        .timeseries
        .iter()
        .map(|t| t.samples.len())
        .sum::<usize>()
        <= 100));
    assert_eq!(requests.iter().filter(|q| q.status != 204).count(), 3);
    // Every series got its 20 samples exactly once and in timestamp order, whatever lanes and
    // coalesced requests carried them.
    let mut per_series: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
    for q in requests.iter().filter(|q| q.status == 204) {
        for t in decoded(q).timeseries {
            per_series
                .entry(t.labels[1].value.clone())
                .or_default()
                .extend(t.samples.iter().map(|s| s.timestamp));
        }
    }
    assert_eq!(per_series.len(), 50);
    for (series, timestamps) in per_series {
        assert_eq!(timestamps, (1000..1020).collect::<Vec<_>>(), "{series}");
    }
    let k = c.counters();
    assert_eq!(k[Counter::SamplesOut as usize], 1000);
    assert_eq!(k[Counter::WriteRequestsRetries as usize], 3);
}

#[test]
fn a_batch_completes_only_when_all_its_parts_are_done_with_the_worst_outcome() {
    let r = Receiver::start(
        vec![Reply::status(400).body("bad part")],
        Reply::status(204),
    );
    let c = lanes_client(&lanes_config(&r.url, "4", "500"));
    let result = wait(&submit(&c, &batch_at(40, 1000)));
    assert_eq!(result.outcome, Outcome::DroppedNonRetryable);
    assert!(result.message.contains("bad part"), "{}", result.message);
    let reqs = r.requests();
    // Four lanes, four parts: one refused, three written.
    assert_eq!(reqs.len(), 4);
    // The refused part: the first request the receiver answered, which need not be the first it
    // recorded when two lanes' requests arrive together.
    let refused = reqs.iter().filter(|q| q.status == 400).collect::<Vec<_>>();
    assert_eq!(refused.len(), 1);
    let dropped: usize = decoded(refused[0]).timeseries.len();
    let k = c.counters();
    assert_eq!(
        k[Counter::SamplesNonRetryableDropped as usize],
        dropped as u64
    );
    assert_eq!(k[Counter::SamplesOut as usize], 40 - dropped as u64);
    assert_eq!(k[Counter::WriteRequestsOut as usize], 3);
}

#[test]
fn close_interrupts_a_long_backoff_and_joins_the_worker() {
    let r = Receiver::start(vec![], Reply::status(503).header("Retry-After", "3600"));
    let cfg = config(
        &r.url,
        &[
            ("retry.max_delay_ms", "3600000"),
            ("retry.max_retries", "2147483647"),
        ],
    );
    let mut c = client(&cfg);
    let rx = submit(&c, &batch(1));
    while r.requests().is_empty() {
        std::thread::sleep(Duration::from_millis(5));
    }
    let started = std::time::Instant::now();
    c.close();
    assert!(started.elapsed() < Duration::from_secs(5));
    // The abandoned batch is never completed.
    assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
    assert!(c.submit(&batch(1), Box::new(|_| {})).is_err());
}

/// A loopback listener whose accept queue is full: the kernel drops further SYNs, so a connect
/// hangs as to a black-holed host. Returns its port and the socket (keep it open).
fn black_hole() -> (u16, std::os::fd::OwnedFd, std::net::TcpStream) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a new descriptor, owned by the returned OwnedFd.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let owned = std::os::fd::OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len),
            0
        );
        assert_eq!(libc::listen(fd, 0), 0);
        let mut bound: libc::sockaddr_in = std::mem::zeroed();
        let mut bound_len = len;
        libc::getsockname(
            fd,
            &mut bound as *mut _ as *mut libc::sockaddr,
            &mut bound_len,
        );
        let port = u16::from_be(bound.sin_port);
        // The one connection a backlog of 0 holds; nobody accepts it.
        let filler = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        (port, owned, filler)
    }
}

#[test]
fn a_black_holed_endpoint_fails_each_attempt_within_the_socket_timeout() {
    let (port, _listener, _filler) = black_hole();
    let url = format!("http://127.0.0.1:{port}/api/v1/write");
    let c = client(&config(
        &url,
        &[
            ("socket_timeout_ms", "300"),
            ("retry.max_retries", "2"),
            ("on_max_retries_exceeded", "DISCARD_AND_CONTINUE"),
        ],
    ));
    let started = std::time::Instant::now();
    let result = wait(&submit(&c, &batch(1)));
    let took = started.elapsed();
    assert_eq!(result.outcome, Outcome::DroppedRetryLimit);
    assert!(
        result.message.starts_with(&format!(
            "retry limit reached: no answer from {url} after 2 retries ("
        )),
        "{}",
        result.message
    );
    assert!(
        result.message.to_lowercase().contains("timeout"),
        "{}",
        result.message
    );
    // Three attempts of at most 300 ms each, and two short backoffs.
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(c.counters()[Counter::WriteRequestsRetries as usize], 2);
}

/// Takes `delay` to sign (a credential refresh) and counts how many sign at once.
struct SlowSigner {
    delay: Duration,
    now: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

impl promsink::http::Signer for SlowSigner {
    fn sign(&self, _: &[(String, String)], _: &[u8]) -> Result<Vec<(String, String)>, String> {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.now.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        std::thread::sleep(self.delay);
        self.now.fetch_sub(1, SeqCst);
        Ok(vec![("X-Signature".into(), "slow".into())])
    }
}

#[test]
fn a_slow_signer_stalls_only_its_own_lane() {
    let r = Receiver::start(vec![], Reply::status(204));
    let cfg = lanes_config(&r.url, "4", "500");
    let signer = std::sync::Arc::new(SlowSigner {
        delay: Duration::from_millis(800),
        now: Default::default(),
        most: Default::default(),
    });
    let transports = (0..cfg.lanes)
        .map(|_| {
            Box::new(
                HttpTransport::new(&cfg)
                    .unwrap()
                    .with_signer(signer.clone()),
            ) as Box<dyn promsink::http::Transport>
        })
        .collect();
    let c = Client::new(&cfg, transports, "slow".into(), std::sync::Arc::new(|| {})).unwrap();
    let started = std::time::Instant::now();
    // 40 series: every one of the 4 lanes gets some, so 4 requests are signed.
    assert_eq!(
        wait(&submit(&c, &batch_at(40, 1_700_000_000_000))).outcome,
        Outcome::Written
    );
    let took = started.elapsed();
    assert_eq!(r.requests().len(), 4);
    // Signed side by side: one signature's time, not four (behind one lock: 3.2 s or more).
    assert_eq!(signer.most.load(std::sync::atomic::Ordering::SeqCst), 4);
    assert!(took < Duration::from_millis(2400), "{took:?}");
}

/// Two batches of one sample each submitted 50 ms apart, with requests of at most 2 samples;
/// returns the number of requests the receiver got.
fn requests_for_two_batches_apart(linger_ms: &str) -> usize {
    let r = Receiver::start(vec![], Reply::status(204));
    let c = client(&config(
        &r.url,
        &[("max_request_samples", "2"), ("linger_ms", linger_ms)],
    ));
    let first = submit(&c, &batch_at(1, 1_700_000_000_000));
    std::thread::sleep(Duration::from_millis(50));
    let second = submit(&c, &batch_at(1, 1_700_000_001_000));
    assert_eq!(wait(&first).outcome, Outcome::Written);
    assert_eq!(wait(&second).outcome, Outcome::Written);
    assert_eq!(c.counters()[Counter::SamplesOut as usize], 2);
    let requests = r.requests().len();
    assert_eq!(
        c.counters()[Counter::WriteRequestsOut as usize],
        requests as u64
    );
    requests
}

#[test]
fn a_request_that_is_not_full_lingers_for_the_next_batch() {
    // Lingering up to 1 s: the first batch's request waits for the second, and leaves full
    // as soon as it is (long before the 1 s).
    assert_eq!(requests_for_two_batches_apart("1000"), 1);
    // No lingering: each batch leaves alone.
    assert_eq!(requests_for_two_batches_apart("0"), 2);
}

#[test]
fn lingering_is_bounded() {
    let e = Config::from_pairs([("url", "http://127.0.0.1:1/w"), ("linger_ms", "1001")])
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "invalid configuration: linger_ms must be at most 1000"
    );
}
