//! Remote-Write 2.0 end to end over real HTTP against a scripted in-process receiver: the body
//! and headers sent, partial writes counted exactly, and the switch to 1.0 for a receiver that
//! does not speak 2.0 (without counting anything it did not write).

// Not every helper of the shared support module is used here.
#[allow(dead_code)]
mod support;

use crossbeam_channel::unbounded;
use promsink::batch::BatchWriter;
use promsink::client::{BatchResult, Client, Outcome};
use promsink::config::Config;
use promsink::metrics::{Counter, COUNTERS};
use promsink_wire::v1::WriteRequest;
use promsink_wire::v2::Request;
use prost::Message;
use std::time::Duration;
use support::{Received, Receiver, Reply};

const WRITTEN: &str = "X-Prometheus-Remote-Write-Samples-Written";

fn v2_client(url: &str) -> Client {
    v2_client_with(url, &[])
}

fn v2_client_with(url: &str, extra: &[(&str, &str)]) -> Client {
    let mut pairs = vec![
        ("url", url),
        ("remote_write.version", "2"),
        ("retry.initial_delay_ms", "10"),
        ("retry.max_delay_ms", "20"),
        ("retry.max_retries", "3"),
    ];
    pairs.extend_from_slice(extra);
    support::http_client(&Config::from_pairs(pairs).unwrap(), 1, "test-sender")
}

/// `series` series of two samples each, at `t` and `t + 1000`.
fn batch(series: usize, t: i64) -> Vec<u8> {
    let mut w = BatchWriter::new();
    for i in 0..series {
        let device = format!("d{i}");
        w.series(
            "temperature",
            &[("device", &device), ("fleet", "f1")],
            &[(20.0 + i as f64, t), (21.0, t + 1000)],
        );
    }
    w.finish()
}

fn send(c: &Client, buf: &[u8]) -> BatchResult {
    let (tx, rx) = unbounded();
    c.submit(buf, Box::new(move |r| tx.send(r).unwrap()))
        .unwrap();
    rx.recv_timeout(Duration::from_secs(20))
        .expect("batch completed")
}

fn counters(c: &Client) -> [u64; COUNTERS] {
    c.counters()
}

fn raw(req: &Received) -> Vec<u8> {
    snap::raw::Decoder::new().decompress_vec(&req.body).unwrap()
}

fn is_v2(req: &Received) -> bool {
    req.header("content-type")
        == Some("application/x-protobuf;proto=io.prometheus.write.v2.Request")
        && req.header("x-prometheus-remote-write-version") == Some("2.0.0")
}

fn is_v1(req: &Received) -> bool {
    req.header("content-type") == Some("application/x-protobuf")
        && req.header("x-prometheus-remote-write-version") == Some("0.1.0")
}

#[test]
fn sends_a_2_0_request_with_its_headers_and_counts_what_the_receiver_wrote() {
    let r = Receiver::start(vec![], Reply::status(204).header(WRITTEN, "6"));
    let c = v2_client(&r.url);
    let result = send(&c, &batch(3, 1_700_000_000_000));
    assert_eq!(
        (result.outcome, result.message.as_str()),
        (Outcome::Written, "")
    );
    let reqs = r.requests();
    assert_eq!(reqs.len(), 1);
    assert!(is_v2(&reqs[0]), "{:?}", reqs[0].headers);
    assert_eq!(reqs[0].header("content-encoding"), Some("snappy"));
    let request = Request::decode(raw(&reqs[0]).as_slice()).unwrap();
    assert_eq!(
        request.symbols,
        [
            "",
            "__name__",
            "temperature",
            "device",
            "d0",
            "fleet",
            "f1",
            "d1",
            "d2"
        ]
    );
    assert_eq!(request.timeseries.len(), 3);
    assert_eq!(request.timeseries[2].labels_refs, [1, 2, 3, 8, 5, 6]);
    let samples: Vec<(f64, i64)> = request.timeseries[2]
        .samples
        .iter()
        .map(|s| (s.value, s.timestamp))
        .collect();
    assert_eq!(
        samples,
        [(22.0, 1_700_000_000_000), (21.0, 1_700_000_001_000)]
    );
    let n = counters(&c);
    assert_eq!(n[Counter::SamplesOut as usize], 6);
    assert_eq!(n[Counter::WriteRequestsOut as usize], 1);
    assert_eq!(n[Counter::SamplesDropped as usize], 0);
}

