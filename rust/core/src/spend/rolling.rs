//! Rolling checks: a spike or burn check at every point of a series, against the points
//! before it.

use super::*;

/// What a rolling check computes at each step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RollingCheck {
    /// A spike check ([`SeriesCheck`]) against the previous `window` points.
    Anomaly(SeriesCheck),
    /// `check_burn_rate` against the previous `window` points.
    Burn {
        /// Must be > 1.
        hot_multiplier: f64,
    },
}

/// Output of [`rolling_batch`]: one value per point of every series (rows × width, row-major).
/// Points without `window` earlier points, and padding, hold NaN and `false`.
pub struct RollingColumns<'a> {
    /// Points per row.
    pub width: usize,
    /// The baseline (mean, median or percentile) of the previous `window` points.
    pub baseline: &'a mut [f64],
    /// The threshold the point had to exceed (spike checks) or its burn-rate ratio (burn).
    pub level: &'a mut [f64],
    /// Spike (or hot) at this point.
    pub flag: &'a mut [bool],
}

impl Columns for RollingColumns<'_> {
    fn rows(&self) -> usize {
        self.flag.len() / self.width.max(1)
    }

    fn split_at(self, mid: usize) -> (Self, Self) {
        let cut = mid * self.width;
        let (b0, b1) = self.baseline.split_at_mut(cut);
        let (l0, l1) = self.level.split_at_mut(cut);
        let (f0, f1) = self.flag.split_at_mut(cut);
        let width = self.width;
        (
            RollingColumns {
                width,
                baseline: b0,
                level: l0,
                flag: f0,
            },
            RollingColumns {
                width,
                baseline: b1,
                level: l1,
                flag: f1,
            },
        )
    }
}

/// Checks a rolling window length.
pub fn check_window(window: i64) -> Result<usize, Error> {
    if window >= 1 {
        Ok(window as usize)
    } else {
        Err(Error::bad("window", "must be >= 1", window))
    }
}

/// A rolling check over every series of a batch: at each point with at least
/// `window` earlier points, the check of that point against the previous `window` points,
/// exactly as the scalar check of that slice gives it (means within an ulp or two: the
/// window's points are summed in another order, see [`WindowSum`]). Means cost O(1) a step; medians and percentiles O(log k), MADs
/// O(log² k) (see [`RankWindow`]).
pub fn rolling_batch(
    check: &RollingCheck,
    batch: &SeriesBatch<'_>,
    window: usize,
    out: RollingColumns<'_>,
) -> Result<(), Error> {
    // The rolling work per point dwarfs a separate validation pass.
    batch.validate()?;
    let width = batch.width;
    let keep_ordered = matches!(check, RollingCheck::Anomaly(c) if c.needs_sorted());
    par_fill(
        out,
        0,
        batch.rows_per_task(),
        &|out: RollingColumns<'_>, first: usize| {
            out.baseline.fill(f64::NAN);
            out.level.fill(f64::NAN);
            out.flag.fill(false);
            let mut ordered = RankWindow::default();
            for k in 0..out.rows() {
                let (start, series) = batch.trimmed(first + k);
                let base = k * width + start;
                let mut sum = WindowSum::default();
                for t in window..series.len() {
                    let step = (t - window) % window;
                    if step == 0 {
                        sum.start_block(&series[t - window..t]);
                    }
                    if keep_ordered {
                        if step == 0 {
                            let block_end = (t + window).min(series.len());
                            ordered.rebuild(&series[t - window..block_end - 1], window);
                        } else {
                            ordered.slide(step);
                        }
                    }
                    let mean = || sum.value(step) / window as f64;
                    let (baseline, level, flag) = rolling_step(check, series[t], mean, &ordered);
                    out.baseline[base + t] = baseline;
                    out.level[base + t] = level;
                    out.flag[base + t] = flag;
                    sum.push(series[t]);
                }
            }
        },
    );
    Ok(())
}

