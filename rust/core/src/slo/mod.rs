//! SLOs on bucketed windows: success ratio, error budget, burn rate, and the SRE Workbook's
//! multiwindow, multi-burn-rate alerts.
//!
//! The figures follow slo-budget-tracker 0.1.1 operation for operation, so results match it
//! bit for bit on the same counts:
//!
//! * `success_ratio = (total - failures) / total`, `1.0` with no events;
//! * `error_budget_remaining = (allowed - failures) / allowed` with `allowed = (1 - target) * total`;
//! * `burn_rate = (1 - success_ratio) / (1 - target)`.

use crate::clock::Clock;
use crate::error::Error;
use crate::sync::Ordering;
use crate::window::{BucketWindow, Counts, TierInfo, MAX_TIMESTAMP, MIN_BUCKET_WIDTH};
use crate::words::Words;

pub mod replay;

/// Finest bucket width as a fraction of the shortest configured window.
pub const RESOLUTION_DIVISOR: f64 = 60.0;
/// Most alert policies, and most burn windows, one SLO may carry: their states are bits of a word.
pub const MAX_POLICIES: usize = 64;
/// Most steps a burndown may have.
pub const MAX_BURNDOWN_POINTS: usize = 10_000;

/// The SRE Workbook's alert table for a 30-day SLO: severity, long window, threshold.
/// Each short window is 1/12 of its long window.
const WORKBOOK: [(&str, f64, f64); 4] = [
    ("page", 3600.0, 14.4),
    ("page", 21600.0, 6.0),
    ("ticket", 86400.0, 3.0),
    ("ticket", 259200.0, 1.0),
];
const WORKBOOK_WINDOW: f64 = 30.0 * 86400.0;

/// A multiwindow burn-rate alert: fires when both windows burn at or above `threshold`.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Free-form severity, such as `page` or `ticket`.
    pub severity: String,
    /// The long window, in seconds: is the budget really being spent?
    pub long_window: f64,
    /// The short window, in seconds: is it still being spent now?
    pub short_window: f64,
    /// Burn-rate threshold both windows must reach.
    pub threshold: f64,
}

/// The SRE Workbook's four policies (page 14.4x over 1h and 5m, page 6x over 6h and 30m,
/// ticket 3x over 1d and 2h, ticket 1x over 3d and 6h), scaled from 30 days to
/// `window_seconds` and rounded to whole seconds, at least one.
pub fn workbook_policies(window_seconds: f64) -> Result<Vec<Policy>, Error> {
    if !(window_seconds.is_finite() && window_seconds > 0.0) {
        return Err(Error::bad(
            "window_seconds",
            "must be a positive, finite number of seconds",
            window_seconds,
        ));
    }
    let scale = |seconds: f64| {
        (seconds * window_seconds / WORKBOOK_WINDOW)
            .round()
            .max(1.0)
    };
    Ok(WORKBOOK
        .iter()
        .map(|&(severity, long, threshold)| Policy {
            severity: severity.to_string(),
            long_window: scale(long),
            short_window: scale(long / 12.0),
            threshold,
        })
        .collect())
}

/// Everything that defines one SLO.
#[derive(Debug, Clone, PartialEq)]
pub struct SloSpec {
    /// Target success ratio, in (0, 1).
    pub target: f64,
    /// The rolling window the SLO is evaluated over, in seconds.
    pub window_seconds: f64,
    /// Windows whose burn rate is sampled in every snapshot and checked by `check_burn_rate`.
    pub burn_windows: Vec<f64>,
    /// Threshold for `check_burn_rate`.
    pub burn_threshold: f64,
    /// Multiwindow alert policies.
    pub policies: Vec<Policy>,
    /// For latency SLOs: an event is good when its duration is at most this many seconds.
    pub latency_threshold: Option<f64>,
}

fn check_window(param: &'static str, seconds: f64, slo_window: f64) -> Result<(), Error> {
    if seconds.is_finite() && seconds > 0.0 && seconds <= slo_window {
        Ok(())
    } else {
        Err(Error::bad(
            param,
            format!("must be a positive number of seconds <= window_seconds ({slo_window})"),
            seconds,
        ))
    }
}

