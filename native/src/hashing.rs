//! Which lane sends a series: lane `jump(series_key(labels), active)`, jump consistent hashing
//! (Lamping and Veach, 2014), so when `active` grows from `k` to `m` a series either keeps its
//! lane or moves to one of the new lanes `k..m`, and when it shrinks only the series of the
//! removed lanes move.

/// FNV-1a over a series' sorted labels, each name and value followed by 0xff.
pub fn series_key<'a>(labels: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes.iter().chain(&[0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for (name, value) in labels {
        eat(name);
        eat(value);
    }
    h
}

/// Jump consistent hash: the lane of `key` among `lanes` (at least 1).
pub fn jump(mut key: u64, lanes: usize) -> usize {
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < lanes as i64 {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b.max(0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> impl Iterator<Item = u64> {
        (0..20_000u64).map(|i| series_key([(b"device".as_slice(), i.to_string().as_bytes())]))
    }

    #[test]
    fn jump_spreads_evenly_and_moves_series_only_to_or_from_changed_lanes() {
        for lanes in [1, 2, 3, 12, 64] {
            let mut per_lane = vec![0usize; lanes];
            keys().for_each(|k| per_lane[jump(k, lanes)] += 1);
            // Within 5 standard deviations of a fair split (binomial).
            let expected = 20_000 / lanes;
            let tolerance = 5.0 * (expected as f64).sqrt();
            for n in per_lane {
                let off = n.abs_diff(expected) as f64;
                assert!(off <= tolerance, "{n} vs {expected} of {lanes}");
            }
        }
        for (from, to) in [(1, 2), (2, 4), (4, 8), (8, 12), (3, 7)] {
            for k in keys() {
                let (a, b) = (jump(k, from), jump(k, to));
                assert!(a == b || b >= from, "growing {from}->{to} moved {a} to {b}");
            }
        }
        // The same key stays put when the count does not change, and 1 lane is lane 0.
        assert!(keys().all(|k| jump(k, 12) == jump(k, 12) && jump(k, 1) == 0));
    }
}
