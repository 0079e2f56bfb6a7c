//! Replays a series of per-step event counts through multiwindow burn-rate policies, the way
//! Prometheus evaluates alert rules over `rate()` ratios once a step: at step `i` a window of
//! `w` steps holds the events of steps `i - w + 1 ..= i` (fewer at the series' start).
//!
//! This is what the rules command's generated `promtool test rules` files assert, and what
//! log backtests run: the same figures, from one place.

use super::Policy;
use crate::error::Error;

/// Counts per step, checked: `bad[i] <= total[i]`, equal lengths.
#[derive(Debug)]
pub struct StepCounts<'a> {
    bad: &'a [u64],
    total: &'a [u64],
}

impl<'a> StepCounts<'a> {
    /// The series `bad` (failed events per step) and `total` (all events per step).
    pub fn new(bad: &'a [u64], total: &'a [u64]) -> Result<Self, Error> {
        if bad.len() != total.len() {
            return Err(Error::bad(
                "bad",
                format!("must have as many steps as total ({})", total.len()),
                bad.len() as f64,
            ));
        }
        if let Some(i) = bad.iter().zip(total).position(|(b, t)| b > t) {
            return Err(
                Error::bad("bad", "must not exceed total at any step", bad[i] as f64).at(i),
            );
        }
        Ok(StepCounts { bad, total })
    }

    /// Steps in the series.
    pub fn len(&self) -> usize {
        self.total.len()
    }

    /// Whether the series has no steps.
    pub fn is_empty(&self) -> bool {
        self.total.is_empty()
    }

    /// The burn rate over a window of `window` steps ending at every step (NaN where the window
    /// holds no events): its error ratio over the error budget `budget`.
    pub fn burn_rates(&self, window: usize, budget: f64) -> Result<Vec<f64>, Error> {
        if window == 0 {
            return Err(Error::bad("window_steps", "must be at least 1", window));
        }
        if !(budget > 0.0 && budget < 1.0) {
            return Err(Error::bad("budget", "must be in (0, 1)", budget));
        }
        Ok(self.burn_rates_unchecked(window, budget))
    }

    fn burn_rates_unchecked(&self, window: usize, budget: f64) -> Vec<f64> {
        let (mut bad, mut total) = (0u64, 0u64);
        (0..self.len())
            .map(|i| {
                bad += self.bad[i];
                total += self.total[i];
                if i >= window {
                    bad -= self.bad[i - window];
                    total -= self.total[i - window];
                }
                if total == 0 {
                    f64::NAN
                } else {
                    bad as f64 / total as f64 / budget
                }
            })
            .collect()
    }
}

/// A window length in whole steps.
fn steps_of(
    seconds: f64,
    step_seconds: f64,
    param: &'static str,
    index: usize,
) -> Result<usize, Error> {
    let steps = seconds / step_seconds;
    if steps.fract() != 0.0 || steps < 1.0 {
        return Err(Error::bad(
            param,
            format!("must be a whole number of steps of {step_seconds} s"),
            seconds,
        )
        .at(index));
    }
    Ok(steps as usize)
}

