//! Reader of the JNI batch format (`docs/batch-format.md`): one buffer holding many series.
//!
//! Everything is bounds-checked; a malformed buffer is an `Error::MalformedBatch`, never a panic.
//! Parsing is zero-copy: a [`SeriesRef`] borrows names, values and samples from the buffer.

use crate::error::{Error, Result};

/// `"PMSK"` read as a little-endian u32.
pub const MAGIC: u32 = u32::from_le_bytes(*b"PMSK");
/// The only batch format version this library reads.
pub const VERSION: u16 = 1;
/// Bytes of the batch header: magic, version, flags, entry count.
pub const HEADER_LEN: usize = 12;
/// Bytes of one sample: f64 value bits and i64 timestamp, little-endian.
pub const SAMPLE_LEN: usize = 16;

/// A little-endian cursor that never reads past its slice.
#[derive(Clone)]
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.buf.len());
        match end {
            Some(end) => {
                let bytes = &self.buf[self.pos..end];
                self.pos = end;
                Ok(bytes)
            }
            None => Err(self.short(len, what)),
        }
    }

    #[cold]
    #[inline(never)]
    fn short(&self, len: usize, what: &str) -> Error {
        Error::malformed(format!(
            "{what} needs {len} bytes at offset {} but only {} remain",
            self.pos,
            self.buf.len() - self.pos
        ))
    }

    /// The next length-prefixed string, `None` if it does not fit: for regions already checked.
    #[inline]
    fn checked_string(&mut self) -> Option<&'a [u8]> {
        let start = self.pos.checked_add(4)?;
        let len = u32::from_le_bytes(self.buf.get(self.pos..start)?.try_into().ok()?) as usize;
        let end = start.checked_add(len)?;
        let bytes = self.buf.get(start..end)?;
        self.pos = end;
        Some(bytes)
    }

    fn u16(&mut self, what: &str) -> Result<u16> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self, what: &str) -> Result<&'a [u8]> {
        let len = self.u32(what)? as usize;
        self.take(len, what)
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
}

/// Reads the series of one batch, in order.
pub struct BatchReader<'a> {
    cursor: Cursor<'a>,
    remaining_entries: u32,
    index: u32,
}

impl<'a> BatchReader<'a> {
    /// Checks the header and returns a reader over the entries.
    pub fn new(buf: &'a [u8]) -> Result<Self> {
        let mut cursor = Cursor { buf, pos: 0 };
        let magic = cursor.u32("batch header")?;
        if magic != MAGIC {
            return Err(Error::malformed(format!(
                "bad magic 0x{magic:08x}, expected 0x{MAGIC:08x} (\"PMSK\")"
            )));
        }
        let version = cursor.u16("batch header")?;
        if version != VERSION {
            return Err(Error::malformed(format!(
                "unsupported batch format version {version}, this library reads version {VERSION}"
            )));
        }
        let flags = cursor.u16("batch header")?;
        if flags != 0 {
            return Err(Error::malformed(format!(
                "unknown flags 0x{flags:04x}, must be 0"
            )));
        }
        let count = cursor.u32("batch header")?;
        // Every entry takes at least 16 bytes: its length, sample count, label count, name length.
        if count as usize > cursor.remaining() / 16 {
            return Err(Error::malformed(format!(
                "entry count {count} cannot fit in the {} bytes after the header",
                cursor.remaining()
            )));
        }
        Ok(BatchReader {
            cursor,
            remaining_entries: count,
            index: 0,
        })
    }

    /// Number of entries not read yet.
    pub fn remaining_entries(&self) -> u32 {
        self.remaining_entries
    }

