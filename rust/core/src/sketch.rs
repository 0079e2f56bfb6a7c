//! Quantiles with a bounded relative error from bucket counts (DDSketch's logarithmic mapping).
//!
//! A value `x` in `[min_value, max_value]` lands in bucket `ceil(log_γ(x))` with
//! `γ = (1 + α) / (1 - α)`; answering a bucket by `2 γ^i / (γ + 1)` is then within a relative
//! error `α` of every value in it. Values below `min_value` (zeros included) have a bucket of
//! their own, answered as 0; values above `max_value` land in the last bucket and are answered
//! by the largest value recorded. Counts of the same mapping merge by adding, so a window's
//! quantiles come from adding the counts of its time buckets (see [`crate::routes`]).

use crate::error::Error;

/// The parameters shared by counts that can be merged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    /// Relative accuracy `α`, in (0, 0.5).
    pub relative_accuracy: f64,
    /// Smallest value told apart from 0; > 0.
    pub min_value: f64,
    /// Largest value kept to accuracy; > `min_value`.
    pub max_value: f64,
}

impl Geometry {
    /// Request durations in seconds: 1 % relative error from 10 µs to 1,000 s, 923 buckets.
    pub const LATENCY: Geometry = Geometry {
        relative_accuracy: 0.01,
        min_value: 1e-5,
        max_value: 1e3,
    };
}

/// Where values go: bucket 0 holds values below `min_value`; bucket `k >= 1` holds the values
/// of logarithmic index `offset + k - 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mapping {
    geometry: Geometry,
    gamma: f64,
    /// `1 / ln γ`.
    inverse_log_gamma: f64,
    /// The logarithmic index of `min_value`.
    offset: i64,
    buckets: usize,
}

impl Mapping {
    /// The mapping of `geometry`.
    pub fn new(geometry: Geometry) -> Result<Self, Error> {
        let Geometry {
            relative_accuracy,
            min_value,
            max_value,
        } = geometry;
        if !(relative_accuracy > 0.0 && relative_accuracy < 0.5) {
            return Err(Error::bad(
                "relative_accuracy",
                "must be in (0, 0.5)",
                relative_accuracy,
            ));
        }
        if !(min_value > 0.0 && min_value.is_finite()) {
            return Err(Error::bad("min_value", "must be finite and > 0", min_value));
        }
        if !(max_value > min_value && max_value.is_finite()) {
            return Err(Error::bad(
                "max_value",
                "must be finite and > min_value",
                max_value,
            ));
        }
        let gamma = (1.0 + relative_accuracy) / (1.0 - relative_accuracy);
        let inverse_log_gamma = 1.0 / gamma.ln();
        let index = |x: f64| (x.ln() * inverse_log_gamma).ceil() as i64;
        let offset = index(min_value);
        Ok(Mapping {
            geometry,
            gamma,
            inverse_log_gamma,
            offset,
            buckets: (index(max_value) - offset + 2) as usize,
        })
    }

    /// The geometry.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// Number of buckets, the one for values below `min_value` included.
    pub fn buckets(&self) -> usize {
        self.buckets
    }

    /// The bucket of `value`, a finite value >= 0.
    pub fn bucket(&self, value: f64) -> usize {
        if value < self.geometry.min_value {
            return 0;
        }
        let index = (value.ln() * self.inverse_log_gamma).ceil() as i64;
        (index - self.offset + 1).clamp(1, self.buckets as i64 - 1) as usize
    }

    /// The `q`-quantiles (each in [0, 1]) of the values counted in `counts` (one count per
    /// bucket), whose largest is `max`; None if nothing was counted. Each is within the
    /// relative accuracy of the value of rank `floor(q * (count - 1))`, and never above `max`.
    pub fn quantiles(
        &self,
        counts: &[u64],
        max: f64,
        qs: &[f64],
    ) -> Result<Option<Vec<f64>>, Error> {
        if let Some(bad) = qs.iter().find(|q| !(0.0..=1.0).contains(*q)) {
            return Err(Error::bad("quantiles", "must be in [0, 1]", bad));
        }
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return Ok(None);
        }
        let answer = |q: f64| {
            let rank = (q * (total - 1) as f64).floor() as u64;
            let mut seen = 0;
            let bucket = counts
                .iter()
                .position(|&n| {
                    seen += n;
                    seen > rank
                })
                .unwrap_or(counts.len() - 1);
            match bucket {
                0 => 0.0,
                // The last bucket also holds the values above the range.
                k if k == self.buckets - 1 && max > self.geometry.max_value => max,
                k => {
                    let index = self.offset + k as i64 - 1;
                    (2.0 * self.gamma.powi(index as i32) / (self.gamma + 1.0)).min(max)
                }
            }
        };
        Ok(Some(qs.iter().map(|&q| answer(q)).collect()))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn counted(mapping: &Mapping, values: &[f64]) -> Vec<u64> {
        let mut counts = vec![0; mapping.buckets()];
        for &v in values {
            counts[mapping.bucket(v)] += 1;
        }
        counts
    }

    fn exact(values: &[f64], q: f64) -> f64 {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        v[(q * (v.len() - 1) as f64).floor() as usize]
    }

    proptest::proptest! {
        #[test]
        fn quantiles_are_within_the_relative_accuracy(
            values in proptest::collection::vec(
                proptest::prop_oneof![1e-5f64..1e-3, 1e-3f64..10.0, 10.0f64..1e3], 1..400),
            q in 0.0f64..=1.0,
        ) {
            let mapping = Mapping::new(Geometry::LATENCY).unwrap();
            let max = values.iter().copied().fold(0.0, f64::max);
            let got = mapping.quantiles(&counted(&mapping, &values), max, &[q]).unwrap().unwrap()[0];
            let want = exact(&values, q);
            proptest::prop_assert!((got - want).abs() <= 0.01 * want * 1.000001, "{} vs {}", got, want);
        }
    }

    #[test]
    fn zeros_out_of_range_values_and_bad_input() {
        let mapping = Mapping::new(Geometry::LATENCY).unwrap();
        assert_eq!(mapping.buckets(), 923);
        let counts = counted(&mapping, &[0.0, 1e9]);
        let qs = mapping
            .quantiles(&counts, 1e9, &[0.0, 1.0])
            .unwrap()
            .unwrap();
        assert_eq!(
            qs,
            vec![0.0, 1e9],
            "the top is answered by the largest value"
        );
        assert_eq!(mapping.quantiles(&vec![0; 923], 0.0, &[0.5]).unwrap(), None);
        assert!(mapping.quantiles(&counts, 1e9, &[1.5]).is_err());
        let bad = Geometry {
            min_value: 0.0,
            ..Geometry::LATENCY
        };
        assert!(Mapping::new(bad).is_err());
    }
}