/// For each policy, whether it fires at every step of `counts` (one step is `step_seconds`) for
/// an SLO of `target`: both windows burn at or above its threshold, and have for `hold_steps`
/// steps before (an alert rule's `for:`).
pub fn replay_policies(
    counts: &StepCounts<'_>,
    step_seconds: f64,
    target: f64,
    policies: &[Policy],
    hold_steps: usize,
) -> Result<Vec<Vec<bool>>, Error> {
    if !(step_seconds.is_finite() && step_seconds > 0.0) {
        return Err(Error::bad(
            "step_seconds",
            "must be a positive, finite number of seconds",
            step_seconds,
        ));
    }
    if !(target > 0.0 && target < 1.0) {
        return Err(Error::bad("target", "must be in (0, 1)", target));
    }
    let budget = 1.0 - target;
    policies
        .iter()
        .enumerate()
        .map(|(i, policy)| {
            if !(policy.threshold.is_finite() && policy.threshold > 0.0) {
                let bad = Error::bad(
                    "threshold",
                    "must be a finite burn rate > 0",
                    policy.threshold,
                );
                return Err(bad.at(i));
            }
            let long = steps_of(policy.long_window, step_seconds, "long_window_seconds", i)?;
            let short = steps_of(policy.short_window, step_seconds, "short_window_seconds", i)?;
            let long = counts.burn_rates_unchecked(long, budget);
            let short = counts.burn_rates_unchecked(short, budget);
            let mut held = 0usize;
            Ok(long
                .iter()
                .zip(&short)
                .map(|(l, s)| {
                    // NaN (no events) compares false: an empty window never fires.
                    held = if *l >= policy.threshold && *s >= policy.threshold {
                        held + 1
                    } else {
                        0
                    };
                    held > hold_steps
                })
                .collect())
        })
        .collect()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn policy(long: f64, short: f64, threshold: f64) -> Policy {
        Policy {
            severity: "page".into(),
            long_window: long,
            short_window: short,
            threshold,
        }
    }

    #[test]
    fn windows_sum_the_last_steps() {
        let bad = [0, 1, 2, 0, 0];
        let total = [10, 10, 10, 10, 0];
        let counts = StepCounts::new(&bad, &total).unwrap();
        let burns = counts.burn_rates(2, 0.5).unwrap();
        assert_eq!(&burns[..4], &[0.0, 0.1, 0.3, 0.2]);
        assert_eq!(burns[4], 0.0, "the window still holds step 3");
        assert!(
            counts.burn_rates(1, 0.5).unwrap()[4].is_nan(),
            "an empty window has no burn rate"
        );
    }

    #[test]
    fn a_policy_fires_while_both_windows_burn_and_after_its_hold() {
        // Budget 0.1 (target 0.9); threshold 5: an error ratio of at least 0.5 over both windows.
        let bad = [0, 0, 10, 10, 10, 0, 0, 0];
        let total = [10; 8];
        let counts = StepCounts::new(&bad, &total).unwrap();
        let p = policy(120.0, 60.0, 5.0);
        let fired = replay_policies(&counts, 60.0, 0.9, std::slice::from_ref(&p), 0).unwrap();
        assert_eq!(
            fired[0],
            [false, false, true, true, true, false, false, false]
        );
        let held = replay_policies(&counts, 60.0, 0.9, &[p], 1).unwrap();
        assert_eq!(
            held[0],
            [false, false, false, true, true, false, false, false]
        );
    }

    #[test]
    fn bad_series_and_windows_are_refused() {
        let err = StepCounts::new(&[0, 3], &[1, 2]).unwrap_err();
        assert_eq!((&*err.param, &err.index[..]), ("bad", &[1][..]));
        assert_eq!(StepCounts::new(&[0], &[1, 2]).unwrap_err().param, "bad");
        let counts = StepCounts::new(&[0], &[1]).unwrap();
        let err = replay_policies(&counts, 60.0, 0.9, &[policy(90.0, 60.0, 1.0)], 0).unwrap_err();
        assert_eq!(
            (&*err.param, &err.index[..]),
            ("long_window_seconds", &[0][..])
        );
        let err =
            replay_policies(&counts, 60.0, 0.9, &[policy(60.0, 60.0, f64::NAN)], 0).unwrap_err();
        assert_eq!((&*err.param, &err.index[..]), ("threshold", &[0][..]));
        assert_eq!(counts.burn_rates(0, 0.5).unwrap_err().param, "window_steps");
        assert_eq!(counts.burn_rates(1, 1.5).unwrap_err().param, "budget");
        let err = replay_policies(&counts, 0.0, 0.9, &[], 0).unwrap_err();
        assert_eq!(err.param, "step_seconds");
        let err = replay_policies(&counts, 60.0, 1.0, &[], 0).unwrap_err();
        assert_eq!(err.param, "target");
    }
}
