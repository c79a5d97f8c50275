//! Fuzz harness for the batch parser and everything after it that touches the untrusted buffer
//! (validation, normalisation, protobuf encoding, snappy), without cargo-fuzz or libFuzzer (they
//! need a nightly toolchain). A small deterministic PRNG generates inputs: random byte strings,
//! valid batches with hostile content, and mutations of those (bit flips, interesting bytes,
//! boundary values in u32 length fields, truncation at every position, insertions, deletions,
//! splices of two batches). Every input goes through `client::encode_batch` and through a direct
//! `BatchReader` walk; the two must agree, errors must be `MalformedBatch`, and every accepted input
//! is checked against an independent model of the validation rules and decoded with prost.
//!
//! Environment:
//! - `PROMSINK_FUZZ_ITERATIONS`: number of inputs (default 20000, so `cargo test` stays fast);
//! - `PROMSINK_FUZZ_SEED`: seed, decimal or `0x` hex (default fixed, so runs are reproducible);
//! - `PROMSINK_FUZZ_INPUT`: hex of one input to run alone (to reproduce a reported failure).
//!
//! A long run:
//! `PROMSINK_FUZZ_ITERATIONS=1000000 cargo test --release -p promsink --test fuzz_batch -- --nocapture`
//!
//! A panic anywhere (the library's, or an `invariant` of this harness) stops the run with the
//! input in hex, the panic message and how to reproduce it.

use promsink::batch::{BatchReader, BatchWriter, HEADER_LEN, MAGIC, SAMPLE_LEN, VERSION};
use promsink::client::encode_batch;
use promsink::compress::Compressor;
use promsink::encode::Encoder;
use promsink::error::Error;
use promsink::validate::{Invalid, Normalizer, Samples};
use promsink_wire::v1::WriteRequest;
use prost::Message;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

const DEFAULT_ITERATIONS: u64 = 20_000;
const DEFAULT_SEED: u64 = 0x7072_6f6d_7369_6e6b; // "promsink"

/// Fails the current input with a message the report recognises as the harness's own check.
macro_rules! invariant {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            panic!("invariant violated: {}", format!($($arg)+));
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Deterministic PRNG (splitmix64): reproducible from the seed, no crate needed.

struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo)
    }

    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Generation of batch content.

/// One series as generated: raw bytes, so names and values need not be UTF-8.
#[derive(Clone, Debug)]
struct SeriesSpec {
    metric: Vec<u8>,
    labels: Vec<(Vec<u8>, Vec<u8>)>,
    samples: Vec<(f64, i64)>,
}

const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const METRIC_FIRST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:";
const METRIC_REST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:0123456789";
const LABEL_FIRST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_";
const LABEL_REST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789";
const VALUE_CHARS: &[u8] =
    b"abcdefghijklmnopqrstuvwxyz0123456789 -_.,:;/=+*#@!?'\"\\{}[]()<>|~`$%^&";
/// Byte sequences that are not UTF-8: stray continuation, overlong, surrogate, beyond U+10FFFF,
/// truncated multi-byte sequences, bytes never valid.
const NOT_UTF8: &[&[u8]] = &[
    b"\xff",
    b"\xfe\xfe",
    b"\x80",
    b"\xbf",
    b"\xc0\x80",
    b"\xc1\xbf",
    b"\xc3",
    b"\xe2\x82",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xf0\x9f\x98",
    b"\xf8\x88\x80\x80\x80",
];
/// Valid UTF-8 that is not ASCII, or ASCII that is legal in a value but not in a name.
const UNICODE_VALUES: &[&str] = &[
    "Zürich",
    "東京",
    "🚀 rocket",
    "é",
    "\u{0}",
    "tab\there",
    "line\nbreak",
    "\u{feff}bom",
    "\u{10ffff}",
    "a\u{301}",
];

fn name_from(rng: &mut Rng, first: &[u8], rest: &[u8], len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| rng.pick(if i == 0 { first } else { rest }))
        .collect()
}

fn insert_at(rng: &mut Rng, mut s: Vec<u8>, what: &[u8]) -> Vec<u8> {
    let at = rng.below(s.len() + 1);
    s.splice(at..at, what.iter().copied());
    s
}

fn with_invalid_utf8(rng: &mut Rng, s: Vec<u8>) -> Vec<u8> {
    let bad = rng.pick(NOT_UTF8);
    insert_at(rng, s, bad)
}

fn gen_metric(rng: &mut Rng, clean: bool) -> Vec<u8> {
    let len = rng.range(1, 24);
    let valid = name_from(rng, METRIC_FIRST, METRIC_REST, len);
    if clean {
        return valid;
    }
    match rng.below(18) {
        0 => Vec::new(),
        1 => {
            let mut v = vec![rng.pick(b"0123456789")];
            v.extend_from_slice(&valid);
            v
        }
        2 => {
            let bad = rng.pick(b"-. /{}=\"\\,\0\x7f");
            insert_at(rng, valid, &[bad])
        }
        3 => with_invalid_utf8(rng, valid),
        4 => {
            // Valid as a metric name: only label names reserve `__`.
            let mut v = b"__".to_vec();
            v.extend_from_slice(if rng.one_in(2) { b"name__" } else { &valid });
            v
        }
        5 => {
            let len = rng.range(64, 400);
            name_from(rng, METRIC_FIRST, METRIC_REST, len)
        }
        6 => insert_at(rng, valid, "é".as_bytes()),
        7 => vec![rng.pick(b":_aZ")],
        _ => valid,
    }
}