impl SloSpec {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.target > 0.0 && self.target < 1.0) {
            return Err(Error::bad("target", "must be in (0, 1)", self.target));
        }
        if !(self.window_seconds > 0.0 && self.window_seconds < MAX_TIMESTAMP) {
            return Err(Error::bad(
                "window_seconds",
                format!("must be a number of seconds in (0, {MAX_TIMESTAMP})"),
                self.window_seconds,
            ));
        }
        if self.burn_windows.len() > MAX_POLICIES {
            return Err(Error::invalid(
                "burn_rate_windows",
                format!("may hold at most {MAX_POLICIES} windows"),
            ));
        }
        for &w in &self.burn_windows {
            check_window("burn_rate_windows", w, self.window_seconds)?;
        }
        if !(self.burn_threshold.is_finite() && self.burn_threshold > 1.0) {
            return Err(Error::bad(
                "burn_rate_threshold",
                "must be a finite number > 1",
                self.burn_threshold,
            ));
        }
        if self.policies.len() > MAX_POLICIES {
            return Err(Error::invalid(
                "alert_policies",
                format!("may hold at most {MAX_POLICIES} policies"),
            ));
        }
        for p in &self.policies {
            check_window(
                "alert_policies.long_window_seconds",
                p.long_window,
                self.window_seconds,
            )?;
            check_window(
                "alert_policies.short_window_seconds",
                p.short_window,
                p.long_window,
            )?;
            if !(p.threshold.is_finite() && p.threshold > 0.0) {
                return Err(Error::bad(
                    "alert_policies.threshold",
                    "must be a positive, finite burn rate",
                    p.threshold,
                ));
            }
        }
        // The finest buckets are 1/60 of the shortest window, and at least a millisecond.
        let shortest = MIN_BUCKET_WIDTH * RESOLUTION_DIVISOR;
        if let Some(&w) = self.query_windows().iter().find(|&&w| w < shortest) {
            let param = if self.burn_windows.contains(&w) {
                "burn_rate_windows"
            } else {
                "alert_policies.short_window_seconds"
            };
            return Err(Error::bad(
                param,
                format!("must be at least {shortest} seconds (its finest buckets are 1/60 of it, 1 ms at least)"),
                w,
            ));
        }
        if let Some(t) = self.latency_threshold {
            if !(t.is_finite() && t > 0.0) {
                return Err(Error::bad(
                    "latency_threshold_seconds",
                    "must be a positive, finite number of seconds",
                    t,
                ));
            }
        }
        Ok(())
    }

    /// The windows a snapshot needs, in order: the SLO window, each burn window, then each
    /// policy's long and short window.
    pub fn query_windows(&self) -> Vec<f64> {
        let mut windows = vec![self.window_seconds];
        windows.extend(&self.burn_windows);
        windows.extend(
            self.policies
                .iter()
                .flat_map(|p| [p.long_window, p.short_window]),
        );
        windows
    }

    /// Figures for `counts` observed over a window of `window_seconds`.
    pub fn figures(&self, window_seconds: f64, counts: Counts) -> Figures {
        let (total, failures) = (counts.total(), counts.bad);
        let success_ratio = if total == 0 {
            1.0
        } else {
            (total - failures) as f64 / total as f64
        };
        Figures {
            window_seconds,
            total,
            failures,
            success_ratio,
            burn_rate: self.burn_rate(success_ratio),
        }
    }

    fn burn_rate(&self, success_ratio: f64) -> f64 {
        (1.0 - success_ratio) / (1.0 - self.target)
    }

    /// The snapshot for counts over [`SloSpec::query_windows`], in the same order (counts a
    /// custom store gives, say).
    pub fn evaluate(&self, counts: &[Counts]) -> Result<Snapshot, Error> {
        let windows = self.query_windows();
        check_pairs(counts, windows.len())?;
        let mut figures = windows
            .iter()
            .zip(counts)
            .map(|(&w, &c)| self.figures(w, c));
        let overall = figures.next().expect("the SLO window comes first");
        let samples: Vec<Figures> = figures.by_ref().take(self.burn_windows.len()).collect();
        let policies = self
            .policies
            .iter()
            .zip(std::iter::from_fn(|| {
                Some((figures.next()?, figures.next()?))
            }))
            .map(|(p, (long, short))| PolicyStatus {
                firing: long.total > 0
                    && short.total > 0
                    && long.burn_rate >= p.threshold
                    && short.burn_rate >= p.threshold,
                long,
                short,
            })
            .collect();

        let (total, failures) = (overall.total, overall.failures);
        let allowed = (1.0 - self.target) * total as f64;
        let (remaining, consumed) = if total == 0 {
            (1.0, 0.0)
        } else {
            (
                (allowed - failures as f64) / allowed,
                failures as f64 / allowed,
            )
        };
        let current_burn = samples
            .iter()
            .min_by(|a, b| a.window_seconds.total_cmp(&b.window_seconds))
            .map_or(overall.burn_rate, |s| s.burn_rate);
        let time_to_exhaustion = if remaining <= 0.0 {
            Some(0.0)
        } else if current_burn > 0.0 {
            Some(remaining * self.window_seconds / current_burn)
        } else {
            None
        };
        Ok(Snapshot {
            overall,
            error_budget_remaining: remaining,
            error_budget_consumed: consumed,
            samples,
            policies,
            time_to_exhaustion,
        })
    }

    /// The windows a burndown of `points` steps reads (`points` in `1..=MAX_BURNDOWN_POINTS`):
    /// the spans from each step's time to the end of the SLO window, longest (the whole
    /// window) first.
    pub fn burndown_windows(&self, points: usize) -> Result<Vec<f64>, Error> {
        if !(1..=MAX_BURNDOWN_POINTS).contains(&points) {
            return Err(Error::bad(
                "points",
                format!("must be in 1..={MAX_BURNDOWN_POINTS}"),
                points,
            ));
        }
        let step = self.window_seconds / points as f64;
        Ok((0..points)
            .map(|k| self.window_seconds - k as f64 * step)
            .collect())
    }

    /// The error budget left at each of `points + 1` evenly spaced times from the start of
    /// the SLO window to its end, for `counts` over [`SloSpec::burndown_windows`] ending at
    /// the end: the share of the window's budget (at the window's traffic) not yet spent by
    /// the failures before that time. The last value is the snapshot's
    /// `error_budget_remaining`; values follow the buckets' resolution.
    pub fn burndown(&self, counts: &[Counts]) -> Result<Vec<f64>, Error> {
        let Some(whole) = counts.first() else {
            return Err(Error::bad("counts", "must hold a pair per point", 0));
        };
        let allowed = (1.0 - self.target) * whole.total() as f64;
        let left = |later: Counts| {
            if whole.total() == 0 {
                1.0
            } else {
                (allowed - whole.bad.saturating_sub(later.bad) as f64) / allowed
            }
        };
        Ok(counts
            .iter()
            .map(|&later| left(later))
            .chain([left(Counts::default())])
            .collect())
    }

    /// Figures over each burn window for counts over them, in the spec's order.
    pub fn burn_samples(&self, counts: &[Counts]) -> Result<Vec<Figures>, Error> {
        check_pairs(counts, self.burn_windows.len())?;
        Ok(self
            .burn_windows
            .iter()
            .zip(counts)
            .map(|(&w, &c)| self.figures(w, c))
            .collect())
    }

    /// Whether a burn window's figures alert at the burn-rate threshold (`check_burn_rate`):
    /// it has events and burns at or above the threshold.
    pub fn burn_alerting(&self, figures: &Figures) -> bool {
        figures.total > 0 && figures.burn_rate >= self.burn_threshold
    }

    fn finest_window(&self) -> f64 {
        self.query_windows()
            .into_iter()
            .fold(f64::INFINITY, f64::min)
    }

    fn longest_window(&self) -> f64 {
        self.query_windows().into_iter().fold(0.0, f64::max)
    }
}