/// The window of a rolling robust check, as a Fenwick tree counting the window's points by
/// rank. The ranks are those of one block's points: the `2k - 1` points that windows of `k`
/// points see over `k` consecutive steps. Ranking a block costs O(k log k), so O(log k) a
/// step; inserting, removing, and finding the i-th smallest cost O(log k) each.
#[derive(Default)]
pub(super) struct RankWindow {
    /// The block's distinct keys (see [`load_keys`]), ascending.
    pub(super) distinct: Vec<u64>,
    /// Each block point's index in `distinct`.
    pub(super) ranks: Vec<u32>,
    /// Fenwick tree (1-based) of how many window points have each rank, over a power of two
    /// of ranks so that [`Ordered::nth`] descends it without bounds checks or branches.
    pub(super) counts: Vec<u32>,
    /// Points in the window.
    pub(super) window: usize,
}

impl RankWindow {
    /// Ranks a block's points and makes the window its first `window` points.
    pub(super) fn rebuild(&mut self, block: &[f64], window: usize) {
        load_keys(&mut self.distinct, block.iter().copied());
        self.distinct.sort_unstable();
        self.distinct.dedup();
        let distinct = &self.distinct;
        self.ranks.clear();
        self.ranks.extend(block.iter().map(|&v| {
            let at = distinct.binary_search(&(v + 0.0).to_bits());
            at.expect("every block point is ranked") as u32
        }));
        self.counts.clear();
        self.counts
            .resize(distinct.len().next_power_of_two() + 1, 0);
        for &rank in &self.ranks[..window] {
            self.counts[rank as usize + 1] += 1;
        }
        for i in 1..self.counts.len() {
            let parent = i + (i & i.wrapping_neg());
            if parent < self.counts.len() {
                self.counts[parent] += self.counts[i];
            }
        }
        self.window = window;
    }

    /// Moves the window one point on, to start at block point `step`.
    pub(super) fn slide(&mut self, step: usize) {
        self.add(self.ranks[step - 1], u32::wrapping_sub);
        self.add(self.ranks[step - 1 + self.window], u32::wrapping_add);
    }

    pub(super) fn add(&mut self, rank: u32, op: fn(u32, u32) -> u32) {
        let mut i = rank as usize + 1;
        while i < self.counts.len() {
            self.counts[i] = op(self.counts[i], 1);
            i += i & i.wrapping_neg();
        }
    }
}

impl Ordered for RankWindow {
    fn len(&self) -> usize {
        self.window
    }

    fn nth(&self, i: usize) -> f64 {
        let (mut rank, mut remaining) = (0, i as u32 + 1);
        let mut step = (self.counts.len() - 1) / 2;
        while step > 0 {
            let count = self.counts[rank + step];
            let take = count < remaining;
            rank += usize::from(take) * step;
            remaining -= u32::from(take) * count;
            step >>= 1;
        }
        key(self.distinct[rank])
    }

    fn count_below(&self, x: f64) -> usize {
        let mut i = self.distinct.partition_point(|&k| key(k) < x);
        let mut count = 0;
        while i > 0 {
            count += self.counts[i] as usize;
            i &= i - 1;
        }
        count
    }
}

/// One step of [`rolling_batch`]: `(baseline, level, flag)` for `latest` against the window.
pub(super) fn rolling_step(
    check: &RollingCheck,
    latest: f64,
    mean: impl Fn() -> f64,
    ordered: &impl Ordered,
) -> (f64, f64, bool) {
    match check {
        RollingCheck::Burn { hot_multiplier } => {
            let b = burn_of(latest, mean(), *hot_multiplier);
            (b.average_spend, b.burn_rate_ratio, b.is_hot)
        }
        RollingCheck::Anomaly(series_check) => {
            let a = series_check.judge(latest, mean, ordered);
            (a.baseline_mean, a.threshold, a.is_spike)
        }
    }
}

#[cfg(all(test, not(loom)))]
mod rolling_tests {
    use super::*;