fn gen_label_name(rng: &mut Rng, clean: bool, existing: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let len = rng.range(1, 16);
    let mut valid = name_from(rng, LABEL_FIRST, LABEL_REST, len);
    if valid.starts_with(b"__") {
        valid[1] = b'x';
    }
    if clean {
        if existing.iter().any(|(n, _)| *n == valid) {
            valid.extend_from_slice(format!("_{}", existing.len()).as_bytes());
        }
        return valid;
    }
    match rng.below(22) {
        0 => Vec::new(),
        1 => b"__name__".to_vec(),
        2 => {
            let mut v = b"__".to_vec();
            v.extend_from_slice(&valid);
            v
        }
        3 => {
            let mut v = vec![rng.pick(b"0123456789")];
            v.extend_from_slice(&valid);
            v
        }
        4 => insert_at(rng, valid, b":"),
        5 => {
            let bad: &[u8] = rng.pick(&[b"-", b".", b" ", b"\0", "é".as_bytes()]);
            insert_at(rng, valid, bad)
        }
        6 => with_invalid_utf8(rng, valid),
        7 | 8 if !existing.is_empty() => existing[rng.below(existing.len())].0.clone(),
        9 => b"_".to_vec(),
        10 => vec![rng.pick(LETTERS)],
        _ => valid,
    }
}

fn gen_label_value(rng: &mut Rng, clean: bool) -> Vec<u8> {
    let value = match rng.below(8) {
        0 => rng.pick(UNICODE_VALUES).as_bytes().to_vec(),
        1 => {
            let len = rng.range(100, 700);
            (0..len).map(|_| rng.pick(VALUE_CHARS)).collect()
        }
        _ => {
            let len = rng.range(1, 12);
            (0..len).map(|_| rng.pick(VALUE_CHARS)).collect()
        }
    };
    if clean {
        return value;
    }
    match rng.below(12) {
        0 => Vec::new(),
        1 => with_invalid_utf8(rng, value),
        2 => rng.pick(NOT_UTF8).to_vec(),
        _ => value,
    }
}

fn gen_value(rng: &mut Rng) -> f64 {
    match rng.below(14) {
        0 => 0.0,
        1 => -0.0,
        2 => f64::NAN,
        3 => f64::from_bits(0x7ff0_0000_0000_0002), // Prometheus stale marker
        4 => f64::INFINITY,
        5 => f64::NEG_INFINITY,
        6 => f64::MIN_POSITIVE,
        7 => f64::from_bits(1), // smallest subnormal
        8 => f64::MAX,
        9 => f64::MIN,
        10 => f64::from_bits(rng.next_u64()),
        _ => rng.below(1_000_000) as f64 / 8.0 - 1000.0,
    }
}

fn gen_samples(rng: &mut Rng) -> Vec<(f64, i64)> {
    let count = match rng.below(12) {
        0 => 0,
        1 => rng.range(16, 80),
        _ => rng.range(1, 6),
    };
    const EXTREMES: &[i64] = &[i64::MIN, -1, 0, 1, i64::MAX, 1_700_000_000_000];
    let mode = rng.below(6);
    let mut t = 1_700_000_000_000i64 + rng.below(1 << 30) as i64;
    (0..count)
        .map(|_| {
            let ts = match mode {
                0 => {
                    t = t.saturating_add(rng.below(1000) as i64); // ordered, equal possible
                    t
                }
                1 => {
                    t = t.saturating_sub(rng.below(1000) as i64); // reversed
                    t
                }
                2 => 1_700_000_000_000 + rng.below(10_000) as i64, // shuffled
                3 => t,                                            // all equal
                4 => rng.pick(EXTREMES),
                _ => rng.next_u64() as i64,
            };
            (gen_value(rng), ts)
        })
        .collect()
}

