//! Backoff over real HTTP: writers refused at the same moment retry at spread-out times, never
//! before the configured delay, and a `Retry-After` of zero or in the past never makes a tight
//! loop.

// Not every helper of the shared support module is used here.
#[allow(dead_code)]
mod support;

use crossbeam_channel::unbounded;
use promsink::batch::BatchWriter;
use promsink::client::{Client, Outcome};
use promsink::config::Config;
use promsink_wire::v1::WriteRequest;
use prost::Message;
use std::collections::HashMap;
use std::time::Duration;
use support::{Receiver, Reply};

fn client(url: &str, initial_delay_ms: &str) -> Client {
    let config = Config::from_pairs([
        ("url", url),
        ("retry.initial_delay_ms", initial_delay_ms),
        ("retry.max_delay_ms", "5000"),
        ("retry.max_retries", "5"),
    ])
    .unwrap();
    support::http_client(&config, 1, "test-sender")
}

fn batch(writer: usize) -> Vec<u8> {
    let mut w = BatchWriter::new();
    w.series(
        "up",
        &[("writer", &writer.to_string())],
        &[(1.0, 1_700_000_000_000)],
    );
    w.finish()
}

#[test]
fn writers_refused_together_retry_spread_out_and_never_early() {
    const WRITERS: usize = 8;
    let refusals = vec![Reply::status(503); WRITERS];
    let r = Receiver::start(refusals, Reply::status(204));
    let clients: Vec<Client> = (0..WRITERS).map(|_| client(&r.url, "300")).collect();
    let (tx, rx) = unbounded();
    for (i, c) in clients.iter().enumerate() {
        let tx = tx.clone();
        c.submit(&batch(i), Box::new(move |res| tx.send(res).unwrap()))
            .unwrap();
    }
    for _ in 0..WRITERS {
        let res = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(res.outcome, Outcome::Written);
    }
    // Each writer's two requests: refused, then retried.
    let mut at: HashMap<String, Vec<std::time::Instant>> = HashMap::new();
    for req in r.requests() {
        let raw = snap::raw::Decoder::new().decompress_vec(&req.body).unwrap();
        let wr = WriteRequest::decode(raw.as_slice()).unwrap();
        at.entry(wr.timeseries[0].labels[1].value.clone())
            .or_default()
            .push(req.at);
    }
    assert_eq!(at.len(), WRITERS);
    let waits: Vec<f64> = at
        .values()
        .map(|t| {
            assert_eq!(t.len(), 2);
            (t[1] - t[0]).as_secs_f64() * 1000.0
        })
        .collect();
    // Never before the configured delay; at most a quarter more (plus scheduling slack).
    for w in &waits {
        assert!(*w >= 300.0 && *w < 375.0 + 100.0, "waits {waits:?}");
    }
    // Spread: the jitter range is 75 ms; 8 uniform draws fall within 15 ms of each other with a
    // probability of about 1 in 10,000. (Without jitter they fell within 0.5% of 300 ms.)
    let (min, max) = waits
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &w| (lo.min(w), hi.max(w)));
    assert!(max - min >= 15.0, "waits {waits:?}");
}

#[test]
fn a_zero_or_past_retry_after_waits_the_backoff() {
    let r = Receiver::start(
        vec![
            Reply::status(429).header("Retry-After", "0"),
            Reply::status(503).header("Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ],
        Reply::status(204),
    );
    let c = client(&r.url, "100");
    let (tx, rx) = unbounded();
    c.submit(&batch(0), Box::new(move |res| tx.send(res).unwrap()))
        .unwrap();
    let res = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(res.outcome, Outcome::Written);
    let t: Vec<_> = r.requests().iter().map(|q| q.at).collect();
    assert_eq!(t.len(), 3);
    assert!(
        t[1] - t[0] >= Duration::from_millis(100),
        "{:?}",
        t[1] - t[0]
    );
    assert!(
        t[2] - t[1] >= Duration::from_millis(200),
        "{:?}",
        t[2] - t[1]
    );
}
