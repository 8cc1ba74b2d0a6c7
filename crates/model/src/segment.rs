//! Cutting long inputs into fixed-length segments and combining the segment outputs exactly as
//! the reference `extract_clamp3.py` does (docs/reference.md §6).

/// One segment of a full sequence of `total` items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// First item of the segment.
    pub start: usize,
    /// Number of items (the segment length `M`, or `total` when shorter).
    pub len: usize,
    /// Weight in the global average: `M`, except for the last segment, which gets
    /// `total mod M` when that is not zero (even though it holds `M` items).
    pub weight: usize,
}

impl Segment {
    /// Rows of this segment's output that sequence mode keeps: all of them, except for the last
    /// segment, which keeps only its final `weight` rows (the ones no earlier segment covered).
    pub fn kept(&self) -> std::ops::Range<usize> {
        self.len - self.weight..self.len
    }
}

/// Splits `total` items into segments of at most `max`: `[i·M, (i+1)·M)` for all but the last,
/// which is the final `M` items (overlapping its predecessor when `total` is not a multiple of
/// `M`). Empty for `total == 0`.
pub fn segments(total: usize, max: usize) -> Vec<Segment> {
    assert!(max > 0, "segment length must be positive");
    if total == 0 {
        return Vec::new();
    }
    let count = total.div_ceil(max);
    let rem = total % max;
    (0..count)
        .map(|i| {
            if i + 1 < count {
                Segment {
                    start: i * max,
                    len: max,
                    weight: max,
                }
            } else {
                let len = total.min(max);
                Segment {
                    start: total - len,
                    len,
                    weight: if rem == 0 { len } else { rem },
                }
            }
        })
        .collect()
}

/// Length-weighted average of per-segment vectors: `Σ wᵢ·eᵢ / Σ wᵢ`, in f32 like the reference.
pub fn combine_global(vectors: &[&[f32]], segs: &[Segment]) -> Vec<f32> {
    assert_eq!(vectors.len(), segs.len());
    let dim = vectors.first().map_or(0, |v| v.len());
    let mut acc = vec![0f32; dim];
    let mut total = 0f32;
    for (v, s) in vectors.iter().zip(segs) {
        let w = s.weight as f32;
        for (a, x) in acc.iter_mut().zip(v.iter()) {
            *a += x * w;
        }
        total += w;
    }
    acc.iter_mut().for_each(|a| *a /= total);
    acc
}

/// Concatenates the kept rows (see [`Segment::kept`]) of per-segment states, each a row-major
/// `[segment len, dim]` slice: exactly `total` rows.
pub fn combine_sequence(states: &[&[f32]], segs: &[Segment], dim: usize) -> Vec<f32> {
    assert_eq!(states.len(), segs.len());
    let mut out = Vec::new();
    for (st, s) in states.iter().zip(segs) {
        let r = s.kept();
        out.extend_from_slice(&st[r.start * dim..r.end * dim]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_input_is_one_segment_weighted_by_its_length() {
        assert_eq!(
            segments(5, 128),
            vec![Segment {
                start: 0,
                len: 5,
                weight: 5
            }]
        );
    }

    #[test]
    fn last_segment_overlaps_and_weighs_the_remainder() {
        let s = segments(300, 128);
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].start, s[0].len, s[0].weight), (0, 128, 128));
        assert_eq!((s[1].start, s[1].len, s[1].weight), (128, 128, 128));
        // The last is the final 128 items, [172, 300), but weighs 300 % 128 = 44.
        assert_eq!((s[2].start, s[2].len, s[2].weight), (172, 128, 44));
        assert_eq!(s.iter().map(|x| x.weight).sum::<usize>(), 300);
        assert_eq!(s[2].kept(), 84..128);
    }

    #[test]
    fn exact_multiple_has_full_weights() {
        let s = segments(256, 128);
        assert_eq!(s.len(), 2);
        assert_eq!((s[1].start, s[1].weight), (128, 128));
        assert_eq!(s[1].kept(), 0..128);
    }

    #[test]
    fn global_average_uses_the_weights() {
        let s = segments(3, 2); // [0,2) w2, [1,3) w1
        let a = [1.0f32, 0.0];
        let b = [4.0f32, 3.0];
        let g = combine_global(&[&a, &b], &s);
        assert_eq!(g, vec![(2.0 + 4.0) / 3.0, 1.0]);
    }

    #[test]
    fn sequence_keeps_exactly_total_rows() {
        let s = segments(5, 2); // [0,2) [2,4) [3,5) keep 1
        let st: Vec<Vec<f32>> = s
            .iter()
            .map(|seg| (seg.start..seg.start + seg.len).map(|i| i as f32).collect())
            .collect();
        let refs: Vec<&[f32]> = st.iter().map(|v| v.as_slice()).collect();
        assert_eq!(
            combine_sequence(&refs, &s, 1),
            vec![0.0, 1.0, 2.0, 3.0, 4.0]
        );
    }
}