/// A batch of series. `clean` batches hold only valid series.
fn gen_batch(rng: &mut Rng) -> Vec<SeriesSpec> {
    let clean = rng.one_in(3);
    let series = match rng.below(10) {
        0 => 0,
        1 => rng.range(8, 24),
        _ => rng.range(1, 5),
    };
    (0..series)
        .map(|_| {
            let metric = gen_metric(rng, clean);
            let label_count = if rng.one_in(10) {
                rng.range(8, 30)
            } else {
                rng.below(5)
            };
            let mut labels: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            for _ in 0..label_count {
                let name = gen_label_name(rng, clean, &labels);
                let value = gen_label_value(rng, clean);
                labels.push((name, value));
            }
            SeriesSpec {
                metric,
                labels,
                samples: gen_samples(rng),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Batch building: an independent writer following docs/batch-format.md, checked against
// `BatchWriter`, which also records where the fields are for targeted mutations.

struct Built {
    bytes: Vec<u8>,
    specs: Vec<SeriesSpec>,
    /// Offsets of every u32 field: entry count, entry lengths, sample and label counts, string
    /// lengths.
    u32_fields: Vec<usize>,
    /// Byte ranges of string contents and samples: changing bytes there keeps the format valid.
    payload: Vec<Range<usize>>,
    /// String content ranges only (where `BatchWriter` got a placeholder for non-UTF-8 bytes).
    strings: Vec<Range<usize>>,
}

fn reference_batch(specs: &[SeriesSpec]) -> Built {
    let mut b = Vec::new();
    let mut u32_fields = vec![8];
    let mut payload = Vec::new();
    let mut strings = Vec::new();
    b.extend_from_slice(b"PMSK");
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&(specs.len() as u32).to_le_bytes());
    let mut put_str = |b: &mut Vec<u8>, s: &[u8], fields: &mut Vec<usize>| {
        fields.push(b.len());
        b.extend_from_slice(&(s.len() as u32).to_le_bytes());
        let r = b.len()..b.len() + s.len();
        b.extend_from_slice(s);
        strings.push(r.clone());
        payload.push(r);
    };
    let mut sample_ranges = Vec::new();
    for s in specs {
        let start = b.len();
        u32_fields.extend([start, start + 4, start + 8]);
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&(s.samples.len() as u32).to_le_bytes());
        b.extend_from_slice(&(s.labels.len() as u32).to_le_bytes());
        put_str(&mut b, &s.metric, &mut u32_fields);
        for (n, v) in &s.labels {
            put_str(&mut b, n, &mut u32_fields);
            put_str(&mut b, v, &mut u32_fields);
        }
        for (v, t) in &s.samples {
            sample_ranges.push(b.len()..b.len() + 16);
            b.extend_from_slice(&v.to_bits().to_le_bytes());
            b.extend_from_slice(&t.to_le_bytes());
        }
        let len = (b.len() - start - 4) as u32;
        b[start..start + 4].copy_from_slice(&len.to_le_bytes());
    }
    payload.extend(sample_ranges);
    Built {
        bytes: b,
        specs: specs.to_vec(),
        u32_fields,
        payload,
        strings,
    }
}

/// Builds the batch with `BatchWriter` (which takes `&str`: a non-UTF-8 name or value goes in as
/// a placeholder of the same length, and its real bytes are spliced in afterwards), and checks
/// that it writes exactly what the format document describes.
fn build(specs: &[SeriesSpec]) -> Built {
    let text = |b: &[u8]| match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => "X".repeat(b.len()),
    };
    let mut w = BatchWriter::new();
    for s in specs {
        let labels: Vec<(String, String)> =
            s.labels.iter().map(|(n, v)| (text(n), text(v))).collect();
        let labels: Vec<(&str, &str)> = labels
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        w.series(&text(&s.metric), &labels, &s.samples);
    }
    let mut bytes = w.finish();
    let reference = reference_batch(specs);
    for r in &reference.strings {
        bytes[r.clone()].copy_from_slice(&reference.bytes[r.clone()]);
    }
    assert!(
        bytes == reference.bytes,
        "BatchWriter disagrees with docs/batch-format.md for {specs:?}"
    );
    reference
}

// ---------------------------------------------------------------------------------------------
// Mutations.

const INTERESTING_BYTES: &[u8] = &[0, 0xff, 0x7f, 0x80, 1, 0xfe];

fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn boundary_u32(rng: &mut Rng, current: u32, buf_len: usize, remaining: usize) -> u32 {
    let len = buf_len as u32;
    let rem = remaining as u32;
    rng.pick(&[
        0,
        1,
        u32::MAX,
        u32::MAX - 3,
        0x7fff_ffff,
        0x8000_0000,
        len.wrapping_sub(1),
        len.wrapping_add(1),
        current.wrapping_sub(1),
        current.wrapping_add(1),
        rem,
        rem.wrapping_sub(1),
        rem.wrapping_add(1),
        rem / 16,
        rem / 16 + 1,
        0x1000_0000, // times 16 is 2^32
        0x0fff_ffff,
    ])
}

/// One to four structural mutations of `base` (spliced with `other` sometimes).
fn mutate(rng: &mut Rng, base: &Built, other: &Built) -> Vec<u8> {
    let mut b = base.bytes.clone();
    let rounds = if rng.one_in(2) { 1 } else { rng.range(2, 5) };
    for _ in 0..rounds {
        match rng.below(11) {
            0 | 1 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            2 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = rng.pick(INTERESTING_BYTES);
            }
            3..=5 if b.len() >= 4 => {
                // A u32 field of the original layout (most often) or any offset.
                let fields: Vec<usize> = base
                    .u32_fields
                    .iter()
                    .copied()
                    .filter(|&f| f + 4 <= b.len())
                    .collect();
                let at = if !fields.is_empty() && !rng.one_in(5) {
                    rng.pick(&fields)
                } else {
                    rng.below(b.len() - 3)
                };
                let value = boundary_u32(rng, read_u32(&b, at), b.len(), b.len() - at - 4);
                b[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
            6 => {
                let len = rng.below(b.len() + 1);
                b.truncate(len);
            }
            7 => {
                let n = rng.range(1, 9);
                let ins: Vec<u8> = if rng.one_in(2) {
                    rng.bytes(n)
                } else {
                    (0..n).map(|_| rng.pick(INTERESTING_BYTES)).collect()
                };
                let at = rng.below(b.len() + 1);
                b.splice(at..at, ins);
            }
            8 if !b.is_empty() => {
                let at = rng.below(b.len());
                let end = (at + rng.range(1, 9)).min(b.len());
                b.drain(at..end);
            }
            9 if !b.is_empty() => {
                // Repeat a chunk elsewhere.
                let at = rng.below(b.len());
                let end = (at + rng.range(1, 33)).min(b.len());
                let chunk = b[at..end].to_vec();
                let to = rng.below(b.len() + 1);
                b.splice(to..to, chunk);
            }
            _ => {
                // Splice: a prefix of this buffer and a suffix of the other batch.
                let i = rng.below(b.len() + 1);
                let j = rng.below(other.bytes.len() + 1);
                b.truncate(i);
                b.extend_from_slice(&other.bytes[j..]);
            }
        }
    }
    b
}

/// Changes bytes inside strings and samples only: the format stays valid (content may not).
fn mutate_content(rng: &mut Rng, base: &Built) -> Option<Vec<u8>> {
    let ranges: Vec<&Range<usize>> = base.payload.iter().filter(|r| !r.is_empty()).collect();
    if ranges.is_empty() {
        return None;
    }
    let mut b = base.bytes.clone();
    for _ in 0..rng.range(1, 5) {
        let r = rng.pick(&ranges);
        let i = rng.range(r.start, r.end);
        match rng.below(3) {
            0 => b[i] ^= 1 << rng.below(8),
            1 => b[i] = rng.pick(INTERESTING_BYTES),
            _ => b[i] = rng.next_u64() as u8,
        }
    }
    Some(b)
}

// ---------------------------------------------------------------------------------------------
// The model: what validation and normalisation must do, written from failure-semantics.md.

#[derive(Debug)]
struct View {
    metric: Vec<u8>,
    labels: Vec<(Vec<u8>, Vec<u8>)>,
    samples: Vec<(f64, i64)>,
}

struct Normal {
    labels: Vec<(Vec<u8>, Vec<u8>)>,
    samples: Vec<(f64, i64)>,
    in_order: bool,
}

fn is_metric_name(b: &[u8]) -> bool {
    !b.is_empty()
        && b.iter().enumerate().all(|(i, &c)| {
            c.is_ascii_alphabetic() || c == b'_' || c == b':' || (i > 0 && c.is_ascii_digit())
        })
}

fn is_label_name(b: &[u8]) -> bool {
    !b.is_empty()
        && b.iter()
            .enumerate()
            .all(|(i, &c)| c.is_ascii_alphabetic() || c == b'_' || (i > 0 && c.is_ascii_digit()))
}

fn model(v: &View) -> Result<Normal, Invalid> {
    if v.metric.is_empty() {
        return Err(Invalid::MissingMetricName);
    }
    if !is_metric_name(&v.metric) {
        return Err(Invalid::InvalidMetricName);
    }
    for (name, value) in &v.labels {
        if !is_label_name(name) {
            return Err(Invalid::InvalidLabelName);
        }
        if name.starts_with(b"__") {
            return Err(Invalid::ReservedLabelName);
        }
        if value.is_empty() {
            return Err(Invalid::EmptyLabelValue);
        }
        if std::str::from_utf8(value).is_err() {
            return Err(Invalid::InvalidUtf8);
        }
    }
    let mut labels = vec![(b"__name__".to_vec(), v.metric.clone())];
    labels.extend(v.labels.iter().cloned());
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    if labels.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(Invalid::DuplicateLabelName);
    }
    let in_order = v.samples.windows(2).all(|w| w[0].1 <= w[1].1);
    let mut samples = v.samples.clone();
    samples.sort_by_key(|s| s.1); // stable
    Ok(Normal {
        labels,
        samples,
        in_order,
    })
}

fn same_samples(a: &[(f64, i64)], b: &[(f64, i64)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.0.to_bits() == y.0.to_bits() && x.1 == y.1)
}

// ---------------------------------------------------------------------------------------------
// Running one input.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Accept,
    Reject,
    Any,
}