    /// The next series, `None` after the last one. An error ends the batch.
    pub fn next_series(&mut self) -> Option<Result<SeriesRef<'a>>> {
        if self.remaining_entries == 0 {
            return if self.cursor.remaining() == 0 {
                None
            } else {
                let extra = self.cursor.remaining();
                self.cursor.pos = self.cursor.buf.len();
                Some(Err(Error::malformed(format!(
                    "{extra} trailing bytes after the last entry"
                ))))
            };
        }
        self.remaining_entries -= 1;
        let index = self.index;
        self.index += 1;
        let result = self.read_entry().map_err(|e| match e {
            Error::MalformedBatch(m) => Error::malformed(format!("entry {index}: {m}")),
            other => other,
        });
        if result.is_err() {
            // Stop after the first error.
            self.remaining_entries = 0;
            self.cursor.pos = self.cursor.buf.len();
        }
        Some(result)
    }

    fn read_entry(&mut self) -> Result<SeriesRef<'a>> {
        let entry_len = self.cursor.u32("entry length")? as usize;
        let body = self.cursor.take(entry_len, "entry body")?;
        SeriesRef::parse(body)
    }
}

/// One series of a batch, borrowed from the buffer. Its labels and samples were bounds-checked
/// when it was parsed.
#[derive(Debug, Clone, Copy)]
pub struct SeriesRef<'a> {
    /// The metric name as sent (may be empty or invalid: validation decides).
    pub metric_name: &'a [u8],
    label_count: u32,
    labels: &'a [u8],
    samples: &'a [u8],
}

impl<'a> SeriesRef<'a> {
    /// Parses one entry body (everything after its length prefix).
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        // A well-formed entry takes the quick walk; only a malformed one pays for the detailed
        // walk that names what is wrong.
        match Self::parse_quick(body) {
            Some(series) => Ok(series),
            None => Self::parse_detailed(body),
        }
    }

    #[inline]
    fn parse_quick(body: &'a [u8]) -> Option<Self> {
        let mut c = Cursor { buf: body, pos: 0 };
        let sample_count = u32::from_le_bytes(body.get(0..4)?.try_into().ok()?) as usize;
        let label_count = u32::from_le_bytes(body.get(4..8)?.try_into().ok()?);
        c.pos = 8;
        let metric_name = c.checked_string()?;
        let labels_start = c.pos;
        for _ in 0..label_count {
            c.checked_string()?;
            c.checked_string()?;
        }
        let labels_end = c.pos;
        let samples_end = sample_count
            .checked_mul(SAMPLE_LEN)?
            .checked_add(labels_end)?;
        if samples_end != body.len() {
            return None;
        }
        Some(SeriesRef {
            metric_name,
            label_count,
            labels: &body[labels_start..labels_end],
            samples: &body[labels_end..],
        })
    }

    #[cold]
    #[inline(never)]
    fn parse_detailed(body: &'a [u8]) -> Result<Self> {
        let mut c = Cursor { buf: body, pos: 0 };
        let sample_count = c.u32("sample count")? as usize;
        let label_count = c.u32("label count")?;
        let metric_name = c.string("metric name")?;
        let labels_start = c.pos;
        for _ in 0..label_count {
            c.string("label name")?;
            c.string("label value")?;
        }
        let labels = &body[labels_start..c.pos];
        let samples_len = sample_count
            .checked_mul(SAMPLE_LEN)
            .ok_or_else(|| Error::malformed(format!("sample count {sample_count} overflows")))?;
        let samples = c.take(samples_len, "samples")?;
        if c.remaining() != 0 {
            return Err(Error::malformed(format!(
                "{} bytes left over after the samples",
                c.remaining()
            )));
        }
        Ok(SeriesRef {
            metric_name,
            label_count,
            labels,
            samples,
        })
    }

    /// Number of labels, not counting the metric name.
    pub fn label_count(&self) -> usize {
        self.label_count as usize
    }

    /// Labels `(name, value)` in the order they were written.
    pub fn labels(&self) -> LabelIter<'a> {
        LabelIter {
            cursor: Cursor {
                buf: self.labels,
                pos: 0,
            },
        }
    }

    /// Number of samples.
    pub fn sample_count(&self) -> usize {
        self.samples.len() / SAMPLE_LEN
    }

    /// Samples `(value, timestamp_ms)` in the order they were written.
    pub fn samples(&self) -> impl ExactSizeIterator<Item = (f64, i64)> + Clone + 'a {
        self.samples.chunks_exact(SAMPLE_LEN).map(|s| {
            let mut v = [0u8; 8];
            let mut t = [0u8; 8];
            v.copy_from_slice(&s[..8]);
            t.copy_from_slice(&s[8..]);
            (f64::from_bits(u64::from_le_bytes(v)), i64::from_le_bytes(t))
        })
    }
}