#[test]
fn a_partial_write_counts_only_the_refused_samples_as_dropped() {
    // What Prometheus 3 answers when part of a 2.0 request is a replay it already holds.
    let refusal = Reply::status(400)
        .header(WRITTEN, "4")
        .body("out of order sample for series {__name__=\"temperature\", device=\"d0\"}");
    let r = Receiver::start(vec![refusal], Reply::status(204).header(WRITTEN, "2"));
    let c = v2_client(&r.url);
    let result = send(&c, &batch(3, 1_700_000_000_000));
    assert_eq!(result.outcome, Outcome::DroppedNonRetryable);
    assert!(
        result.message.starts_with(&format!(
            "non-retryable answer: {} answered HTTP 400 after 0 retries; 2 of 6 samples not \
             written (the receiver wrote 4); response body: out of order sample",
            r.url
        )),
        "{}",
        result.message
    );
    let n = counters(&c);
    assert_eq!(n[Counter::SamplesOut as usize], 4);
    assert_eq!(n[Counter::WriteRequestsOut as usize], 1);
    assert_eq!(n[Counter::SamplesDropped as usize], 2);
    assert_eq!(n[Counter::SamplesNonRetryableDropped as usize], 2);
    assert_eq!(n[Counter::WriteRequestsPermanentlyFailed as usize], 1);
    assert_eq!(n[Counter::WriteRequestsRetries as usize], 0);
    // The next request is 2.0 again and fully written.
    let result = send(&c, &batch(1, 1_700_000_002_000));
    assert_eq!(result.outcome, Outcome::Written);
    assert!(r.requests().iter().all(is_v2));
    assert_eq!(counters(&c)[Counter::SamplesOut as usize], 6);
}

#[test]
fn a_2xx_without_the_written_header_is_not_written_and_switches_to_1_0() {
    // What Prometheus 2.42 and VictoriaMetrics 1.79 answer to a 2.0 request: 204, nothing stored.
    let r = Receiver::start(vec![], Reply::status(204));
    let c = v2_client(&r.url);
    let result = send(&c, &batch(2, 1_700_000_000_000));
    assert_eq!(result.outcome, Outcome::Written);
    assert_eq!(
        result.message,
        format!(
            "{} answered a Remote-Write 2.0 request with HTTP 204 without \
             X-Prometheus-Remote-Write-Samples-Written: it does not speak 2.0, so nothing of it \
             counts as written; sending Remote-Write 1.0 from now on (setRemoteWriteVersion(V1) \
             says so from the start)",
            r.url
        )
    );
    let reqs = r.requests();
    assert_eq!(reqs.len(), 2);
    assert!(is_v2(&reqs[0]) && is_v1(&reqs[1]));
    // The same series, resent as 1.0.
    let resent = WriteRequest::decode(raw(&reqs[1]).as_slice()).unwrap();
    let first = Request::decode(raw(&reqs[0]).as_slice()).unwrap();
    assert_eq!(resent.timeseries.len(), 2);
    assert_eq!(first.timeseries.len(), 2);
    assert_eq!(resent.timeseries[1].labels[1].value, "d1");
    let n = counters(&c);
    assert_eq!(n[Counter::SamplesOut as usize], 4);
    assert_eq!(n[Counter::WriteRequestsOut as usize], 1);
    assert_eq!(n[Counter::WriteRequestsRetries as usize], 0);
    assert_eq!(n[Counter::SamplesDropped as usize], 0);
    // From now on 1.0, said once.
    let result = send(&c, &batch(1, 1_700_000_002_000));
    assert_eq!(
        (result.outcome, result.message.as_str()),
        (Outcome::Written, "")
    );
    let reqs = r.requests();
    assert_eq!(reqs.len(), 3);
    assert!(is_v1(&reqs[2]));
    assert_eq!(counters(&c)[Counter::SamplesOut as usize], 6);
}