#[derive(Default)]
struct Checked {
    error: Option<String>,
    series: usize,
    invalid: u64,
    encoded: usize,
    reasons: Vec<Invalid>,
    resorted: usize,
    no_samples: usize,
}

struct Ctx {
    encoder: Encoder,
    compressor: Compressor,
    body: Vec<u8>,
}

fn check(input: &[u8], expect: Expect, spec: Option<&[SeriesSpec]>, ctx: &mut Ctx) -> Checked {
    let mut out = Checked::default();
    // 1. What the client does with a submitted buffer.
    let via_client = encode_batch(input, &mut ctx.encoder);

    // 2. The reader API directly, with the normaliser on every series.
    let mut views: Vec<View> = Vec::new();
    let mut expected: Vec<Result<Normal, Invalid>> = Vec::new();
    let direct: Result<(), Error> = (|| {
        let mut reader = BatchReader::new(input)?;
        let entries = reader.remaining_entries();
        let mut normalizer = Normalizer::new();
        while let Some(series) = reader.next_series() {
            let s = match series {
                Ok(s) => s,
                Err(e) => {
                    invariant!(
                        reader.next_series().is_none(),
                        "the reader goes on after an error"
                    );
                    return Err(e);
                }
            };
            let labels: Vec<(Vec<u8>, Vec<u8>)> =
                s.labels().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
            invariant!(
                labels.len() == s.label_count(),
                "labels() gave {} labels, label_count() is {}",
                labels.len(),
                s.label_count()
            );
            invariant!(
                s.samples().len() == s.sample_count() && s.samples().count() == s.sample_count(),
                "samples() length disagrees with sample_count() {}",
                s.sample_count()
            );
            let view = View {
                metric: s.metric_name.to_vec(),
                labels,
                samples: s.samples().collect(),
            };
            let want = model(&view);
            match (normalizer.normalise(&s), &want) {
                (Ok(got), Ok(want)) => {
                    let got_labels: Vec<(Vec<u8>, Vec<u8>)> = got
                        .labels
                        .iter()
                        .map(|(n, v)| (n.to_vec(), v.to_vec()))
                        .collect();
                    invariant!(
                        got_labels == want.labels,
                        "normalised labels {got_labels:?}, expected {:?}",
                        want.labels
                    );
                    let mut got_samples = Vec::new();
                    got.samples.for_each(|v, t| got_samples.push((v, t)));
                    invariant!(
                        got.samples.len() == got_samples.len(),
                        "Samples::len() is wrong"
                    );
                    invariant!(
                        same_samples(&got_samples, &want.samples),
                        "normalised samples {got_samples:?}, expected {:?}",
                        want.samples
                    );
                    invariant!(
                        matches!(got.samples, Samples::InOrder(_)) == want.in_order,
                        "samples copied although ordered, or not sorted although unordered"
                    );
                }
                (Err(got), Err(want)) => {
                    invariant!(
                        got == *want,
                        "series rejected as {got:?}, expected {want:?}"
                    )
                }
                (got, want) => invariant!(
                    false,
                    "normaliser says {:?}, model says {:?} for {view:?}",
                    got.err(),
                    want.as_ref().err()
                ),
            }
            views.push(view);
            expected.push(want);
        }
        invariant!(
            views.len() == entries as usize,
            "read {} series of {entries} entries",
            views.len()
        );
        invariant!(
            reader.next_series().is_none(),
            "the reader goes on after the end"
        );
        Ok(())
    })();

    // 3. Both paths must agree, and an error must be a malformed batch.
    match (&via_client, &direct) {
        (Ok(_), Ok(())) => {}
        (Err(a), Err(b)) => {
            invariant!(a == b, "encode_batch says {a:?}, the reader says {b:?}");
            invariant!(
                matches!(a, Error::MalformedBatch(_)) && a.code() == 1,
                "error is not MalformedBatch: {a:?}"
            );
            invariant!(
                a.to_string().starts_with("malformed batch: "),
                "error message {a}"
            );
        }
        (a, b) => invariant!(false, "encode_batch says {a:?}, the reader says {b:?}"),
    }
    match expect {
        Expect::Accept => invariant!(
            via_client.is_ok(),
            "a well-formed batch was rejected: {:?}",
            via_client.as_ref().err()
        ),
        Expect::Reject => invariant!(via_client.is_err(), "a malformed batch was accepted"),
        Expect::Any => {}
    }
    let summary = match via_client {
        Ok(summary) => summary,
        Err(Error::MalformedBatch(m)) => {
            out.error = Some(m);
            return out;
        }
        Err(e) => unreachable!("checked above: {e:?}"),
    };

    // 4. An accepted batch: the series are what was written, the summary and the encoded
    //    request match the model, and the request survives snappy.
    if let Some(spec) = spec {
        invariant!(
            views.len() == spec.len(),
            "read {} series, wrote {}",
            views.len(),
            spec.len()
        );
        for (v, s) in views.iter().zip(spec) {
            invariant!(
                v.metric == s.metric
                    && v.labels == s.labels
                    && same_samples(&v.samples, &s.samples),
                "read {v:?}, wrote {s:?}"
            );
        }
    }
    let mut invalid = 0u64;
    let mut invalid_samples = 0u64;
    let mut first = None;
    for (v, e) in views.iter().zip(&expected) {
        if let Err(reason) = e {
            invalid += 1;
            invalid_samples += v.samples.len() as u64;
            first.get_or_insert(*reason);
            out.reasons.push(*reason);
        }
    }
    invariant!(
        summary.series == invalid && summary.samples == invalid_samples,
        "summary says {} invalid series with {} samples, expected {invalid} with {invalid_samples}",
        summary.series,
        summary.samples
    );
    match first {
        Some(reason) => invariant!(
            summary
                .first
                .starts_with(&format!("{} (metric name ", reason.as_str())),
            "first invalid described as {:?}, expected reason {reason:?}",
            summary.first
        ),
        None => invariant!(summary.first.is_empty(), "first invalid set without one"),
    }
    let encoded: Vec<&Normal> = expected
        .iter()
        .filter_map(|e| e.as_ref().ok())
        .filter(|n| !n.samples.is_empty())
        .collect();
    let encoded_samples: usize = encoded.iter().map(|n| n.samples.len()).sum();
    let enc = &ctx.encoder;
    invariant!(
        enc.series() == encoded.len() && enc.samples() == encoded_samples,
        "encoder counted {} series and {} samples, expected {} and {encoded_samples}",
        enc.series(),
        enc.samples(),
        encoded.len()
    );
    let request = WriteRequest::decode(enc.bytes());
    invariant!(
        request.is_ok(),
        "encoded request does not decode: {:?}",
        request.err()
    );
    let request = request.unwrap();
    invariant!(
        request.encode_to_vec() == enc.bytes(),
        "direct encoding differs from prost's"
    );
    invariant!(
        request.timeseries.len() == encoded.len(),
        "decoded {} series, expected {}",
        request.timeseries.len(),
        encoded.len()
    );
    for (ts, want) in request.timeseries.iter().zip(&encoded) {
        let labels: Vec<(Vec<u8>, Vec<u8>)> = ts
            .labels
            .iter()
            .map(|l| (l.name.as_bytes().to_vec(), l.value.as_bytes().to_vec()))
            .collect();
        invariant!(
            labels == want.labels,
            "decoded labels {labels:?}, expected {:?}",
            want.labels
        );
        // Proto3 omits 0.0 and -0.0 alike (as prost and Prometheus do): both decode as 0.0.
        let samples: Vec<(f64, i64)> = ts.samples.iter().map(|s| (s.value, s.timestamp)).collect();
        let want_samples: Vec<(f64, i64)> = want
            .samples
            .iter()
            .map(|&(v, t)| (if v == 0.0 { 0.0 } else { v }, t))
            .collect();
        invariant!(
            same_samples(&samples, &want_samples),
            "decoded samples {samples:?}, expected {want_samples:?}"
        );
    }
    if enc.series() > 0 {
        ctx.compressor.compress_into(enc.bytes(), &mut ctx.body);
        let back = snap::raw::Decoder::new().decompress_vec(&ctx.body);
        invariant!(
            back.as_deref().ok() == Some(enc.bytes()),
            "snappy round trip failed"
        );
    }
    out.series = views.len();
    out.invalid = invalid;
    out.encoded = encoded.len();
    out.resorted = expected
        .iter()
        .filter(|e| e.as_ref().is_ok_and(|n| !n.in_order))
        .count();
    out.no_samples = views.iter().filter(|v| v.samples.is_empty()).count();
    out
}

