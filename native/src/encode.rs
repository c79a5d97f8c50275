//! Direct protobuf encoder for the Remote-Write 1.0 `WriteRequest` (`proto/remote.proto`).
//!
//! Writes the wire format straight into a reusable buffer, with no intermediate message objects.
//! Like prost, it omits fields holding their default value (0.0, 0, ""), so its output is
//! byte-for-byte what prost produces for the same message (proven by the tests below).

use crate::validate::NormalSeries;
use prost::encoding::{encode_varint as encode_varint_any, encoded_len_varint};

// Field numbers and wire types of proto/remote.proto, pre-shifted into tags.
pub(crate) const TAG_WRITE_REQUEST_TIMESERIES: u8 = (1 << 3) | 2;
pub(crate) const TAG_TIMESERIES_LABELS: u8 = (1 << 3) | 2;
pub(crate) const TAG_TIMESERIES_SAMPLES: u8 = (2 << 3) | 2;
pub(crate) const TAG_LABEL_NAME: u8 = (1 << 3) | 2;
pub(crate) const TAG_LABEL_VALUE: u8 = (2 << 3) | 2;
const TAG_SAMPLE_VALUE: u8 = (1 << 3) | 1;
const TAG_SAMPLE_TIMESTAMP: u8 = 2 << 3;

/// Encodes a `WriteRequest` one series at a time into a buffer reused across requests.
#[derive(Default)]
pub struct Encoder {
    buf: Vec<u8>,
    series: usize,
    samples: usize,
}

impl Encoder {
    /// An encoder with an empty buffer.
    pub fn new() -> Self {
        Encoder::default()
    }

    /// Starts a new request, keeping the buffer's capacity.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.series = 0;
        self.samples = 0;
    }

    /// Appends one series as a `WriteRequest.timeseries` entry.
    pub fn push(&mut self, series: &NormalSeries<'_, '_>) {
        let labels_len: usize = series
            .labels
            .iter()
            .map(|(n, v)| message_len(label_len(n, v)))
            .sum();
        let mut samples_len = 0;
        series
            .samples
            .for_each(|v, t| samples_len += message_len(sample_len(v, t)));
        let series_len = labels_len + samples_len;

        self.buf.reserve(message_len(series_len));
        self.buf.push(TAG_WRITE_REQUEST_TIMESERIES);
        encode_varint(series_len as u64, &mut self.buf);
        for (name, value) in series.labels {
            self.buf.push(TAG_TIMESERIES_LABELS);
            encode_varint(label_len(name, value) as u64, &mut self.buf);
            put_bytes(&mut self.buf, TAG_LABEL_NAME, name);
            put_bytes(&mut self.buf, TAG_LABEL_VALUE, value);
        }
        let buf = &mut self.buf;
        series.samples.for_each(|v, t| {
            buf.push(TAG_TIMESERIES_SAMPLES);
            encode_varint(sample_len(v, t) as u64, buf);
            if v != 0.0 {
                buf.push(TAG_SAMPLE_VALUE);
                buf.extend_from_slice(&v.to_bits().to_le_bytes());
            }
            if t != 0 {
                buf.push(TAG_SAMPLE_TIMESTAMP);
                encode_varint(t as u64, buf);
            }
        });
        self.series += 1;
        self.samples += series.samples.len();
    }

    /// Hands over the encoded bytes and starts a new request in `replacement` (cleared).
    pub fn take_bytes(&mut self, mut replacement: Vec<u8>) -> Vec<u8> {
        replacement.clear();
        self.series = 0;
        self.samples = 0;
        std::mem::replace(&mut self.buf, replacement)
    }

    /// The encoded `WriteRequest` so far.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Series appended since the last `clear`.
    pub fn series(&self) -> usize {
        self.series
    }

    /// Samples appended since the last `clear`.
    pub fn samples(&self) -> usize {
        self.samples
    }
}

/// The longest prefix of encoded `WriteRequest.timeseries` entries (as [`Encoder`] writes them)
/// holding at most `max_samples` samples: its length in bytes and its samples. With
/// `at_least_one`, the first entry is included even if it alone holds more. Stops at anything
/// that is not a well-formed entry.
pub fn prefix_within(bytes: &[u8], max_samples: u64, at_least_one: bool) -> (usize, u64) {
    let (mut end, mut samples) = (0usize, 0u64);
    let mut at = 0usize;
    while at < bytes.len() {
        if bytes[at] != TAG_WRITE_REQUEST_TIMESERIES {
            break;
        }
        let Some((len, n)) = read_varint(&bytes[at + 1..]) else {
            break;
        };
        let body_start = at + 1 + n;
        let Some(body_end) = usize::try_from(len)
            .ok()
            .and_then(|l| body_start.checked_add(l))
            .filter(|&e| e <= bytes.len())
        else {
            break;
        };
        let in_series = count_samples(&bytes[body_start..body_end]);
        if samples + in_series > max_samples && !(at_least_one && end == 0) {
            break;
        }
        samples += in_series;
        end = body_end;
        at = body_end;
    }
    (end, samples)
}

