//! Sums as Python computes them, so means agree with the peer's.

/// Python's `sum()` of floats (CPython 3.12+): Neumaier's compensated summation.
pub fn python_sum(values: &[f64]) -> f64 {
    let (mut sum, mut compensation) = (0.0f64, 0.0f64);
    for &x in values {
        let t = sum + x;
        if sum.abs() >= x.abs() {
            compensation += (sum - t) + x;
        } else {
            compensation += (x - t) + sum;
        }
        sum = t;
    }
    if compensation != 0.0 && compensation.is_finite() {
        sum += compensation;
    }
    sum
}

/// Neumaier's compensated sum (as [`python_sum`]), kept as its running pair.
#[derive(Default, Clone, Copy)]
pub(super) struct Compensated {
    pub(super) sum: f64,
    pub(super) compensation: f64,
}

impl Compensated {
    pub(super) fn add(&mut self, x: f64) {
        let t = self.sum + x;
        self.compensation += if self.sum.abs() >= x.abs() {
            (self.sum - t) + x
        } else {
            (x - t) + self.sum
        };
        self.sum = t;
    }

    /// The sum, as [`python_sum`] ends it: a compensation made non-finite by an overflow
    /// (`inf - inf`) is left out, so a sum that overflows is `inf`, as in Python, not NaN.
    pub(super) fn value(&self) -> f64 {
        if self.compensation.is_finite() {
            self.sum + self.compensation
        } else {
            self.sum
        }
    }
}

/// The sum of a sliding window of `k` points without ever subtracting (a running sum that
/// subtracts loses small windows after large values). Windows start at block `b` of `k`
/// points: each is a suffix of block `b`, summed once per block, plus a prefix of block
/// `b + 1`, summed as it arrives. O(1) a step, and the sum of the window's own points only.
#[derive(Default)]
pub(super) struct WindowSum {
    pub(super) suffixes: Vec<Compensated>,
    pub(super) prefix: Compensated,
}

impl WindowSum {
    /// Starts a block: `block` is the next window, the suffix sums are taken afresh.
    pub(super) fn start_block(&mut self, block: &[f64]) {
        self.suffixes.clear();
        let mut sum = Compensated::default();
        for &x in block.iter().rev() {
            sum.add(x);
            self.suffixes.push(sum);
        }
        self.suffixes.reverse();
        self.prefix = Compensated::default();
    }

    /// The window `step` points into the block.
    pub(super) fn value(&self, step: usize) -> f64 {
        let mut sum = self.suffixes[step];
        sum.add(self.prefix.sum);
        sum.compensation += self.prefix.compensation;
        sum.value()
    }

    /// A point enters (the window's first leaves with the next `step`).
    pub(super) fn push(&mut self, x: f64) {
        self.prefix.add(x);
    }
}
