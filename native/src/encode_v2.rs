//! Direct protobuf encoder for the Remote-Write 2.0 `io.prometheus.write.v2.Request`
//! (`proto/remote_v2.proto`).
//!
//! Lanes carry series as Remote-Write 1.0 `WriteRequest.timeseries` entries (`encode.rs`): that is
//! what they cut and coalesce into requests. When the sink speaks 2.0, each request's 1.0 entries
//! are re-encoded here in one pass: every label name and value becomes a reference into the
//! request's symbol table (each string once; the first symbol is ""), and the samples, which are
//! the same message in both versions, are copied as they are. Like prost, it omits default
//! values, so its output is byte-for-byte what prost writes for the same message (tests below).

use crate::encode::{read_varint, TAG_TIMESERIES_LABELS, TAG_TIMESERIES_SAMPLES};
use crate::encode::{TAG_LABEL_NAME, TAG_LABEL_VALUE, TAG_WRITE_REQUEST_TIMESERIES};
use prost::encoding::{encode_varint, encoded_len_varint};
use std::collections::HashMap;

// Field numbers and wire types of proto/remote_v2.proto, pre-shifted into tags.
const TAG_REQUEST_SYMBOLS: u8 = (4 << 3) | 2;
const TAG_REQUEST_TIMESERIES: u8 = (5 << 3) | 2;
const TAG_TIMESERIES_LABELS_REFS: u8 = (1 << 3) | 2;
// TimeSeries.samples has the same tag in both versions, so 1.0 samples are copied as they are.
const _: () = assert!(TAG_TIMESERIES_SAMPLES == (2 << 3) | 2);

/// Re-encodes requests from 1.0 entries to 2.0, reusing its buffers from request to request.
#[derive(Default)]
pub struct V2Encoder {
    series: Vec<u8>,
    refs: Vec<u32>,
}

impl V2Encoder {
    /// An encoder with empty buffers.
    pub fn new() -> Self {
        V2Encoder::default()
    }

    /// Writes into `out` (cleared first) the 2.0 `Request` holding the series of `v1`, a
    /// sequence of 1.0 `WriteRequest.timeseries` entries. An error names what does not parse;
    /// nothing is written then.
    pub fn encode(&mut self, v1: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        out.clear();
        self.series.clear();
        let mut symbols: Vec<&[u8]> = vec![b""];
        let mut index: HashMap<&[u8], u32> = HashMap::new();
        index.insert(b"", 0);

        for series in entries(v1, TAG_WRITE_REQUEST_TIMESERIES) {
            let series = series?;
            self.refs.clear();
            let mut samples_start = series.len();
            for field in fields(series) {
                let (tag, value, start) = field?;
                match tag {
                    TAG_TIMESERIES_LABELS if samples_start == series.len() => {
                        let (name, label_value) = label(value)?;
                        for s in [name, label_value] {
                            let next = symbols.len() as u32;
                            let r = *index.entry(s).or_insert_with(|| {
                                symbols.push(s);
                                next
                            });
                            self.refs.push(r);
                        }
                    }
                    TAG_TIMESERIES_SAMPLES => {
                        samples_start = samples_start.min(start);
                    }
                    // Labels come first in every entry the 1.0 encoder writes.
                    _ => return Err(format!("unexpected field tag {tag} in a series")),
                }
            }
            // The samples are copied whole: the same message under the same field number.
            let samples = &series[samples_start..];
            let refs_len: usize = self
                .refs
                .iter()
                .map(|&r| encoded_len_varint(u64::from(r)))
                .sum();
            let mut body_len = samples.len();
            if refs_len > 0 {
                body_len += 1 + encoded_len_varint(refs_len as u64) + refs_len;
            }
            self.series.push(TAG_REQUEST_TIMESERIES);
            encode_varint(body_len as u64, &mut self.series);
            if refs_len > 0 {
                self.series.push(TAG_TIMESERIES_LABELS_REFS);
                encode_varint(refs_len as u64, &mut self.series);
                for &r in &self.refs {
                    encode_varint(u64::from(r), &mut self.series);
                }
            }
            self.series.extend_from_slice(samples);
        }

        let symbols_len: usize = symbols
            .iter()
            .map(|s| 1 + encoded_len_varint(s.len() as u64) + s.len())
            .sum();
        out.reserve(symbols_len + self.series.len());
        for s in &symbols {
            out.push(TAG_REQUEST_SYMBOLS);
            encode_varint(s.len() as u64, out);
            out.extend_from_slice(s);
        }
        out.extend_from_slice(&self.series);
        Ok(())
    }
}

/// The bodies of the length-delimited fields with `tag` that make up `bytes`.
fn entries(bytes: &[u8], tag: u8) -> impl Iterator<Item = Result<&[u8], String>> {
    fields(bytes).map(move |f| match f {
        Ok((t, body, _)) if t == tag => Ok(body),
        Ok((t, _, _)) => Err(format!("unexpected field tag {t} between series")),
        Err(e) => Err(e),
    })
}

/// The length-delimited fields of `bytes`: tag, body, and the offset where the field starts.
/// Stops after the first error.
fn fields(bytes: &[u8]) -> impl Iterator<Item = Result<(u8, &[u8], usize), String>> {
    let mut at = 0usize;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || at >= bytes.len() {
            return None;
        }
        let start = at;
        let tag = bytes[at];
        let field = read_varint(&bytes[at + 1..])
            .and_then(|(len, n)| {
                let body = at + 1 + n;
                let end = body.checked_add(usize::try_from(len).ok()?)?;
                (tag & 7 == 2 && end <= bytes.len()).then_some((body, end))
            })
            .map(|(body, end)| {
                at = end;
                (tag, &bytes[body..end], start)
            })
            .ok_or_else(|| format!("malformed field at byte {start} of a request"));
        failed = field.is_err();
        Some(field)
    })
}