/// Iterator over the labels of a [`SeriesRef`].
#[derive(Clone)]
pub struct LabelIter<'a> {
    cursor: Cursor<'a>,
}

impl<'a> Iterator for LabelIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        // The region was checked by `SeriesRef::parse`, so these reads succeed until its end.
        let name = self.cursor.checked_string()?;
        let value = self.cursor.checked_string()?;
        Some((name, value))
    }
}

/// Writes batches in the format this module reads. The Java side has its own writer
/// (`BatchEncoder.java`); this one serves Rust tests, benchmarks and fuzzing.
#[derive(Default)]
pub struct BatchWriter {
    buf: Vec<u8>,
    count: u32,
}

impl BatchWriter {
    /// An empty batch.
    pub fn new() -> Self {
        let mut w = BatchWriter::default();
        w.buf.extend_from_slice(&MAGIC.to_le_bytes());
        w.buf.extend_from_slice(&VERSION.to_le_bytes());
        w.buf.extend_from_slice(&0u16.to_le_bytes());
        w.buf.extend_from_slice(&0u32.to_le_bytes());
        w
    }

    /// Appends one series.
    pub fn series(&mut self, metric: &str, labels: &[(&str, &str)], samples: &[(f64, i64)]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(&0u32.to_le_bytes());
        self.buf
            .extend_from_slice(&(samples.len() as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&(labels.len() as u32).to_le_bytes());
        self.put_str(metric.as_bytes());
        for (n, v) in labels {
            self.put_str(n.as_bytes());
            self.put_str(v.as_bytes());
        }
        for (v, t) in samples {
            self.buf.extend_from_slice(&v.to_bits().to_le_bytes());
            self.buf.extend_from_slice(&t.to_le_bytes());
        }
        let len = (self.buf.len() - start - 4) as u32;
        self.buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.count += 1;
        self.buf[8..12].copy_from_slice(&self.count.to_le_bytes());
    }

    fn put_str(&mut self, s: &[u8]) {
        self.buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(s);
    }

    /// The finished buffer.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(buf: &[u8]) -> Result<Vec<SeriesRef<'_>>> {
        let mut r = BatchReader::new(buf)?;
        let mut out = Vec::new();
        while let Some(s) = r.next_series() {
            out.push(s?);
        }
        Ok(out)
    }

    fn sample_batch() -> Vec<u8> {
        let mut w = BatchWriter::new();
        w.series(
            "temp",
            &[("device", "d1"), ("region", "eu")],
            &[(21.5, 1000), (22.0, 2000)],
        );
        w.series("battery", &[], &[(0.93, 1500)]);
        w.finish()
    }

