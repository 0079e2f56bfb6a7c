//! Order statistics (median, MAD, quantiles) selected as the peer's sort selects them.

use crate::network;

/// Fills `keys` with the bit patterns of finite values >= 0, which order like the values
/// (`+ 0.0` turns a `-0.0` into `0.0`), so selection compares integers.
pub(super) fn load_keys(keys: &mut Vec<u64>, values: impl Iterator<Item = f64>) {
    keys.clear();
    keys.extend(values.map(|v| (v + 0.0).to_bits()));
}

pub(super) fn key(k: u64) -> f64 {
    f64::from_bits(k)
}

/// A multiset of finite values >= 0 that can be read in ascending order: the sorted keys of
/// a one-off check, or the sliding window of a rolling check.
pub(super) trait Ordered {
    /// Number of values.
    fn len(&self) -> usize;
    /// The `i`-th smallest value (from 0).
    fn nth(&self, i: usize) -> f64;
    /// How many values are below `x`.
    fn count_below(&self, x: f64) -> usize;
}

/// Sorted keys (see [`load_keys`]).
pub(super) struct Sorted<'a>(pub(super) &'a [u64]);

impl Ordered for Sorted<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn nth(&self, i: usize) -> f64 {
        key(self.0[i])
    }

    fn count_below(&self, x: f64) -> usize {
        self.0.partition_point(|&k| key(k) < x)
    }
}

/// The first `len` values of one lane of a block sorted by [`network::sort`].
pub(super) struct SortedLane<'a> {
    pub(super) block: &'a network::Block,
    pub(super) lane: usize,
    pub(super) len: usize,
}

impl Ordered for SortedLane<'_> {
    fn len(&self) -> usize {
        self.len
    }

    fn nth(&self, i: usize) -> f64 {
        self.block[i][self.lane]
    }

    fn count_below(&self, x: f64) -> usize {
        let (mut low, mut high) = (0, self.len);
        while low < high {
            let mid = (low + high) / 2;
            if self.nth(mid) < x {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low
    }
}

/// The median, as the peer computes it from its sorted list.
pub(super) fn median_of(values: &impl Ordered) -> f64 {
    let n = values.len();
    let mid = n / 2;
    if n % 2 == 1 {
        values.nth(mid)
    } else {
        (values.nth(mid - 1) + values.nth(mid)) / 2.0
    }
}

/// The median of `|v - median|`, without computing and sorting every deviation. The
/// deviations of the values below the median ascend walking down from it (run `below`), those
/// of the others ascend walking up (run `above`); the `t` smallest deviations are the first
/// `a` of `below` and `t - a` of `above` for the one `a` that a binary search finds, so this
/// reads O(log n) values. `|v - m|` and `m - v` are the same float, so this is the peer's
/// figure to the bit.
pub(super) fn mad_of(values: &impl Ordered, median: f64) -> f64 {
    let n = values.len();
    let split = values.count_below(median);
    let below = |i: usize| median - values.nth(split - 1 - i);
    let above = |j: usize| values.nth(split + j) - median;
    let t = n / 2;
    let (mut lo, mut hi) = (t.saturating_sub(n - split), t.min(split));
    while lo < hi {
        let a = (lo + hi) / 2;
        if below(a) < above(t - a - 1) {
            lo = a + 1;
        } else {
            hi = a;
        }
    }
    let a = lo;
    let b = t - a;
    let pick = |x: Option<f64>, y: Option<f64>, f: fn(f64, f64) -> f64| match (x, y) {
        (Some(x), Some(y)) => f(x, y),
        (x, y) => x.or(y).expect("n >= 1"),
    };
    let middle = pick(
        (a < split).then(|| below(a)),
        (b < n - split).then(|| above(b)),
        f64::min,
    );
    if n % 2 == 1 {
        middle
    } else {
        let previous = pick(
            (a > 0).then(|| below(a - 1)),
            (b > 0).then(|| above(b - 1)),
            f64::max,
        );
        (previous + middle) / 2.0
    }
}

/// The peer's linear-interpolation quantile.
pub(super) fn quantile_of(values: &impl Ordered, p: f64) -> f64 {
    let n = values.len();
    if n == 1 {
        return values.nth(0);
    }
    let rank = p * (n - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    if lo == hi {
        values.nth(lo)
    } else {
        let low = values.nth(lo);
        low + (rank - lo as f64) * (values.nth(hi) - low)
    }
}
