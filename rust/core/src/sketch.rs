//! A mergeable quantile sketch with bounded relative error (DDSketch's logarithmic mapping), of
//! fixed size and recorded into with atomic adds, for per-route latency quantiles.
//!
//! A value `x` in `[min_value, max_value]` lands in bucket `ceil(log_γ(x))` with
//! `γ = (1 + α) / (1 - α)`; answering a bucket by `2 γ^i / (γ + 1)` is then within a relative
//! error `α` of every value in it. Values below `min_value` (zeros included) are counted apart
//! and answered as 0; values above `max_value` land in the last bucket and are answered by the
//! largest value recorded. Sketches with the same geometry merge by adding counts, so a window's
//! quantiles come from merging the sketches of its time buckets.

use crate::error::Error;
use crate::sync::{AtomicU64, Ordering};

/// The geometry shared by sketches that can be merged.
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
    /// 1 % relative error from a microsecond to a day (in seconds): 1,260 buckets, 10 KB.
    pub const LATENCY: Geometry = Geometry {
        relative_accuracy: 0.01,
        min_value: 1e-6,
        max_value: 86_400.0,
    };

    fn check(&self) -> Result<(), Error> {
        if !(self.relative_accuracy > 0.0 && self.relative_accuracy < 0.5) {
            return Err(Error::invalid(
                "relative_accuracy",
                format!("must be in (0, 0.5); got {}", self.relative_accuracy),
            ));
        }
        if !(self.min_value > 0.0 && self.min_value.is_finite()) {
            return Err(Error::invalid(
                "min_value",
                format!("must be finite and > 0; got {}", self.min_value),
            ));
        }
        if !(self.max_value > self.min_value && self.max_value.is_finite()) {
            return Err(Error::invalid(
                "max_value",
                format!("must be finite and > min_value; got {}", self.max_value),
            ));
        }
        Ok(())
    }

    fn gamma(&self) -> f64 {
        (1.0 + self.relative_accuracy) / (1.0 - self.relative_accuracy)
    }
}

/// The sketch. Recording is a few atomic adds; reads see every completed record.
#[derive(Debug)]
pub struct Sketch {
    geometry: Geometry,
    /// `1 / ln γ`.
    inverse_log_gamma: f64,
    /// The bucket index of `min_value`; bucket `k` of `counts` is index `offset + k`.
    offset: i64,
    counts: Box<[AtomicU64]>,
    /// Values below `min_value`.
    zeros: AtomicU64,
    /// The largest value recorded, as f64 bits (values are >= 0, so bits order like values).
    max_bits: AtomicU64,
}

impl Sketch {
    /// An empty sketch.
    pub fn new(geometry: Geometry) -> Result<Self, Error> {
        geometry.check()?;
        let inverse_log_gamma = 1.0 / geometry.gamma().ln();
        let index = |x: f64| (x.ln() * inverse_log_gamma).ceil() as i64;
        let offset = index(geometry.min_value);
        let buckets = (index(geometry.max_value) - offset + 1) as usize;
        Ok(Sketch {
            geometry,
            inverse_log_gamma,
            offset,
            counts: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
            zeros: AtomicU64::new(0),
            max_bits: AtomicU64::new(0),
        })
    }

    /// The geometry.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// Number of buckets.
    pub fn buckets(&self) -> usize {
        self.counts.len()
    }

    /// Records a value (finite and >= 0).
    pub fn record(&self, value: f64) -> Result<(), Error> {
        if !(value >= 0.0 && value.is_finite()) {
            return Err(Error::invalid(
                "value",
                format!("must be finite and >= 0; got {value}"),
            ));
        }
        if value < self.geometry.min_value {
            self.zeros.fetch_add(1, Ordering::Relaxed);
        } else {
            let index = (value.ln() * self.inverse_log_gamma).ceil() as i64;
            let k = (index - self.offset).clamp(0, self.counts.len() as i64 - 1) as usize;
            self.counts[k].fetch_add(1, Ordering::Relaxed);
        }
        self.max_bits.fetch_max(value.to_bits(), Ordering::Relaxed);
        Ok(())
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.zeros.load(Ordering::Relaxed)
            + self
                .counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .sum::<u64>()
    }

    /// The largest value recorded (0 if none).
    pub fn max(&self) -> f64 {
        f64::from_bits(self.max_bits.load(Ordering::Relaxed))
    }

    /// Adds `other`'s counts to this sketch's.
    pub fn merge(&self, other: &Sketch) -> Result<(), Error> {
        if other.geometry != self.geometry {
            return Err(Error::invalid(
                "other",
                "must have the same geometry to be merged",
            ));
        }
        for (mine, theirs) in self.counts.iter().zip(other.counts.iter()) {
            let n = theirs.load(Ordering::Relaxed);
            if n > 0 {
                mine.fetch_add(n, Ordering::Relaxed);
            }
        }
        self.zeros
            .fetch_add(other.zeros.load(Ordering::Relaxed), Ordering::Relaxed);
        self.max_bits
            .fetch_max(other.max_bits.load(Ordering::Relaxed), Ordering::Relaxed);
        Ok(())
    }

