//! Sorts up to [`WIDTH`] values in each of [`LANES`] lanes at once with Batcher's odd-even
//! merge network. Every lane goes through the same compare-exchanges and no branch depends on
//! the data, so the compiler turns each compare-exchange into SIMD min/max over the lanes.
//! The robust spike checks use it to sort eight short series at a time.

/// Series sorted together, one per lane.
pub const LANES: usize = 8;
/// Values per lane; shorter lanes are padded with `+inf`, which sorts last.
pub const WIDTH: usize = 32;

/// `block[i][lane]` is the `i`-th value of `lane`.
pub type Block = [[f64; LANES]; WIDTH];

/// Batcher's odd-even merge sort for [`WIDTH`] inputs: its 191 compare-exchanges, in order.
const PAIRS: [(u8, u8); 191] = odd_even_merge_pairs();

const fn odd_even_merge_pairs() -> [(u8, u8); 191] {
    let mut pairs = [(0, 0); 191];
    let mut n = 0;
    let mut p = 1;
    while p < WIDTH {
        let mut k = p;
        while k >= 1 {
            let mut j = k % p;
            while j + k < WIDTH {
                let mut i = 0;
                while i < k && i + j + k < WIDTH {
                    if (i + j) / (2 * p) == (i + j + k) / (2 * p) {
                        pairs[n] = ((i + j) as u8, (i + j + k) as u8);
                        n += 1;
                    }
                    i += 1;
                }
                j += 2 * k;
            }
            k /= 2;
        }
        p *= 2;
    }
    assert!(n == pairs.len());
    pairs
}

crate::simd::widest! {
    /// Sorts every lane of `block` ascending, given that rows `len..` hold `+inf` in every lane.
    /// Values must not be NaN.
    ///
    /// A compare-exchange `(i, j)`, `i < j`, leaves a `+inf` at `j` where it is, so the padding
    /// rows never move and the compare-exchanges that touch them are skipped.
    pub fn sort(block: &mut Block, len: usize) {
        for &(i, j) in PAIRS.iter().filter(|&&(_, j)| usize::from(j) < len) {
            let (a, b) = (block[i as usize], block[j as usize]);
            for lane in 0..LANES {
                // `a < b` selects exactly as SIMD min/max do, so this compiles to them.
                let (low, high) = if a[lane] < b[lane] {
                    (a[lane], b[lane])
                } else {
                    (b[lane], a[lane])
                };
                block[i as usize][lane] = low;
                block[j as usize][lane] = high;
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_lane_comes_out_sorted(
            lanes in proptest::collection::vec(
                proptest::collection::vec(prop_oneof![Just(0.0), Just(1.0), 0.0..1e9f64], 0..=WIDTH),
                LANES,
            )
        ) {
            let mut block = [[f64::INFINITY; LANES]; WIDTH];
            for (lane, values) in lanes.iter().enumerate() {
                for (i, &v) in values.iter().enumerate() {
                    block[i][lane] = v;
                }
            }
            sort(&mut block, lanes.iter().map(Vec::len).max().unwrap_or(0));
            for (lane, values) in lanes.iter().enumerate() {
                let mut expected = values.clone();
                expected.sort_by(f64::total_cmp);
                expected.resize(WIDTH, f64::INFINITY);
                let got: Vec<f64> = block.iter().map(|row| row[lane]).collect();
                prop_assert_eq!(got, expected);
            }
        }
    }
}