// ---------------------------------------------------------------------------------------------
// Statistics and the report.

#[derive(Default)]
struct Stats {
    inputs: u64,
    bytes: u64,
    max_len: usize,
    accepted: u64,
    rejected: u64,
    by_source: BTreeMap<&'static str, [u64; 2]>,
    error_kinds: BTreeMap<String, u64>,
    reasons: BTreeMap<&'static str, u64>,
    with_dropped: u64,
    all_valid: u64,
    empty_batches: u64,
    nothing_encoded: u64,
    mixed: u64,
    series: u64,
    resorted: u64,
    no_samples: u64,
}

/// The first words of an error message, numbers replaced by N and the `entry <i>: ` prefix
/// removed: `label name needs N`, `bad magic N`, `N trailing bytes after`.
fn error_kind(message: &str) -> String {
    let mut m = message;
    if let Some(rest) = m.strip_prefix("entry ") {
        if let Some((index, rest)) = rest.split_once(": ") {
            if index.bytes().all(|c| c.is_ascii_digit()) {
                m = rest;
            }
        }
    }
    let mut words = Vec::new();
    for word in m.split_whitespace().take(5) {
        let numeric = word.bytes().any(|c| c.is_ascii_digit());
        words.push(if numeric {
            "N"
        } else {
            word.trim_matches(|c: char| !c.is_alphanumeric())
        });
        if numeric && words.len() > 1 {
            break;
        }
        if words.len() == 4 {
            break;
        }
    }
    words.join(" ")
}