/// The name and value of an encoded `Label`.
fn label(body: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let (mut name, mut value): (&[u8], &[u8]) = (b"", b"");
    for field in fields(body) {
        match field? {
            (TAG_LABEL_NAME, b, _) => name = b,
            (TAG_LABEL_VALUE, b, _) => value = b,
            (t, _, _) => return Err(format!("unexpected field tag {t} in a label")),
        }
    }
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use promsink_wire::v1::{Label, Sample, TimeSeries, WriteRequest};
    use promsink_wire::v2 as wire_v2;
    use prost::Message;

    fn series(labels: &[(&str, &str)], samples: &[(f64, i64)]) -> TimeSeries {
        TimeSeries {
            labels: labels
                .iter()
                .map(|(n, v)| Label {
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            samples: samples
                .iter()
                .map(|&(value, timestamp)| Sample { value, timestamp })
                .collect(),
        }
    }

    /// What prost writes for the 2.0 form of `v1`, with symbols in first-seen order.
    fn prost_v2(v1: &WriteRequest) -> Vec<u8> {
        let mut symbols = vec![String::new()];
        let mut timeseries = Vec::new();
        for s in &v1.timeseries {
            let mut refs = Vec::new();
            for l in &s.labels {
                for text in [&l.name, &l.value] {
                    let r = match symbols.iter().position(|x| x == text) {
                        Some(i) => i,
                        None => {
                            symbols.push(text.clone());
                            symbols.len() - 1
                        }
                    };
                    refs.push(r as u32);
                }
            }
            timeseries.push(wire_v2::TimeSeries {
                labels_refs: refs,
                samples: s
                    .samples
                    .iter()
                    .map(|x| wire_v2::Sample {
                        value: x.value,
                        timestamp: x.timestamp,
                    })
                    .collect(),
            });
        }
        wire_v2::Request {
            symbols,
            timeseries,
        }
        .encode_to_vec()
    }

    fn transcode(v1: &WriteRequest) -> Vec<u8> {
        let mut out = Vec::new();
        V2Encoder::new()
            .encode(&v1.encode_to_vec(), &mut out)
            .unwrap();
        out
    }

    #[test]
    fn writes_what_prost_writes_with_each_string_once() {
        let v1 = WriteRequest {
            timeseries: vec![
                series(
                    &[("__name__", "up"), ("job", "a"), ("zone", "eu")],
                    &[(1.0, 1_700_000_000_000), (0.0, 1_700_000_001_000)],
                ),
                series(
                    &[("__name__", "up"), ("job", "b"), ("zone", "eu")],
                    &[(f64::NAN, 0), (-2.5, 7)],
                ),
                series(&[("__name__", "down")], &[(3.0, 1)]),
            ],
        };
        let out = transcode(&v1);
        assert_eq!(out, prost_v2(&v1));
        let decoded = wire_v2::Request::decode(out.as_slice()).unwrap();
        assert_eq!(
            decoded.symbols,
            ["", "__name__", "up", "job", "a", "zone", "eu", "b", "down"]
        );
        assert_eq!(decoded.timeseries[1].labels_refs, [1, 2, 3, 7, 5, 6]);
        assert_eq!(decoded.timeseries[0].samples[1].value, 0.0);
        assert!(decoded.timeseries[1].samples[0].value.is_nan());
    }

    #[test]
    fn an_empty_request_has_the_empty_symbol_only() {
        let out = transcode(&WriteRequest { timeseries: vec![] });
        assert_eq!(out, [TAG_REQUEST_SYMBOLS, 0]);
        assert_eq!(out, prost_v2(&WriteRequest { timeseries: vec![] }));
    }

    #[test]
    fn what_the_series_encoder_writes_transcodes_like_prost() {
        // Many series with shared and distinct strings, as lanes concatenate them.
        let v1 = WriteRequest {
            timeseries: (0..300)
                .map(|i| {
                    let device = format!("dev-{}", i % 37);
                    series(
                        &[
                            ("__name__", "temp"),
                            ("device", &device),
                            ("n", &i.to_string()),
                        ],
                        &[(i as f64, 1_000 + i), (0.5, 2_000 + i)],
                    )
                })
                .collect(),
        };
        assert_eq!(transcode(&v1), prost_v2(&v1));
    }

    #[test]
    fn bytes_that_are_not_series_are_an_error() {
        let mut out = vec![1, 2, 3];
        let mut enc = V2Encoder::new();
        assert!(enc.encode(&[0x0a, 0x05, 0x01], &mut out).is_err());
        assert!(enc.encode(&[0x08, 0x01], &mut out).is_err());
        // A series whose label is cut short.
        assert!(enc
            .encode(&[0x0a, 0x04, 0x0a, 0x02, 0x0a, 0x09], &mut out)
            .is_err());
        // Garbage never panics.
        let mut x: u64 = 99;
        for _ in 0..2000 {
            let len = (x % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (x >> 56) as u8
                })
                .collect();
            let _ = enc.encode(&bytes, &mut out);
        }
    }
}