/// Samples (field 2 entries) in one encoded `TimeSeries` body.
fn count_samples(mut body: &[u8]) -> u64 {
    let mut samples = 0;
    while let Some((&tag, rest)) = body.split_first() {
        let Some((len, n)) = read_varint(rest) else {
            break;
        };
        if tag == TAG_TIMESERIES_SAMPLES {
            samples += 1;
        }
        let skip = usize::try_from(len).unwrap_or(usize::MAX);
        match rest.get(n..).and_then(|r| r.get(skip..)) {
            Some(next) => body = next,
            None => break,
        }
    }
    samples
}

/// A varint and the bytes it took, if complete.
pub(crate) fn read_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Bytes of a length-delimited message of `len` bytes, with its one-byte tag.
#[inline]
fn message_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

#[inline]
fn bytes_field_len(b: &[u8]) -> usize {
    if b.is_empty() {
        0
    } else {
        message_len(b.len())
    }
}

#[inline]
fn label_len(name: &[u8], value: &[u8]) -> usize {
    bytes_field_len(name) + bytes_field_len(value)
}

#[inline]
fn sample_len(value: f64, timestamp: i64) -> usize {
    let v = if value != 0.0 { 9 } else { 0 };
    let t = if timestamp != 0 {
        1 + encoded_len_varint(timestamp as u64)
    } else {
        0
    };
    v + t
}

/// A varint, inline for the one-byte values that most lengths and tags are.
#[inline]
fn encode_varint(value: u64, buf: &mut Vec<u8>) {
    if value < 0x80 {
        buf.push(value as u8);
    } else {
        encode_varint_any(value, buf);
    }
}

