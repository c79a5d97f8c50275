//! Validation and normalisation of one series against the Remote-Write 1.0 rules.
//!
//! A valid series becomes a [`NormalSeries`]: `__name__` plus the user's labels sorted by name
//! (byte order), and samples in timestamp order. An invalid series is rejected alone with the
//! [`Invalid`] reason; the rest of the batch is unaffected.

use crate::batch::SeriesRef;
use std::fmt;

/// The label that carries the metric name.
pub const METRIC_NAME_LABEL: &[u8] = b"__name__";

/// Why a series was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// The metric name is empty.
    MissingMetricName,
    /// The metric name does not match `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    InvalidMetricName,
    /// A label name does not match `[a-zA-Z_][a-zA-Z0-9_]*`.
    InvalidLabelName,
    /// A label name starts with `__`, which Remote-Write reserves (this includes `__name__`).
    ReservedLabelName,
    /// Two labels have the same name.
    DuplicateLabelName,
    /// A label value is empty.
    EmptyLabelValue,
    /// A name or value is not UTF-8.
    InvalidUtf8,
}

impl Invalid {
    /// Short stable description, used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Invalid::MissingMetricName => "missing metric name",
            Invalid::InvalidMetricName => "invalid metric name",
            Invalid::InvalidLabelName => "invalid label name",
            Invalid::ReservedLabelName => "reserved label name (starts with __)",
            Invalid::DuplicateLabelName => "repeated label name",
            Invalid::EmptyLabelValue => "empty label value",
            Invalid::InvalidUtf8 => "name or value not UTF-8",
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Character classes of names, one table lookup per byte.
const FIRST: u8 = 1; // may start a label name: [a-zA-Z_]
const REST: u8 = 2; // may follow in a label name: [a-zA-Z0-9_]
const COLON: u8 = 4; // ':' is allowed anywhere in a metric name, nowhere in a label name
const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphabetic() || b == b'_' {
            t[c] = FIRST | REST;
        } else if b.is_ascii_digit() {
            t[c] = REST;
        } else if b == b':' {
            t[c] = COLON;
        }
        c += 1;
    }
    t
};