#[test]
fn unsupported_media_type_switches_to_1_0() {
    let r = Receiver::start(vec![Reply::status(415)], Reply::status(204));
    let c = v2_client(&r.url);
    let result = send(&c, &batch(1, 1_700_000_000_000));
    assert_eq!(result.outcome, Outcome::Written);
    assert!(
        result
            .message
            .contains("with HTTP 415: it does not speak 2.0"),
        "{}",
        result.message
    );
    let reqs = r.requests();
    assert_eq!(reqs.len(), 2);
    assert!(is_v2(&reqs[0]) && is_v1(&reqs[1]));
    assert_eq!(counters(&c)[Counter::SamplesOut as usize], 2);
}

#[test]
fn a_5xx_with_a_partial_write_is_retried_whole() {
    let r = Receiver::start(
        vec![Reply::status(503).header(WRITTEN, "1")],
        Reply::status(204).header(WRITTEN, "4"),
    );
    let c = v2_client(&r.url);
    let result = send(&c, &batch(2, 1_700_000_000_000));
    assert_eq!(result.outcome, Outcome::Written);
    let reqs = r.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].body, reqs[1].body);
    let n = counters(&c);
    assert_eq!(n[Counter::SamplesOut as usize], 4);
    assert_eq!(n[Counter::WriteRequestsRetries as usize], 1);
}

#[test]
fn a_2xx_that_wrote_less_than_it_was_sent_counts_the_rest_as_refused() {
    let r = Receiver::start(vec![], Reply::status(200).header(WRITTEN, "3"));
    let c = v2_client(&r.url);
    let result = send(&c, &batch(2, 1_700_000_000_000));
    assert_eq!(result.outcome, Outcome::DroppedNonRetryable);
    assert!(
        result.message.starts_with("refused in part: "),
        "{}",
        result.message
    );
    assert!(result
        .message
        .contains("1 of 4 samples not written (the receiver wrote 3)"));
    let n = counters(&c);
    assert_eq!(n[Counter::SamplesOut as usize], 3);
    assert_eq!(n[Counter::SamplesNonRetryableDropped as usize], 1);
    assert_eq!(n[Counter::SamplesDropped as usize], 1);
}

#[test]
fn a_400_without_the_written_header_switches_to_1_0() {
    let r = Receiver::start(
        vec![Reply::status(400).body("unsupported")],
        Reply::status(204),
    );
    let c = v2_client(&r.url);
    let result = send(&c, &batch(1, 1_700_000_000_000));
    assert_eq!(result.outcome, Outcome::Written);
    assert!(
        result.message.contains(
            "with HTTP 400 without X-Prometheus-Remote-Write-Samples-Written: it does not speak 2.0"
        ),
        "{}",
        result.message
    );
    let reqs = r.requests();
    assert!(reqs.len() == 2 && is_v2(&reqs[0]) && is_v1(&reqs[1]));
    assert_eq!(counters(&c)[Counter::SamplesOut as usize], 2);
}

#[test]
fn the_switch_is_told_even_when_another_request_of_the_batch_ends_worse() {
    // One batch, three requests of two samples: the first finds a 1.0 receiver (and is resent as
    // 1.0), the second is refused.
    let r = Receiver::start(
        vec![
            Reply::status(204),
            Reply::status(204),
            Reply::status(400).body("bad"),
        ],
        Reply::status(204),
    );
    let c = v2_client_with(
        &r.url,
        &[("max_request_samples", "2"), ("lanes.adaptive", "false")],
    );
    let result = send(&c, &batch(3, 1_700_000_000_000));
    assert_eq!(result.outcome, Outcome::DroppedNonRetryable);
    assert!(
        result.message.contains("it does not speak 2.0")
            && result.message.contains(". Then: non-retryable answer: ")
            && result
                .message
                .ends_with("2 samples not written; response body: bad"),
        "{}",
        result.message
    );
    assert_eq!(r.requests().len(), 4);
}