fn check_pairs(counts: &[Counts], windows: usize) -> Result<(), Error> {
    if counts.len() == windows {
        Ok(())
    } else {
        Err(Error::bad(
            "counts",
            format!("must hold {windows} pairs"),
            counts.len(),
        ))
    }
}

/// Counts and ratios over one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    /// The window's length, in seconds.
    pub window_seconds: f64,
    /// Events in the window.
    pub total: u64,
    /// Bad events in the window.
    pub failures: u64,
    /// Good events over all events; 1.0 with none.
    pub success_ratio: f64,
    /// How fast the error budget burns: 1.0 spends exactly the budget over the SLO window.
    pub burn_rate: f64,
}

/// One alert policy evaluated at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolicyStatus {
    /// Figures over the long window.
    pub long: Figures,
    /// Figures over the short window.
    pub short: Figures,
    /// Both windows have events and burn at or above the policy's threshold.
    pub firing: bool,
}

/// An SLO's state at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Figures over the whole SLO window.
    pub overall: Figures,
    /// Share of the error budget left: 1.0 untouched, 0.0 spent, negative in breach.
    pub error_budget_remaining: f64,
    /// Share of the error budget spent: `failures / allowed`, 0.0 with no events.
    pub error_budget_consumed: f64,
    /// Figures over each burn window, in the spec's order.
    pub samples: Vec<Figures>,
    /// Each alert policy, in the spec's order.
    pub policies: Vec<PolicyStatus>,
    /// Seconds until the remaining budget is spent at the burn rate of the shortest burn
    /// window (`remaining * window / burn_rate`); 0.0 once spent; `None` when nothing burns.
    pub time_to_exhaustion: Option<f64>,
}