    /// The `q`-quantiles (each in [0, 1]) of the values recorded, in one pass; None if empty.
    /// Each is within the relative accuracy of a value whose rank is `q * (count - 1)`, and
    /// never above the largest value recorded.
    pub fn quantiles(&self, qs: &[f64]) -> Result<Option<Vec<f64>>, Error> {
        if let Some(bad) = qs.iter().find(|q| !(0.0..=1.0).contains(*q)) {
            return Err(Error::invalid("q", format!("must be in [0, 1]; got {bad}")));
        }
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let zeros = self.zeros.load(Ordering::Relaxed);
        let total = zeros + counts.iter().sum::<u64>();
        if total == 0 {
            return Ok(None);
        }
        let max = self.max();
        let gamma = self.geometry.gamma();
        let answers = qs
            .iter()
            .map(|&q| {
                let rank = (q * (total - 1) as f64).floor() as u64;
                if rank < zeros {
                    return 0.0;
                }
                let mut seen = zeros;
                for (k, &n) in counts.iter().enumerate() {
                    seen += n;
                    if seen > rank {
                        if k == counts.len() - 1 && max > self.geometry.max_value {
                            return max; // the last bucket also holds values above the range
                        }
                        let index = self.offset + k as i64;
                        let value = 2.0 * gamma.powi(index as i32) / (gamma + 1.0);
                        return value.min(max);
                    }
                }
                max
            })
            .collect();
        Ok(Some(answers))
    }

    /// Empties the sketch.
    pub fn clear(&self) {
        for c in self.counts.iter() {
            c.store(0, Ordering::Relaxed);
        }
        self.zeros.store(0, Ordering::Relaxed);
        self.max_bits.store(0, Ordering::Relaxed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn exact(values: &[f64], q: f64) -> f64 {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        v[(q * (v.len() - 1) as f64).floor() as usize]
    }

    #[test]
    fn latency_geometry_is_small() {
        let s = Sketch::new(Geometry::LATENCY).unwrap();
        assert_eq!(s.buckets(), 1_260);
        assert_eq!(s.quantiles(&[0.5]).unwrap(), None);
    }

    proptest::proptest! {
        #[test]
        fn quantiles_are_within_the_relative_accuracy(
            values in proptest::collection::vec(
                proptest::prop_oneof![1e-6f64..1e-3, 1e-3f64..10.0, 10.0f64..80_000.0], 1..400),
            q in 0.0f64..=1.0,
        ) {
            let s = Sketch::new(Geometry::LATENCY).unwrap();
            for &v in &values {
                s.record(v).unwrap();
            }
            let got = s.quantiles(&[q]).unwrap().unwrap()[0];
            let want = exact(&values, q);
            proptest::prop_assert!((got - want).abs() <= 0.01 * want * 1.000001, "{} vs {}", got, want);
        }

        #[test]
        fn merged_sketches_answer_like_one(
            a in proptest::collection::vec(0.001f64..100.0, 1..200),
            b in proptest::collection::vec(0.001f64..100.0, 1..200),
        ) {
            let (x, y, both) = (
                Sketch::new(Geometry::LATENCY).unwrap(),
                Sketch::new(Geometry::LATENCY).unwrap(),
                Sketch::new(Geometry::LATENCY).unwrap(),
            );
            for &v in &a { x.record(v).unwrap(); both.record(v).unwrap(); }
            for &v in &b { y.record(v).unwrap(); both.record(v).unwrap(); }
            x.merge(&y).unwrap();
            let qs = [0.5, 0.9, 0.95, 0.99, 1.0];
            proptest::prop_assert_eq!(x.quantiles(&qs).unwrap(), both.quantiles(&qs).unwrap());
            proptest::prop_assert_eq!(x.count(), (a.len() + b.len()) as u64);
        }
    }

    #[test]
    fn zeros_out_of_range_values_and_bad_input() {
        let s = Sketch::new(Geometry::LATENCY).unwrap();
        s.record(0.0).unwrap();
        s.record(1e9).unwrap();
        let qs = s.quantiles(&[0.0, 1.0]).unwrap().unwrap();
        assert_eq!(qs[0], 0.0);
        assert_eq!(qs[1], 1e9, "the top is answered by the largest value");
        assert!(s.record(-1.0).is_err() && s.record(f64::NAN).is_err());
        assert!(s.quantiles(&[1.5]).is_err());
        let other = Sketch::new(Geometry {
            relative_accuracy: 0.02,
            ..Geometry::LATENCY
        })
        .unwrap();
        assert!(s.merge(&other).is_err());
        assert!(Sketch::new(Geometry {
            min_value: 0.0,
            ..Geometry::LATENCY
        })
        .is_err());
        s.clear();
        assert_eq!(s.count(), 0);
    }

    #[test]
    fn concurrent_records_are_all_counted() {
        let s = std::sync::Arc::new(Sketch::new(Geometry::LATENCY).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for i in 0..50_000 {
                        s.record(((i % 1000) as f64 + t as f64) * 1e-3).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(s.count(), 400_000);
    }
}
