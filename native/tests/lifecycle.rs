//! The client's whole lifecycle, many times over: create, submit (valid, malformed and partly
//! invalid batches), wait for the completions, close; and close while a batch waits in a very
//! long backoff. Written to run under valgrind (`scripts/leak-check.sh`): every client must free
//! everything it allocated, join its worker and drop every completion it will never call.
//!
//! `PROMSINK_LIFECYCLE_ROUNDS` sets the number of rounds (default 50).

// Not every helper of the shared support module is used here.
#[allow(dead_code)]
mod support;

use crossbeam_channel::{unbounded, Receiver as Rx, RecvTimeoutError};
use promsink::batch::BatchWriter;
use promsink::client::{BatchResult, Client, Outcome};
use promsink::config::Config;
use promsink::error::Error;
use promsink::metrics::Counter;
use std::time::{Duration, Instant};
use support::{Receiver, Reply};

/// Generous: valgrind runs the code tens of times slower.
const PATIENCE: Duration = Duration::from_secs(120);

fn rounds() -> usize {
    std::env::var("PROMSINK_LIFECYCLE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

fn client(url: &str, extra: &[(&str, &str)], name: String) -> Client {
    let mut pairs = vec![
        ("url", url),
        ("retry.initial_delay_ms", "5"),
        ("retry.max_delay_ms", "20"),
        ("retry.max_retries", "3"),
        ("socket_timeout_ms", "60000"),
    ];
    pairs.extend_from_slice(extra);
    support::http_client(&Config::from_pairs(pairs).unwrap(), 1, &name)
}

fn valid_batch(round: usize, series: usize) -> Vec<u8> {
    let mut w = BatchWriter::new();
    for i in 0..series {
        let device = format!("d{round}-{i}");
        w.series(
            "lifecycle_temperature",
            &[("device", &device), ("fleet", "f1")],
            &[
                (20.0 + i as f64, 1_700_000_000_000),
                (21.5, 1_700_000_001_000),
            ],
        );
    }
    w.finish()
}

/// Two valid series (3 samples) around three invalid ones (4 samples).
fn partly_invalid_batch() -> Vec<u8> {
    let mut w = BatchWriter::new();
    w.series("good", &[("a", "1")], &[(1.0, 1000), (2.0, 2000)]);
    w.series("bad-name", &[], &[(1.0, 1000)]);
    w.series(
        "good",
        &[("a", "2"), ("a", "3")],
        &[(1.0, 1000), (3.0, 900)],
    );
    w.series("good", &[("__reserved", "x")], &[(1.0, 1000)]);
    w.series("good", &[("a", "4")], &[(4.0, 1000)]);
    w.finish()
}

/// Submits `batch`; the completion sends its result on the returned channel. The channel
/// disconnects when the completion is dropped, called or not: that is how the test sees that
/// a client released a completion it will never call.
fn submit(c: &Client, batch: &[u8]) -> Rx<BatchResult> {
    let (tx, rx) = unbounded();
    c.submit(
        batch,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    )
    .unwrap();
    rx
}

fn completed(rx: &Rx<BatchResult>) -> BatchResult {
    rx.recv_timeout(PATIENCE).expect("batch completed")
}

/// True once the completion behind `rx` was dropped without being called.
fn dropped_uncalled(rx: &Rx<BatchResult>) -> bool {
    matches!(
        rx.recv_timeout(Duration::from_secs(5)),
        Err(RecvTimeoutError::Disconnected)
    )
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Live threads of this process.
fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A client used normally: batches of every kind, then closed (or just dropped).
fn normal_round(receiver: &Receiver, round: usize) {
    let mut c = client(&receiver.url, &[], format!("lifecycle-{round}"));

    let first = submit(&c, &valid_batch(round, 1 + round % 4));
    // Malformed: rejected at once, its completion dropped uncalled, nothing queued.
    let mut malformed = valid_batch(round, 2);
    malformed.truncate(malformed.len() - 1 - round % 7);
    let (tx, never) = unbounded::<BatchResult>();
    let err = c
        .submit(
            &malformed,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        )
        .unwrap_err();
    assert!(matches!(err, Error::MalformedBatch(_)), "{err:?}");
    assert!(dropped_uncalled(&never), "malformed batch completion kept");
    let partly = submit(&c, &partly_invalid_batch());
    // Only invalid series: completes without a request.
    let mut w = BatchWriter::new();
    w.series("", &[("a", "b")], &[(1.0, 1)]);
    let only_invalid = submit(&c, &w.finish());
    let last = submit(&c, &valid_batch(round, 3));

    assert_eq!(completed(&first).outcome, Outcome::Written);
    let p = completed(&partly);
    assert_eq!(p.outcome, Outcome::Written);
    assert_eq!((p.invalid.series, p.invalid.samples), (3, 4));
    let o = completed(&only_invalid);
    assert_eq!((o.outcome, o.invalid.series), (Outcome::Written, 1));
    let l = completed(&last);
    assert_eq!(l.outcome, Outcome::Written);
    let samples = 2 * (1 + round % 4) as u64 + 3 + 6;
    assert_eq!(l.counters[Counter::SamplesOut as usize], samples);
    // Three batches with valid series; batches pending together may share one request.
    assert!((1..=3).contains(&l.counters[Counter::WriteRequestsOut as usize]));
    assert_eq!(l.counters[Counter::SamplesInvalidDropped as usize], 5);

    match round % 3 {
        0 => c.close(),
        1 => {
            c.close();
            c.close(); // idempotent
            assert_eq!(
                c.submit(&valid_batch(round, 1), Box::new(|_| {})),
                Err(Error::Closed)
            );
        }
        _ => {} // closed by Drop
    }
    drop(c);
}

/// A client whose first batch waits in a one-hour backoff, with more batches queued behind it,
/// closed in the middle of the wait.
fn close_during_backoff(receiver: &Receiver, round: usize) {
    let mut c = client(
        &receiver.url,
        &[
            ("retry.max_delay_ms", "3600000000"),
            ("retry.max_retries", "2147483647"),
        ],
        format!("lifecycle-backoff-{round}"),
    );
    let waiting = submit(&c, &valid_batch(round, 2));
    let queued: Vec<_> = (0..3)
        .map(|i| submit(&c, &valid_batch(round, i + 1)))
        .collect();
    // The retry counter moves just before the worker starts its wait.
    wait_until("the first retry", || {
        c.counters()[Counter::WriteRequestsRetries as usize] >= 1
    });
    let started = Instant::now();
    if round.is_multiple_of(2) {
        c.close();
        drop(c);
    } else {
        drop(c);
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "close waited for the backoff: {:?}",
        started.elapsed()
    );
    // Abandoned, never completed, and released.
    assert!(dropped_uncalled(&waiting), "waiting batch completion kept");
    for rx in &queued {
        assert!(dropped_uncalled(rx), "queued batch completion kept");
    }
}

#[test]
fn clients_are_created_used_and_closed_many_times() {
    let ok = Receiver::start(vec![], Reply::status(204));
    let throttled = Receiver::start(
        vec![],
        Reply::status(503)
            .header("Retry-After", "3600")
            .body("slow down"),
    );
    let threads_before = threads();
    let rounds = rounds();
    for round in 0..rounds {
        // A client that is never used.
        drop(client(&ok.url, &[], format!("lifecycle-idle-{round}")));
        normal_round(&ok, round);
        close_during_backoff(&throttled, round);
    }
    let sent = ok.requests();
    // Three batches with valid series per round; batches pending together may share a request.
    assert!(
        (rounds..=3 * rounds).contains(&sent.len()),
        "{}",
        sent.len()
    );
    for r in &sent {
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/api/v1/write")
        );
        assert_eq!(r.header("content-encoding"), Some("snappy"));
        let raw = snap::raw::Decoder::new().decompress_vec(&r.body).unwrap();
        assert!(!raw.is_empty());
    }
    // One attempt per backoff client: the retry, an hour later, never happened.
    assert_eq!(throttled.requests().len(), rounds);
    // Every worker was joined. The receivers' connection threads end when the clients'
    // connections close, which they see a moment later.
    let mut now = threads();
    let start = Instant::now();
    while now > threads_before && start.elapsed() < PATIENCE {
        std::thread::sleep(Duration::from_millis(20));
        now = threads();
    }
    assert!(
        now <= threads_before,
        "{now} threads left, {threads_before} before the rounds"
    );
}