impl Stats {
    fn record(&mut self, source: &'static str, c: &Checked, len: usize) {
        self.inputs += 1;
        self.bytes += len as u64;
        self.max_len = self.max_len.max(len);
        let slot = self.by_source.entry(source).or_default();
        slot[0] += 1;
        match &c.error {
            Some(m) => {
                self.rejected += 1;
                *self.error_kinds.entry(error_kind(m)).or_default() += 1;
            }
            None => {
                self.accepted += 1;
                slot[1] += 1;
                for r in &c.reasons {
                    *self.reasons.entry(r.as_str()).or_default() += 1;
                }
                self.series += c.series as u64;
                self.resorted += c.resorted as u64;
                self.no_samples += c.no_samples as u64;
                if c.series == 0 {
                    self.empty_batches += 1;
                } else if c.invalid == 0 {
                    self.all_valid += 1;
                }
                if c.invalid > 0 {
                    self.with_dropped += 1;
                    if c.invalid < c.series as u64 {
                        self.mixed += 1;
                    }
                }
                if c.series > 0 && c.encoded == 0 {
                    self.nothing_encoded += 1;
                }
            }
        }
    }

    fn report(&self, seed: u64, seconds: f64) {
        println!("== fuzz_batch report");
        println!(
            "seed {seed:#x}: {} inputs in {seconds:.1} s ({:.0} inputs/s), {} bytes in all, largest {} bytes",
            self.inputs,
            self.inputs as f64 / seconds.max(1e-9),
            self.bytes,
            self.max_len
        );
        println!(
            "accepted {}, rejected {} (every rejection a MalformedBatch), panics 0",
            self.accepted, self.rejected
        );
        println!("by source (inputs / accepted):");
        for (source, [n, ok]) in &self.by_source {
            println!("  {source:<18} {n:>10} / {ok}");
        }
        println!(
            "rejections by first words of the message ({} distinct):",
            self.error_kinds.len()
        );
        let mut kinds: Vec<_> = self.error_kinds.iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (kind, n) in kinds {
            println!("  {n:>10}  {kind}");
        }
        println!("coverage of accepted inputs:");
        println!(
            "  with at least one series dropped as invalid: {}",
            self.with_dropped
        );
        println!(
            "    of which valid and invalid series mixed:  {}",
            self.mixed
        );
        println!(
            "  with every series valid (>= 1 series):        {}",
            self.all_valid
        );
        println!(
            "  with no entries:                              {}",
            self.empty_batches
        );
        println!(
            "  with series but nothing to encode:            {}",
            self.nothing_encoded
        );
        println!(
            "  series read {}, re-sorted by timestamp {}, without samples {}",
            self.series, self.resorted, self.no_samples
        );
        println!("  series dropped by reason:");
        for (reason, n) in &self.reasons {
            println!("    {n:>10}  {reason}");
        }
    }
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Keeps the location and message of the last panic on this thread for the failure report.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
            previous(info);
        }));
    });
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(|c| c.is_ascii_hexdigit()).collect();
    s.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