impl Snapshot {
    /// Bit mask of the firing policies.
    pub fn firing_mask(&self) -> u64 {
        self.policies
            .iter()
            .enumerate()
            .filter(|(_, p)| p.firing)
            .fold(0, |m, (i, _)| m | 1 << i)
    }
}

/// Which way an alert policy moved between two polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    /// It started firing.
    Firing,
    /// It stopped firing.
    Resolved,
}

impl AlertState {
    /// The facade's name: `firing` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
}

/// A snapshot together with the policies that started and stopped firing since the last poll.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertPoll {
    /// The state at the poll.
    pub snapshot: Snapshot,
    /// Bit mask of policies firing now that were not at the previous poll.
    pub started: u64,
    /// Bit mask of policies that were firing at the previous poll and are not now.
    pub resolved: u64,
}

impl AlertPoll {
    /// `snapshot` with the policies that moved since `before`, the mask of the policies that
    /// were firing at the previous poll (kept by the caller: a fleet store, say).
    pub fn since(snapshot: Snapshot, before: u64) -> Self {
        let firing = snapshot.firing_mask();
        AlertPoll {
            snapshot,
            started: firing & !before,
            resolved: before & !firing,
        }
    }

    /// The policies that moved, by index in the spec's order, with the way each moved.
    pub fn transitions(&self) -> Vec<(usize, AlertState)> {
        (0..self.snapshot.policies.len())
            .filter_map(|i| {
                if self.started >> i & 1 == 1 {
                    Some((i, AlertState::Firing))
                } else if self.resolved >> i & 1 == 1 {
                    Some((i, AlertState::Resolved))
                } else {
                    None
                }
            })
            .collect()
    }
}

/// Figures over each burn window, and the windows that started and stopped alerting (by
/// [`SloSpec::burn_alerting`]) since the last burn poll, as bit masks in the spec's order.
#[derive(Debug, Clone, PartialEq)]
pub struct BurnPoll {
    /// Figures over each burn window.
    pub samples: Vec<Figures>,
    /// Windows alerting now that were not at the previous poll.
    pub started: u64,
    /// Windows alerting at the previous poll that are not now.
    pub recovered: u64,
}

impl BurnPoll {
    /// The burn windows that started alerting, by index in the spec's order.
    pub fn started_windows(&self) -> Vec<usize> {
        bits(self.started)
    }

    /// The burn windows that stopped alerting, by index in the spec's order.
    pub fn recovered_windows(&self) -> Vec<usize> {
        bits(self.recovered)
    }
}

/// The positions of the set bits of `mask`, lowest first.
fn bits(mask: u64) -> Vec<usize> {
    (0..64).filter(|i| mask >> i & 1 == 1).collect()
}