    #[test]
    fn reads_every_series_field() {
        let buf = sample_batch();
        let series = read_all(&buf).unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].metric_name, b"temp");
        assert_eq!(
            series[0].labels().collect::<Vec<_>>(),
            vec![(&b"device"[..], &b"d1"[..]), (&b"region"[..], &b"eu"[..])]
        );
        assert_eq!(series[0].label_count(), 2);
        assert_eq!(
            series[0].samples().collect::<Vec<_>>(),
            vec![(21.5, 1000), (22.0, 2000)]
        );
        assert_eq!(series[1].metric_name, b"battery");
        assert_eq!(series[1].labels().count(), 0);
        assert_eq!(series[1].samples().collect::<Vec<_>>(), vec![(0.93, 1500)]);
    }

    #[test]
    fn empty_batch_has_no_series() {
        assert_eq!(read_all(&BatchWriter::new().finish()).unwrap().len(), 0);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let buf = sample_batch();
        for len in 0..buf.len() {
            assert!(
                matches!(read_all(&buf[..len]), Err(Error::MalformedBatch(_))),
                "truncated to {len} bytes"
            );
        }
    }

    #[test]
    fn bad_magic_version_and_flags_are_errors() {
        let mut buf = sample_batch();
        buf[0] = b'X';
        assert!(read_all(&buf)
            .unwrap_err()
            .to_string()
            .contains("bad magic"));
        let mut buf = sample_batch();
        buf[4] = 2;
        assert!(read_all(&buf)
            .unwrap_err()
            .to_string()
            .contains("unsupported batch format version 2"));
        let mut buf = sample_batch();
        buf[6] = 1;
        assert!(read_all(&buf).unwrap_err().to_string().contains("flags"));
    }

    #[test]
    fn oversized_lengths_are_errors() {
        // Entry count larger than the buffer can hold.
        let mut buf = sample_batch();
        buf[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(read_all(&buf)
            .unwrap_err()
            .to_string()
            .contains("entry count"));
        // Entry length past the end.
        let mut buf = sample_batch();
        buf[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(read_all(&buf).unwrap_err().to_string().contains("entry 0"));
        // Sample count that overflows the multiplication or the entry.
        let mut buf = sample_batch();
        buf[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(read_all(&buf), Err(Error::MalformedBatch(_))));
        // Label count larger than the entry.
        let mut buf = sample_batch();
        buf[20..24].copy_from_slice(&1000u32.to_le_bytes());
        assert!(read_all(&buf).unwrap_err().to_string().contains("label"));
        // Metric name length past the entry.
        let mut buf = sample_batch();
        buf[24..28].copy_from_slice(&(u32::MAX - 3).to_le_bytes());
        assert!(read_all(&buf)
            .unwrap_err()
            .to_string()
            .contains("metric name"));
    }

    #[test]
    fn quick_and_detailed_walks_agree_on_every_corrupted_byte() {
        let buf = sample_batch();
        let entry = &buf[HEADER_LEN + 4..];
        let entry_len = u32::from_le_bytes(buf[HEADER_LEN..HEADER_LEN + 4].try_into().unwrap());
        let body = &entry[..entry_len as usize];
        let (mut accepted, mut refused) = (0, 0);
        for at in 0..body.len() {
            for value in [0u8, 1, 2, 0x7f, 0xff] {
                let mut corrupt = body.to_vec();
                corrupt[at] = value;
                let quick = SeriesRef::parse_quick(&corrupt);
                let detailed = SeriesRef::parse_detailed(&corrupt);
                match (quick, detailed) {
                    (Some(q), Ok(d)) => {
                        assert_eq!(q.metric_name, d.metric_name);
                        assert_eq!(
                            q.labels().collect::<Vec<_>>(),
                            d.labels().collect::<Vec<_>>()
                        );
                        assert_eq!(
                            q.samples().collect::<Vec<_>>(),
                            d.samples().collect::<Vec<_>>()
                        );
                        accepted += 1;
                    }
                    (None, Err(Error::MalformedBatch(_))) => refused += 1,
                    (q, d) => panic!(
                        "byte {at} = {value}: quick {:?}, detailed {d:?}",
                        q.is_some()
                    ),
                }
            }
        }
        // Corrupting a name, value or sample byte still parses; a length or count does not.
        assert_eq!(accepted + refused, body.len() * 5);
        assert!(
            accepted > 0 && refused > 0,
            "{accepted} accepted, {refused} refused"
        );
    }

    #[test]
    fn trailing_bytes_are_errors() {
        let mut buf = sample_batch();
        buf.push(0);
        assert!(read_all(&buf).unwrap_err().to_string().contains("trailing"));
    }

    #[test]
    fn leftover_bytes_inside_an_entry_are_errors() {
        let mut w = BatchWriter::new();
        w.series("m", &[], &[(1.0, 1)]);
        let mut buf = w.finish();
        // Grow the entry by one byte and its length prefix with it.
        buf.push(0);
        let len = u32::from_le_bytes(buf[12..16].try_into().unwrap()) + 1;
        buf[12..16].copy_from_slice(&len.to_le_bytes());
        assert!(read_all(&buf)
            .unwrap_err()
            .to_string()
            .contains("left over"));
    }
}