/// True when `name` is non-empty, its first byte is in `first` and the rest in `rest`.
#[inline]
fn name_matches(name: &[u8], first: u8, rest: u8) -> bool {
    match name.split_first() {
        Some((head, tail)) => {
            CLASSES[*head as usize] & first != 0
                && tail.iter().all(|c| CLASSES[*c as usize] & rest != 0)
        }
        None => false,
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn is_valid_metric_name(name: &[u8]) -> bool {
    name_matches(name, FIRST | COLON, REST | COLON)
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
pub fn is_valid_label_name(name: &[u8]) -> bool {
    name_matches(name, FIRST, REST)
}

/// UTF-8 check with a fast path for ASCII, which label values almost always are.
#[inline]
fn is_utf8(value: &[u8]) -> bool {
    value.is_ascii() || std::str::from_utf8(value).is_ok()
}

/// A series ready to encode: labels sorted, samples ordered. Borrowed from the batch buffer
/// except where samples had to be re-ordered.
pub struct NormalSeries<'a, 's> {
    /// Labels including `__name__`, sorted by name.
    pub labels: &'s [(&'a [u8], &'a [u8])],
    /// Samples `(value, timestamp_ms)` in timestamp order.
    pub samples: Samples<'a, 's>,
}

/// The samples of a [`NormalSeries`]: straight from the buffer when already ordered, otherwise
/// a sorted copy.
#[derive(Clone)]
pub enum Samples<'a, 's> {
    /// Already in timestamp order in the batch buffer.
    InOrder(SeriesRef<'a>),
    /// Re-ordered copy.
    Sorted(&'s [(f64, i64)]),
}

impl Samples<'_, '_> {
    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Samples::InOrder(s) => s.sample_count(),
            Samples::Sorted(v) => v.len(),
        }
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` for every sample in order.
    #[inline]
    pub fn for_each(&self, mut f: impl FnMut(f64, i64)) {
        match self {
            Samples::InOrder(s) => s.samples().for_each(|(v, t)| f(v, t)),
            Samples::Sorted(v) => v.iter().for_each(|&(v, t)| f(v, t)),
        }
    }
}

/// Scratch space for normalising the series of one batch (it borrows from the batch buffer),
/// reused from series to series.
#[derive(Default)]
pub struct Normalizer<'a> {
    labels: Vec<(&'a [u8], &'a [u8])>,
    samples: Vec<(f64, i64)>,
}

impl<'a> Normalizer<'a> {
    /// A normaliser with empty scratch space.
    pub fn new() -> Self {
        Normalizer::default()
    }

    /// Validates `series` and returns it normalised, or the reason it is rejected.
    pub fn normalise<'s>(
        &'s mut self,
        series: &SeriesRef<'a>,
    ) -> Result<NormalSeries<'a, 's>, Invalid> {
        let name = series.metric_name;
        if name.is_empty() {
            return Err(Invalid::MissingMetricName);
        }
        if !is_valid_metric_name(name) {
            return Err(Invalid::InvalidMetricName);
        }
        self.labels.clear();
        self.labels.push((METRIC_NAME_LABEL, name));
        for (label, value) in series.labels() {
            if !is_valid_label_name(label) {
                return Err(Invalid::InvalidLabelName);
            }
            if label.starts_with(b"__") {
                return Err(Invalid::ReservedLabelName);
            }
            if value.is_empty() {
                return Err(Invalid::EmptyLabelValue);
            }
            if !is_utf8(value) {
                return Err(Invalid::InvalidUtf8);
            }
            self.labels.push((label, value));
        }
        // Names are ASCII (checked above), so byte order is the spec's order. Labels are few:
        // an insertion sort beats the general sort and is a no-op when already sorted.
        insertion_sort_by_name(&mut self.labels);
        if self.labels.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(Invalid::DuplicateLabelName);
        }
        let ordered = series
            .samples()
            .zip(series.samples().skip(1))
            .all(|(a, b)| a.1 <= b.1);
        let samples = if ordered {
            Samples::InOrder(*series)
        } else {
            self.samples.clear();
            self.samples.extend(series.samples());
            // Stable: samples with equal timestamps keep the order they were given in.
            self.samples.sort_by_key(|s| s.1);
            Samples::Sorted(&self.samples)
        };
        Ok(NormalSeries {
            labels: &self.labels,
            samples,
        })
    }
}

fn insertion_sort_by_name(labels: &mut [(&[u8], &[u8])]) {
    for i in 1..labels.len() {
        let mut j = i;
        while j > 0 && name_before(labels[j].0, labels[j - 1].0) {
            labels.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// `a < b` in byte order. Names mostly differ in their first bytes, where this inline loop
/// stops; a call to `memcmp` costs more than the comparison it makes.
#[inline]
fn name_before(a: &[u8], b: &[u8]) -> bool {
    match a.iter().zip(b).find(|(x, y)| x != y) {
        Some((x, y)) => x < y,
        None => a.len() < b.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{BatchReader, BatchWriter};

    fn check(metric: &str, labels: &[(&str, &str)]) -> Result<Vec<(String, String)>, Invalid> {
        let mut w = BatchWriter::new();
        w.series(metric, labels, &[(1.0, 1)]);
        let buf = w.finish();
        let mut r = BatchReader::new(&buf).unwrap();
        let series = r.next_series().unwrap().unwrap();
        let mut n = Normalizer::new();
        let normal = n.normalise(&series)?;
        Ok(normal
            .labels
            .iter()
            .map(|(a, b)| {
                (
                    String::from_utf8(a.to_vec()).unwrap(),
                    String::from_utf8(b.to_vec()).unwrap(),
                )
            })
            .collect())
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn names_sort_in_byte_order_prefixes_first() {
        let mut names: Vec<&[u8]> = vec![b"ab", b"a", b"B", b"abc", b"_", b"Z9", b"aa", b"a_"];
        let mut expected = names.clone();
        expected.sort();
        let mut labels: Vec<(&[u8], &[u8])> = names.iter().map(|n| (*n, &b"v"[..])).collect();
        insertion_sort_by_name(&mut labels);
        names = labels.iter().map(|l| l.0).collect();
        assert_eq!(names, expected);
        assert!(name_before(b"a", b"ab") && !name_before(b"ab", b"a") && !name_before(b"a", b"a"));
    }

    #[test]
    fn metric_name_becomes_name_label_and_labels_are_sorted() {
        assert_eq!(
            check("temp", &[("zone", "z"), ("Device", "D"), ("app", "a")]).unwrap(),
            pairs(&[
                ("Device", "D"),
                ("__name__", "temp"),
                ("app", "a"),
                ("zone", "z")
            ])
        );
    }

    #[test]
    fn missing_metric_name_is_rejected() {
        assert_eq!(check("", &[("a", "b")]), Err(Invalid::MissingMetricName));
    }

    #[test]
    fn invalid_metric_names_are_rejected() {
        for name in ["1abc", "a-b", "a b", "é", "a.b"] {
            assert_eq!(check(name, &[]), Err(Invalid::InvalidMetricName), "{name}");
        }
        for name in ["a", "_a", ":a", "a:b_c9", "A"] {
            assert!(check(name, &[]).is_ok(), "{name}");
        }
    }

    #[test]
    fn invalid_label_names_are_rejected() {
        for name in ["", "1a", "a:b", "a-b", "é"] {
            assert_eq!(
                check("m", &[(name, "v")]),
                Err(Invalid::InvalidLabelName),
                "{name:?}"
            );
        }
    }

    #[test]
    fn reserved_label_names_are_rejected() {
        assert_eq!(
            check("m", &[("__name__", "x")]),
            Err(Invalid::ReservedLabelName)
        );
        assert_eq!(
            check("m", &[("__foo", "x")]),
            Err(Invalid::ReservedLabelName)
        );
        assert!(check("m", &[("_foo", "x")]).is_ok());
    }

    #[test]
    fn repeated_label_names_are_rejected() {
        assert_eq!(
            check("m", &[("a", "1"), ("b", "2"), ("a", "3")]),
            Err(Invalid::DuplicateLabelName)
        );
    }

    #[test]
    fn empty_label_values_are_rejected() {
        assert_eq!(check("m", &[("a", "")]), Err(Invalid::EmptyLabelValue));
    }

    #[test]
    fn non_utf8_label_values_are_rejected() {
        let mut w = BatchWriter::new();
        w.series("m", &[("a", "x")], &[(1.0, 1)]);
        let mut buf = w.finish();
        let at = buf.len() - 17; // the value "x", before the one sample
        buf[at] = 0xff;
        let mut r = BatchReader::new(&buf).unwrap();
        let s = r.next_series().unwrap().unwrap();
        assert_eq!(
            Normalizer::new().normalise(&s).err(),
            Some(Invalid::InvalidUtf8)
        );
    }

    #[test]
    fn unicode_label_values_are_kept() {
        assert_eq!(
            check("m", &[("city", "Zürich 東京")]).unwrap(),
            pairs(&[("__name__", "m"), ("city", "Zürich 東京")])
        );
    }

    #[test]
    fn samples_are_put_in_timestamp_order_stably() {
        let mut w = BatchWriter::new();
        w.series("m", &[], &[(3.0, 30), (1.0, 10), (2.0, 20), (4.0, 10)]);
        let buf = w.finish();
        let mut r = BatchReader::new(&buf).unwrap();
        let s = r.next_series().unwrap().unwrap();
        let mut n = Normalizer::new();
        let normal = n.normalise(&s).unwrap();
        let mut got = Vec::new();
        normal.samples.for_each(|v, t| got.push((v, t)));
        assert_eq!(got, vec![(1.0, 10), (4.0, 10), (2.0, 20), (3.0, 30)]);
        assert!(matches!(normal.samples, Samples::Sorted(_)));
    }

    #[test]
    fn ordered_samples_are_not_copied() {
        let mut w = BatchWriter::new();
        w.series("m", &[], &[(1.0, 10), (2.0, 10), (3.0, 20)]);
        let buf = w.finish();
        let mut r = BatchReader::new(&buf).unwrap();
        let s = r.next_series().unwrap().unwrap();
        let mut n = Normalizer::new();
        assert!(matches!(
            n.normalise(&s).unwrap().samples,
            Samples::InOrder(_)
        ));
    }
}