struct Runner {
    ctx: Ctx,
    stats: Stats,
    seed: u64,
}

impl Runner {
    fn new(seed: u64) -> Runner {
        install_panic_hook();
        Runner {
            ctx: Ctx {
                encoder: Encoder::new(),
                compressor: Compressor::new(),
                body: Vec::new(),
            },
            stats: Stats::default(),
            seed,
        }
    }

    fn run(
        &mut self,
        source: &'static str,
        input: &[u8],
        expect: Expect,
        spec: Option<&[SeriesSpec]>,
    ) {
        LAST_PANIC.with(|p| p.borrow_mut().take());
        let ctx = &mut self.ctx;
        match catch_unwind(AssertUnwindSafe(|| check(input, expect, spec, ctx))) {
            Ok(checked) => self.stats.record(source, &checked, input.len()),
            Err(payload) => {
                let message = LAST_PANIC
                    .with(|p| p.borrow_mut().take())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                let what = if message.contains("invariant violated") {
                    "INVARIANT VIOLATED (the harness's check failed)"
                } else {
                    "LIBRARY PANIC"
                };
                panic!(
                    "{what} on input #{} (source {source}, expected {expect:?}, seed {:#x}, {} bytes)\n\
                     {message}\n\
                     input hex: {}\n\
                     reproduce: PROMSINK_FUZZ_INPUT={} cargo test -p promsink --test fuzz_batch -- --nocapture",
                    self.stats.inputs,
                    self.seed,
                    input.len(),
                    hex(input),
                    hex(input),
                );
            }
        }
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => {
            let v = v.trim().replace('_', "");
            let parsed = match v.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => v.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
        }
        Err(_) => default,
    }
}