    fn run(
        check: RollingCheck,
        values: &[f64],
        width: usize,
        window: usize,
    ) -> (Vec<f64>, Vec<f64>, Vec<bool>) {
        let batch = SeriesBatch::new(values, values.len() / width, width, None).unwrap();
        let n = values.len();
        let (mut b, mut l, mut f) = (vec![0.0; n], vec![0.0; n], vec![false; n]);
        rolling_batch(
            &check,
            &batch,
            window,
            RollingColumns {
                width,
                baseline: &mut b,
                level: &mut l,
                flag: &mut f,
            },
        )
        .unwrap();
        (b, l, f)
    }

    proptest::proptest! {
        /// Every step equals the scalar check of the slice ending there.
        #[test]
        fn each_step_equals_the_scalar_check_of_its_window(
            values in proptest::collection::vec(proptest::prop_oneof![0.0f64..1e6, 1e-300f64..1e-150, proptest::sample::select(vec![0.0, 1.0, 3.0])], 2..200),
            window in 1usize..40,
            method in 0usize..4,
        ) {
            let checks = [
                RollingCheck::Anomaly(SeriesCheck::spike(1.5, 0.0).unwrap()),
                RollingCheck::Anomaly(SeriesCheck::robust(Robust::Mad { z_threshold: 3.5, min_mad: 0.0 }, 0.0).unwrap()),
                RollingCheck::Anomaly(SeriesCheck::robust(Robust::Percentile { percentile: 0.9 }, 0.0).unwrap()),
                RollingCheck::Burn { hot_multiplier: 1.4 },
            ];
            let check = checks[method];
            let (baseline, level, flag) = run(check, &values, values.len(), window);
            let mut scratch = Vec::new();
            for t in 0..values.len() {
                if t < window {
                    proptest::prop_assert!(baseline[t].is_nan() && level[t].is_nan() && !flag[t]);
                    continue;
                }
                let slice = &values[t - window..=t];
                let (b, l, f) = match check {
                    RollingCheck::Anomaly(c) => { let a = c.apply(slice, &mut scratch); (a.baseline_mean, a.threshold, a.is_spike) }
                    RollingCheck::Burn { hot_multiplier } => { let b = burn(slice, hot_multiplier); (b.average_spend, b.burn_rate_ratio, b.is_hot) }
                };
                if matches!(method, 1 | 2) {
                    // Medians, MADs and percentiles come from the same order statistics.
                    proptest::prop_assert_eq!((baseline[t], level[t], flag[t]), (b, l, f), "at {}", t);
                }
                let close = |x: f64, y: f64| x == y || (x - y).abs() <= 1e-12 * y.abs().max(x.abs());
                proptest::prop_assert!(close(baseline[t], b), "baseline at {}: {} vs {}", t, baseline[t], b);
                proptest::prop_assert!(close(level[t], l), "level at {}: {} vs {}", t, level[t], l);
                // A flag may differ only where the figure sits on its threshold within rounding.
                let on_edge = close(values[t], l) || close(level[t], 1.4);
                proptest::prop_assert!(flag[t] == f || on_edge);
            }
        }
    }

    #[test]
    fn small_windows_after_large_values_keep_their_mean() {
        // A running sum that subtracts would give 0 for the last windows.
        let values = [48577.0, 999_999.4, 2.2e-159, 0.0, 0.0, 0.0];
        let (baseline, _, _) = run(
            RollingCheck::Burn {
                hot_multiplier: 1.4,
            },
            &values,
            6,
            3,
        );
        assert_eq!(baseline[5], 2.2e-159 / 3.0);
    }

    #[test]
    fn padding_and_short_history_hold_nan() {
        let nan = f64::NAN;
        let values = [nan, 1.0, 1.0, 9.0, /* row 1 */ 2.0, 2.0, 2.0, 2.0];
        let check = RollingCheck::Anomaly(SeriesCheck::spike(1.5, 0.0).unwrap());
        let (baseline, _, flag) = run(check, &values, 4, 2);
        assert!(baseline[0].is_nan() && baseline[1].is_nan() && baseline[2].is_nan());
        assert_eq!((baseline[3], flag[3]), (1.0, true));
        assert_eq!(flag[4..].iter().filter(|&&f| f).count(), 0);
        assert_eq!(baseline[6], 2.0);
        assert!(check_window(0).is_err());
    }
}
