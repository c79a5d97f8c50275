//! The shared golden vector `tests/golden/batch-v1.txt`: the Rust writer produces its bytes and
//! the reader reads back its series. The Java writer is held to the same bytes by JUnit.

use promsink::batch::{BatchReader, BatchWriter};

type Series = (String, Vec<(String, String)>, Vec<(u64, i64)>);

fn golden() -> (Vec<Series>, Vec<u8>) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/golden/batch-v1.txt"
    ))
    .unwrap();
    let mut series: Vec<Series> = Vec::new();
    let mut hex = String::new();
    for line in text.lines() {
        let mut parts = line.split(' ');
        match parts.next() {
            Some("series") => {
                let metric = parts.next().unwrap();
                let metric = if metric == "-" { "" } else { metric };
                let labels = parts
                    .map(|p| {
                        let (n, v) = p.split_once('=').unwrap();
                        (n.to_string(), v.to_string())
                    })
                    .collect();
                series.push((metric.to_string(), labels, Vec::new()));
            }
            Some("sample") => {
                let bits = u64::from_str_radix(parts.next().unwrap(), 16).unwrap();
                let ts: i64 = parts.next().unwrap().parse().unwrap();
                series.last_mut().unwrap().2.push((bits, ts));
            }
            Some("hex") => hex.push_str(parts.next().unwrap()),
            _ => {}
        }
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    (series, bytes)
}

#[test]
fn rust_writer_produces_the_golden_bytes() {
    let (series, bytes) = golden();
    let mut w = BatchWriter::new();
    for (metric, labels, samples) in &series {
        let labels: Vec<(&str, &str)> = labels
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let samples: Vec<(f64, i64)> = samples
            .iter()
            .map(|&(b, t)| (f64::from_bits(b), t))
            .collect();
        w.series(metric, &labels, &samples);
    }
    assert_eq!(w.finish(), bytes);
}

#[test]
fn reader_reads_the_golden_series() {
    let (series, bytes) = golden();
    let mut r = BatchReader::new(&bytes).unwrap();
    for (metric, labels, samples) in &series {
        let s = r.next_series().unwrap().unwrap();
        assert_eq!(s.metric_name, metric.as_bytes());
        let got: Vec<(String, String)> = s
            .labels()
            .map(|(n, v)| {
                (
                    String::from_utf8(n.to_vec()).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                )
            })
            .collect();
        assert_eq!(&got, labels);
        let got: Vec<(u64, i64)> = s.samples().map(|(v, t)| (v.to_bits(), t)).collect();
        assert_eq!(&got, samples);
    }
    assert!(r.next_series().is_none());
}