const FIRING: usize = 0;
const BURNING: usize = 1;

/// A live SLO: a spec, its bucketed window, and which alerts were firing at the last poll.
#[derive(Debug)]
pub struct Slo {
    spec: SloSpec,
    window: BucketWindow,
    /// [`FIRING`]: bits of the policies firing at the last alert poll; [`BURNING`]: bits of
    /// the burn windows alerting at the last burn poll. In the arena when shared, so each
    /// transition is reported once per host.
    alerts: Words,
    clock: Clock,
}

impl Slo {
    /// An SLO on the wall clock whose finest buckets are 1/60 of its shortest window and whose
    /// history covers its longest window.
    pub fn new(spec: SloSpec) -> Result<Self, Error> {
        Slo::with_clock(spec, Clock::Wall)
    }

    /// As [`Slo::new`], reading `clock` when an operation is not given a time.
    pub fn with_clock(spec: SloSpec, clock: Clock) -> Result<Self, Error> {
        spec.validate()?;
        let window = BucketWindow::new(
            spec.finest_window() / RESOLUTION_DIVISOR,
            spec.longest_window(),
        )?;
        Ok(Slo {
            spec,
            window,
            alerts: Words::zeroed(2),
            clock,
        })
    }

    /// Keeps the SLO's window in `arena`, under `name`: every process that shares the SLO of
    /// that name there records into and reads from the same counts. Its spec must be the same
    /// in each (target, windows, latency threshold), else this is an error. Call it before
    /// recording.
    #[cfg(all(target_os = "linux", not(loom)))]
    pub fn share(
        &mut self,
        arena: &crate::arena::Arena,
        name: &str,
    ) -> Result<(), crate::arena::ArenaError> {
        let s = &self.spec;
        let mut parts = vec![
            self.window.geometry(),
            s.target.to_bits(),
            s.window_seconds.to_bits(),
            s.latency_threshold.map_or(u64::MAX, f64::to_bits),
        ];
        parts.extend(s.burn_windows.iter().map(|w| w.to_bits()));
        let geometry = crate::words::geometry_of(&parts);
        let words = self.window.words_len();
        let region = arena.region(crate::arena::Kind::Slo, name, geometry, words + 2)?;
        let (window, alerts) = region.split_at(words);
        self.window.share(window);
        self.alerts = Words::shared(alerts);
        Ok(())
    }

    /// The SLO's window, for a fleet flusher to read its finest buckets from.
    pub fn window(&self) -> &BucketWindow {
        &self.window
    }

    /// Whether the SLO's window lives in an arena.
    pub fn is_shared(&self) -> bool {
        self.window.is_shared()
    }

    /// The spec this SLO was built from.
    pub fn spec(&self) -> &SloSpec {
        &self.spec
    }

    /// `at` if given (checked), else the time now by the SLO's clock.
    pub fn now(&self, at: Option<f64>) -> Result<f64, Error> {
        self.clock.read(at)
    }

    /// Records one event at `at` (default: now, by the coarse clock).
    pub fn record(&self, at: Option<f64>, good: bool) -> Result<(), Error> {
        self.window.record(self.clock.read_coarse(at)?, good, 1)
    }

    /// Whether a request that took `seconds` meets the latency objective.
    pub fn latency_is_good(&self, seconds: f64) -> Result<bool, Error> {
        let threshold = self.spec.latency_threshold.ok_or_else(|| {
            Error::invalid(
                "latency_threshold_seconds",
                "must be set on the SLO to record latencies",
            )
        })?;
        if seconds.is_finite() && seconds >= 0.0 {
            Ok(seconds <= threshold)
        } else {
            Err(Error::bad(
                "seconds",
                "must be a finite duration >= 0",
                seconds,
            ))
        }
    }

    /// Records one request that took `seconds` at `at`: good when within the latency
    /// threshold.
    pub fn record_latency(&self, at: Option<f64>, seconds: f64) -> Result<(), Error> {
        let good = self.latency_is_good(seconds)?;
        self.record(at, good)
    }