#[test]
fn fuzz_batch_pipeline() {
    let seed = env_u64("PROMSINK_FUZZ_SEED", DEFAULT_SEED);
    let mut runner = Runner::new(seed);
    if let Ok(input) = std::env::var("PROMSINK_FUZZ_INPUT") {
        let input = unhex(&input);
        runner.run("reproduce", &input, Expect::Any, None);
        println!(
            "input of {} bytes: {}",
            input.len(),
            match runner.stats.accepted {
                1 => "accepted",
                _ => "rejected",
            }
        );
        runner.stats.report(seed, 0.0);
        return;
    }
    let iterations = env_u64("PROMSINK_FUZZ_ITERATIONS", DEFAULT_ITERATIONS);
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut other = build(&gen_batch(&mut rng));
    while runner.stats.inputs < iterations {
        let roll = rng.below(100);
        if roll < 8 {
            // (a) Random bytes.
            let len = rng.below(300);
            let input = rng.bytes(len);
            runner.run("random", &input, Expect::Any, None);
            continue;
        }
        if roll < 12 {
            // A valid header, then random bytes.
            let mut input = b"PMSK\x01\x00\x00\x00".to_vec();
            input.extend_from_slice(&(rng.below(6) as u32).to_le_bytes());
            let len = rng.below(200);
            input.extend(rng.bytes(len));
            runner.run("header+random", &input, Expect::Any, None);
            continue;
        }
        // (b) A valid batch, as is or mutated.
        let built = build(&gen_batch(&mut rng));
        match roll {
            12..=23 => runner.run("valid", &built.bytes, Expect::Accept, Some(&built.specs)),
            24..=26 => {
                // Entries of two batches in one: still well-formed.
                let mut specs = built.specs.clone();
                specs.extend(other.specs.iter().cloned());
                let mut input = b"PMSK\x01\x00\x00\x00".to_vec();
                input.extend_from_slice(&(specs.len() as u32).to_le_bytes());
                input.extend_from_slice(&built.bytes[HEADER_LEN..]);
                input.extend_from_slice(&other.bytes[HEADER_LEN..]);
                invariant!(
                    input == reference_batch(&specs).bytes,
                    "entry splice is not the batch of both"
                );
                runner.run("valid-spliced", &input, Expect::Accept, Some(&specs));
            }
            27..=34 => match mutate_content(&mut rng, &built) {
                Some(input) => runner.run("content-mutated", &input, Expect::Accept, None),
                None => runner.run("valid", &built.bytes, Expect::Accept, Some(&built.specs)),
            },
            35 if rng.one_in(8) => {
                // Truncation at every position: each prefix is one input. A large batch is cut
                // at every position of its first and last 64 bytes and around every field.
                let full = built.bytes.len();
                let cuts: std::collections::BTreeSet<usize> = if full <= 320 {
                    (0..=full).collect()
                } else {
                    (0..64)
                        .chain(full - 64..=full)
                        .chain(built.u32_fields.iter().flat_map(|&f| f..f + 5))
                        .chain(built.payload.iter().flat_map(|r| [r.start + 1, r.end - 1]))
                        .filter(|&c| c <= full)
                        .collect()
                };
                for len in cuts {
                    let expect = if len == full {
                        Expect::Accept
                    } else {
                        Expect::Reject
                    };
                    runner.run("truncation-sweep", &built.bytes[..len], expect, None);
                }
            }
            _ => {
                let input = mutate(&mut rng, &built, &other);
                runner.run("mutated", &input, Expect::Any, None);
            }
        }
        if rng.one_in(4) {
            other = built;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    runner.stats.report(seed, seconds);

    // The generators must keep reaching every outcome, or the run proves less than it seems.
    let s = &runner.stats;
    if iterations >= 10_000 {
        assert!(s.accepted > 0 && s.rejected > 0);
        assert!(s.with_dropped > 0 && s.mixed > 0 && s.all_valid > 0 && s.empty_batches > 0);
        assert!(s.resorted > 0 && s.no_samples > 0 && s.nothing_encoded > 0);
        for reason in [
            Invalid::MissingMetricName,
            Invalid::InvalidMetricName,
            Invalid::InvalidLabelName,
            Invalid::ReservedLabelName,
            Invalid::DuplicateLabelName,
            Invalid::EmptyLabelValue,
            Invalid::InvalidUtf8,
        ] {
            assert!(
                s.reasons.contains_key(reason.as_str()),
                "no series was dropped as {reason:?}"
            );
        }
        for kind in [
            "bad magic N",
            "unsupported batch format version",
            "unknown flags N",
            "entry count N",
            "N trailing bytes after",
            "N bytes left over",
            "entry length needs N",
            "entry body needs N",
            "sample count needs N",
            "label count needs N",
            "metric name needs N",
            "label name needs N",
            "label value needs N",
            "samples needs N",
            "batch header needs N",
        ] {
            assert!(s.error_kinds.contains_key(kind), "no rejection {kind:?}");
        }
    }
}

/// Hand-picked inputs at the edges of the format, through the same checks.
#[test]
fn edge_cases() {
    assert_eq!(MAGIC.to_le_bytes(), *b"PMSK");
    assert_eq!((VERSION, HEADER_LEN, SAMPLE_LEN), (1, 12, 16));
    let header = |count: u32| {
        let mut b = b"PMSK\x01\x00\x00\x00".to_vec();
        b.extend_from_slice(&count.to_le_bytes());
        b
    };
    let entry = |fields: &[u32], tail: &[u8]| {
        let mut body: Vec<u8> = fields.iter().flat_map(|f| f.to_le_bytes()).collect();
        body.extend_from_slice(tail);
        let mut e = (body.len() as u32).to_le_bytes().to_vec();
        e.extend(body);
        e
    };
    let with = |count: u32, entries: &[Vec<u8>]| {
        let mut b = header(count);
        for e in entries {
            b.extend_from_slice(e);
        }
        b
    };
    let minimal = entry(&[0, 0, 0], b""); // no samples, no labels, empty metric name
    let one_sample = entry(&[1, 0, 1], b"m\0\0\0\0\0\0\xf0\x3f\x05\0\0\0\0\0\0\0");
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("empty", vec![], Expect::Reject),
        ("magic only", b"PMSK".to_vec(), Expect::Reject),
        ("header, no entries", header(0), Expect::Accept),
        (
            "header, trailing byte",
            [header(0), vec![0]].concat(),
            Expect::Reject,
        ),
        ("entry count too large", header(u32::MAX), Expect::Reject),
        ("entry count 1, nothing", header(1), Expect::Reject),
        ("zero-length entry", with(1, &[vec![0; 16]]), Expect::Reject),
        (
            "minimal entry",
            with(1, std::slice::from_ref(&minimal)),
            Expect::Accept,
        ),
        (
            "one sample",
            with(1, std::slice::from_ref(&one_sample)),
            Expect::Accept,
        ),
        (
            "count one short",
            with(1, &[one_sample.clone(), minimal.clone()]),
            Expect::Reject,
        ),
        (
            "count one over",
            with(3, &[one_sample.clone(), minimal.clone()]),
            Expect::Reject,
        ),
        (
            "entry length max",
            with(
                1,
                &[[u32::MAX.to_le_bytes().to_vec(), vec![0; 12]].concat()],
            ),
            Expect::Reject,
        ),
        (
            "sample count max",
            with(1, &[entry(&[u32::MAX, 0, 0], b"")]),
            Expect::Reject,
        ),
        (
            "sample count 2^28",
            with(1, &[entry(&[1 << 28, 0, 0], b"")]),
            Expect::Reject,
        ),
        (
            "label count max",
            with(1, &[entry(&[0, u32::MAX, 0], &[0; 8])]),
            Expect::Reject,
        ),
        (
            "name length max-3",
            with(1, &[entry(&[0, 0, u32::MAX - 3], b"")]),
            Expect::Reject,
        ),
        (
            "empty label name and value",
            with(1, &[entry(&[0, 1, 1], b"m\0\0\0\0\0\0\0\0")]),
            Expect::Accept,
        ),
        (
            "left over in entry",
            with(1, &[entry(&[0, 0, 0], b"x")]),
            Expect::Reject,
        ),
    ];
    let mut runner = Runner::new(0);
    for (name, input, expect) in &cases {
        runner.run("edge", input, *expect, None);
        println!("{name}: ok");
    }
}