#[inline]
fn put_bytes(buf: &mut Vec<u8>, tag: u8, b: &[u8]) {
    if !b.is_empty() {
        buf.push(tag);
        encode_varint(b.len() as u64, buf);
        buf.extend_from_slice(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_end_on_whole_series_within_the_sample_budget() {
        use prost::Message;
        let mut w = crate::batch::BatchWriter::new();
        for (i, n) in [3i64, 1, 2, 4].into_iter().enumerate() {
            let samples: Vec<(f64, i64)> = (0..n).map(|t| (1.5, 1000 + t)).collect();
            w.series("m", &[("device", &format!("d{i}"))], &samples);
        }
        let batch = w.finish();
        let mut encoder = Encoder::new();
        crate::client::encode_batch(&batch, &mut encoder).unwrap();
        let bytes = encoder.bytes();
        let entry_ends: Vec<usize> = (1..=4)
            .map(|n| prefix_within(bytes, [3, 4, 6, 10][n - 1], false).0)
            .collect();
        assert_eq!(prefix_within(bytes, 2, false), (0, 0));
        assert_eq!(prefix_within(bytes, 2, true), (entry_ends[0], 3));
        assert_eq!(prefix_within(bytes, 5, false), (entry_ends[1], 4));
        assert_eq!(prefix_within(bytes, 9, false), (entry_ends[2], 6));
        assert_eq!(prefix_within(bytes, 100, false), (bytes.len(), 10));
        // Every prefix decodes as a WriteRequest of exactly those series.
        for (i, end) in entry_ends.iter().enumerate() {
            let req = promsink_wire::v1::WriteRequest::decode(&bytes[..*end]).unwrap();
            assert_eq!(req.timeseries.len(), i + 1);
        }
        // Garbage stops the walk instead of panicking.
        assert_eq!(prefix_within(&[0x0a, 0xff], 10, true), (0, 0));
        assert_eq!(prefix_within(&[0x0a, 5, 0x12], 10, true), (0, 0));
    }
    use crate::batch::{BatchReader, BatchWriter};
    use crate::validate::Normalizer;
    use promsink_wire::v1 as wire;
    use prost::Message;

    /// A tiny deterministic generator (xorshift), so failures are reproducible without a crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn name(&mut self, len: usize) -> String {
            const FIRST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_";
            const REST: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
            (0..len)
                .map(|i| {
                    let set = if i == 0 { FIRST } else { REST };
                    set[self.below(set.len() as u64) as usize] as char
                })
                .collect()
        }
        fn value(&mut self) -> f64 {
            match self.below(6) {
                0 => 0.0,
                1 => f64::NAN,
                2 => f64::from_bits(0x7ff0000000000002),
                3 => -1.5e300,
                _ => (self.next() % 1_000_000) as f64 / 7.0,
            }
        }
        fn timestamp(&mut self) -> i64 {
            match self.below(5) {
                0 => 0,
                1 => -(self.below(1 << 40) as i64),
                _ => 1_700_000_000_000 + self.below(1 << 30) as i64,
            }
        }
    }

    type Generated = (String, Vec<(String, String)>, Vec<(f64, i64)>);

    fn generate(rng: &mut Rng, series: usize) -> Vec<Generated> {
        (0..series)
            .map(|_| {
                let len = 1 + rng.below(20) as usize;
                let metric = rng.name(len);
                let mut labels: Vec<(String, String)> = Vec::new();
                for _ in 0..rng.below(8) {
                    let len = 1 + rng.below(12) as usize;
                    let name = format!("l{}", rng.name(len));
                    if labels.iter().any(|(n, _)| *n == name) {
                        continue;
                    }
                    let value = "v".repeat(1 + rng.below(200) as usize);
                    labels.push((name, value));
                }
                let mut t = rng.timestamp();
                let samples = (0..rng.below(12))
                    .map(|_| {
                        t = t.saturating_add(rng.below(10_000) as i64);
                        (rng.value(), t)
                    })
                    .collect();
                (metric, labels, samples)
            })
            .collect()
    }

    /// What prost encodes for the same data, built from the generated types of remote.proto.
    fn prost_request(data: &[Generated]) -> wire::WriteRequest {
        wire::WriteRequest {
            timeseries: data
                .iter()
                .map(|(metric, labels, samples)| {
                    let mut l: Vec<wire::Label> = labels
                        .iter()
                        .map(|(n, v)| wire::Label {
                            name: n.clone(),
                            value: v.clone(),
                        })
                        .collect();
                    l.push(wire::Label {
                        name: "__name__".into(),
                        value: metric.clone(),
                    });
                    l.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
                    wire::TimeSeries {
                        labels: l,
                        samples: samples
                            .iter()
                            .map(|&(value, timestamp)| wire::Sample { value, timestamp })
                            .collect(),
                    }
                })
                .collect(),
        }
    }

    fn encode_direct(data: &[Generated], enc: &mut Encoder) {
        let mut w = BatchWriter::new();
        for (m, l, s) in data {
            let l: Vec<(&str, &str)> = l.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            w.series(m, &l, s);
        }
        let buf = w.finish();
        let mut r = BatchReader::new(&buf).unwrap();
        let mut n = Normalizer::new();
        enc.clear();
        while let Some(s) = r.next_series() {
            let s = s.unwrap();
            enc.push(&n.normalise(&s).unwrap());
        }
    }

    #[test]
    fn equals_prost_encoding_on_generated_data() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut enc = Encoder::new();
        for round in 0..300 {
            let data = generate(&mut rng, 1 + round % 40);
            encode_direct(&data, &mut enc);
            let expected = prost_request(&data);
            assert_eq!(
                enc.bytes(),
                expected.encode_to_vec().as_slice(),
                "round {round}"
            );
            // And it decodes back to exactly the input (NaN compared by bits).
            let decoded = wire::WriteRequest::decode(enc.bytes()).unwrap();
            assert_eq!(decoded.timeseries.len(), data.len());
            for (d, e) in decoded.timeseries.iter().zip(&expected.timeseries) {
                assert_eq!(d.labels, e.labels);
                let bits = |s: &[wire::Sample]| -> Vec<(u64, i64)> {
                    s.iter().map(|x| (x.value.to_bits(), x.timestamp)).collect()
                };
                assert_eq!(bits(&d.samples), bits(&e.samples));
            }
            assert_eq!(enc.series(), data.len());
            assert_eq!(enc.samples(), data.iter().map(|d| d.2.len()).sum::<usize>());
        }
    }

    #[test]
    fn known_bytes_for_one_series() {
        let data = vec![(
            "up".to_string(),
            vec![("job".to_string(), "a".to_string())],
            vec![(1.0, 5)],
        )];
        let mut enc = Encoder::new();
        encode_direct(&data, &mut enc);
        let mut expected = vec![0x0a, 0x27]; // timeseries, 39 bytes
        expected.extend_from_slice(&[0x0a, 0x0e, 0x0a, 0x08]);
        expected.extend_from_slice(b"__name__");
        expected.extend_from_slice(&[0x12, 0x02]);
        expected.extend_from_slice(b"up");
        expected.extend_from_slice(&[0x0a, 0x08, 0x0a, 0x03]);
        expected.extend_from_slice(b"job");
        expected.extend_from_slice(&[0x12, 0x01, b'a']);
        expected.extend_from_slice(&[0x12, 0x0b, 0x09]);
        expected.extend_from_slice(&1.0f64.to_bits().to_le_bytes());
        expected.extend_from_slice(&[0x10, 0x05]);
        assert_eq!(enc.bytes(), expected.as_slice());
    }

    #[test]
    fn clear_keeps_capacity_and_resets_counts() {
        let data = generate(&mut Rng(7), 20);
        let mut enc = Encoder::new();
        encode_direct(&data, &mut enc);
        let cap = enc.buf.capacity();
        enc.clear();
        assert_eq!(enc.bytes().len(), 0);
        assert_eq!(enc.series(), 0);
        assert_eq!(enc.buf.capacity(), cap);
    }
}