    /// Records one event per element; nothing is recorded if any element is bad.
    pub fn record_many(&self, good: &[bool], ts: &[f64]) -> Result<(), Error> {
        self.window.record_many(good, ts)
    }

    /// Records one request per element of `seconds`; nothing is recorded if any element is bad.
    pub fn record_latency_many(&self, seconds: &[f64], ts: &[f64]) -> Result<(), Error> {
        self.latency_is_good(0.0)?; // the SLO has a latency threshold at all
        let good = seconds
            .iter()
            .enumerate()
            .map(|(i, &s)| self.latency_is_good(s).map_err(|e| e.at(i)))
            .collect::<Result<Vec<bool>, Error>>()?;
        self.window.record_many(&good, ts)
    }

    /// Counts over each of [`SloSpec::query_windows`] ending at `at` (default: now).
    pub fn counts(&self, at: Option<f64>) -> Result<Vec<Counts>, Error> {
        let now = self.clock.read(at)?;
        self.window.count_many(now, &self.spec.query_windows())
    }

    /// The SLO's state at `at` (default: now).
    pub fn snapshot(&self, at: Option<f64>) -> Result<Snapshot, Error> {
        self.spec.evaluate(&self.counts(at)?)
    }

    /// The error budget left at `points + 1` times across the SLO window ending at `at`
    /// (default: now); see [`SloSpec::burndown`].
    pub fn burndown(&self, points: usize, at: Option<f64>) -> Result<Vec<f64>, Error> {
        let windows = self.spec.burndown_windows(points)?;
        let counts = self.window.count_many(self.clock.read(at)?, &windows)?;
        self.spec.burndown(&counts)
    }

    /// Figures over each burn window at `at` (default: now), in the spec's order.
    pub fn burn_samples(&self, at: Option<f64>) -> Result<Vec<Figures>, Error> {
        let windows = &self.spec.burn_windows;
        let counts = self.window.count_many(self.clock.read(at)?, windows)?;
        self.spec.burn_samples(&counts)
    }

    /// The state at `at` (default: now), and which policies started or stopped firing since
    /// the last poll. Concurrent pollers each see every transition exactly once between them.
    pub fn poll_alerts(&self, at: Option<f64>) -> Result<AlertPoll, Error> {
        Ok(self.poll(self.snapshot(at)?))
    }

    /// `snapshot` (of counts from a custom store, say) with the policies that started or
    /// stopped firing since the last poll; the snapshot's firing policies become the last
    /// poll's.
    pub fn poll(&self, snapshot: Snapshot) -> AlertPoll {
        let before = self.alerts[FIRING].swap(snapshot.firing_mask(), Ordering::Relaxed);
        AlertPoll::since(snapshot, before)
    }

    /// Burn figures at `at` (default: now) with the windows that started and stopped alerting
    /// since the last burn poll; each change is reported once, even to concurrent pollers.
    pub fn poll_burn(&self, at: Option<f64>) -> Result<BurnPoll, Error> {
        Ok(self.poll_burn_samples(self.burn_samples(at)?))
    }

    /// As [`Slo::poll_burn`], for figures from a custom store's counts.
    pub fn poll_burn_samples(&self, samples: Vec<Figures>) -> BurnPoll {
        let alerting = samples
            .iter()
            .enumerate()
            .filter(|(_, f)| self.spec.burn_alerting(f))
            .fold(0, |mask, (i, _)| mask | 1 << i);
        let before = self.alerts[BURNING].swap(alerting, Ordering::Relaxed);
        BurnPoll {
            samples,
            started: alerting & !before,
            recovered: before & !alerting,
        }
    }

    /// Good and bad events recorded since the SLO was made (in every process sharing it):
    /// monotonic.
    pub fn totals(&self) -> (u64, u64) {
        self.window.totals()
    }

    /// Events that arrived too old to be held.
    pub fn dropped(&self) -> u64 {
        self.window.dropped()
    }

    /// The bucket tiers: width and span of each, finest first.
    pub fn resolution(&self) -> Vec<TierInfo> {
        self.window.tiers()
    }

    /// Bytes held by this SLO's window.
    pub fn memory_bytes(&self) -> usize {
        self.window.memory_bytes()
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
