//! Benchmark 1's native side (docs/benchmarks.md): CPU per sample of
//! - the floor: prost-encoding an in-memory `WriteRequest` and snappy-compressing it;
//! - promsink's native preparation of the same data from a JNI batch buffer: parse, validate,
//!   normalise, encode directly, compress.
//!
//! Workloads: W1 (distinct series of a metric name and 5 labels, one sample each) and W2 (10,000
//! series, 10 samples each), at batch sizes of 500 and 5,000 samples.
//! Times are the thread's CPU time, not the wall clock (the cores are shared).
//! Prints one CSV line per case: `native,<workload>,<batch>,<what>,<CPU ns per sample>,<bytes/sample
//! encoded>,<bytes/sample compressed>`.
//!
//! Run: `cargo run --release -p promsink --example encode_floor [seconds per case]`

use promsink::batch::BatchWriter;
use promsink::client::encode_batch;
use promsink::compress::Compressor;
use promsink::encode::Encoder;
use promsink_wire::v1 as wire;
use prost::Message;
use std::hint::black_box;
use std::time::Duration;

struct Series {
    metric: String,
    labels: Vec<(String, String)>,
    samples: Vec<(f64, i64)>,
}

fn w1(batch_samples: usize, offset: usize) -> Vec<Series> {
    (0..batch_samples)
        .map(|i| {
            let s = offset + i;
            Series {
                metric: "bench_w1".into(),
                labels: vec![
                    ("device".into(), format!("dev-{s}")),
                    ("fleet".into(), format!("fleet-{}", s % 100)),
                    ("model".into(), format!("model-{}", s % 7)),
                    ("region".into(), format!("region-{}", s % 5)),
                    ("firmware".into(), format!("fw-1.{}", s % 13)),
                ],
                samples: vec![(s as f64 * 0.5, 1_700_000_000_000 + s as i64)],
            }
        })
        .collect()
}

fn w2(batch_samples: usize, offset: usize) -> Vec<Series> {
    (0..batch_samples / 10)
        .map(|i| {
            let s = (offset / 10 + i) % 10_000;
            let mut series = w1(1, s).pop().unwrap();
            series.metric = "bench_w2".into();
            series.samples = (0..10)
                .map(|j| (j as f64 + 0.25, 1_700_000_000_000 + j * 1000))
                .collect();
            series
        })
        .collect()
}

fn prost_request(series: &[Series]) -> wire::WriteRequest {
    wire::WriteRequest {
        timeseries: series
            .iter()
            .map(|s| {
                let mut labels: Vec<wire::Label> = s
                    .labels
                    .iter()
                    .map(|(n, v)| wire::Label {
                        name: n.clone(),
                        value: v.clone(),
                    })
                    .collect();
                labels.push(wire::Label {
                    name: "__name__".into(),
                    value: s.metric.clone(),
                });
                labels.sort_by(|a, b| a.name.cmp(&b.name));
                wire::TimeSeries {
                    labels,
                    samples: s
                        .samples
                        .iter()
                        .map(|&(value, timestamp)| wire::Sample { value, timestamp })
                        .collect(),
                }
            })
            .collect(),
    }
}

fn batch_buffer(series: &[Series]) -> Vec<u8> {
    let mut w = BatchWriter::new();
    for s in series {
        let labels: Vec<(&str, &str)> = s
            .labels
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        w.series(&s.metric, &labels, &s.samples);
    }
    w.finish()
}

/// CPU time of the calling thread: unlike the wall clock, it does not count the time other
/// processes hold the core (the machine is shared).
fn thread_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec; the clock id is a constant Linux supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Runs `f` over the batches for at least `budget` of this thread's CPU time, returns CPU ns
/// per sample.
fn measure(
    batches: usize,
    samples_per_batch: usize,
    budget: Duration,
    mut f: impl FnMut(usize),
) -> f64 {
    for i in 0..batches.min(20) {
        f(i); // warm-up
    }
    let started = thread_cpu();
    let mut done = 0usize;
    while thread_cpu() - started < budget {
        for _ in 0..8 {
            f(done % batches);
            done += 1;
        }
    }
    (thread_cpu() - started).as_nanos() as f64 / (done * samples_per_batch) as f64
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let budget = Duration::from_secs_f64(seconds);
    for (workload, make) in [("W1", w1 as fn(usize, usize) -> Vec<Series>), ("W2", w2)] {
        for batch in [500usize, 5000] {
            // Enough distinct batches that W1's series do not repeat within a run's working set.
            let count = (2_000_000 / batch).clamp(8, 400);
            let data: Vec<Vec<Series>> = (0..count).map(|i| make(batch, i * batch)).collect();
            let samples: usize = data[0].iter().map(|s| s.samples.len()).sum();

            let requests: Vec<wire::WriteRequest> = data.iter().map(|d| prost_request(d)).collect();
            let mut encoded = Vec::new();
            let mut compressed = Vec::new();
            let mut compressor = Compressor::new();
            let floor = measure(count, samples, budget, |i| {
                encoded.clear();
                requests[i].encode(&mut encoded).unwrap();
                compressor.compress_into(&encoded, &mut compressed);
                black_box(compressed.len());
            });
            let raw_per_sample = encoded.len() as f64 / samples as f64;
            let compressed_per_sample = compressed.len() as f64 / samples as f64;
            println!(
                "native,{workload},{batch},floor (prost encode + snappy),{floor:.1},{raw_per_sample:.1},{compressed_per_sample:.1}"
            );

            let buffers: Vec<Vec<u8>> = data.iter().map(|d| batch_buffer(d)).collect();
            let mut encoder = Encoder::new();
            let ours = measure(count, samples, budget, |i| {
                let invalid = encode_batch(&buffers[i], &mut encoder).unwrap();
                compressor.compress_into(encoder.bytes(), &mut compressed);
                black_box((invalid.series, compressed.len()));
            });
            println!(
                "native,{workload},{batch},promsink (parse + validate + encode + snappy),{ours:.1},{:.1},{:.1}",
                encoder.bytes().len() as f64 / samples as f64,
                compressed.len() as f64 / samples as f64
            );
        }
    }
}
