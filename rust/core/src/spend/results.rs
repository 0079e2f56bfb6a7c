//! The checks' result types, the options' defaults and the policy's actions.

use crate::names::named_enum;

/// `cloudcircuit.check_budget`'s figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Spend over the limit.
    pub usage_ratio: f64,
    /// Limit minus spend (negative once over).
    pub remaining_budget: f64,
    /// `usage_ratio >= warning_ratio`.
    pub is_warning: bool,
    /// `current_spend >= budget_limit`.
    pub is_breached: bool,
}

/// The result of a spike check on a series (mean, MAD or percentile baseline).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anomaly {
    /// The newest point.
    pub latest_spend: f64,
    /// The baseline location (mean, median or percentile of the history).
    pub baseline_mean: f64,
    /// The level the newest point must exceed to be a spike.
    pub threshold: f64,
    /// `latest_spend > threshold`.
    pub is_spike: bool,
}

/// `cloudcircuit.check_burn_rate`'s figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burn {
    /// The newest point.
    pub latest_spend: f64,
    /// Mean of the history.
    pub average_spend: f64,
    /// Newest over average (`inf` over a zero average, 1.0 when both are zero).
    pub burn_rate_ratio: f64,
    /// `burn_rate_ratio >= hot_multiplier`.
    pub is_hot: bool,
}

/// `cloudcircuit.forecast_budget_breach`'s figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forecast {
    /// `current_spend / periods_elapsed * total_periods`.
    pub projected_total_spend: f64,
    /// How far the projection exceeds the limit, 0.0 if it does not.
    pub projected_overrun: f64,
    /// `projected_total_spend >= budget_limit`.
    pub will_breach: bool,
}

/// `cloudcircuit.evaluate_circuit_breaker`'s decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breaker {
    /// The breaker is open (threshold reached or cooling down).
    pub is_open: bool,
    /// `!is_open`.
    pub allow_operation: bool,
    /// Cooldown steps left while open, else 0.
    pub retry_after_steps: i64,
}

/// The options' defaults, cloudcircuit's: declared here once, exported to the facade.
pub mod defaults {
    /// `check_budget`'s `warning_ratio`.
    pub const WARNING_RATIO: f64 = 0.9;
    /// `check_anomaly_spike`'s `spike_multiplier`.
    pub const SPIKE_MULTIPLIER: f64 = 1.5;
    /// `check_anomaly_robust`'s `z_threshold`.
    pub const Z_THRESHOLD: f64 = 3.5;
    /// `check_anomaly_robust`'s `min_mad`.
    pub const MIN_MAD: f64 = 0.0;
    /// `check_anomaly_robust`'s `percentile`.
    pub const PERCENTILE: f64 = 0.95;
    /// The spike checks' `min_baseline`.
    pub const MIN_BASELINE: f64 = 0.0;
    /// `check_burn_rate`'s `hot_multiplier`.
    pub const HOT_MULTIPLIER: f64 = 1.4;
    /// Every default by its option's name.
    pub const ALL: [(&str, f64); 7] = [
        ("warning_ratio", WARNING_RATIO),
        ("spike_multiplier", SPIKE_MULTIPLIER),
        ("z_threshold", Z_THRESHOLD),
        ("min_mad", MIN_MAD),
        ("percentile", PERCENTILE),
        ("min_baseline", MIN_BASELINE),
        ("hot_multiplier", HOT_MULTIPLIER),
    ];
}

/// The combined policy action, ordered by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Action {
    /// All safeguards healthy.
    Allow = 0,
    /// Budget warning or spend spike.
    Throttle = 1,
    /// Budget breached or breaker open.
    Block = 2,
}

named_enum!(Action, "action", {
    Allow => "allow",
    Throttle => "throttle",
    Block => "block",
});

impl Action {
    /// The peer's severity for this action.
    pub fn severity(self) -> &'static str {
        ["info", "warning", "critical"][self as usize]
    }

    /// The peer's reason for this action.
    pub fn reason(self) -> &'static str {
        [
            "All safeguards healthy",
            "Budget warning or spend spike detected",
            "Budget breached or circuit breaker open",
        ][self as usize]
    }
}

/// How `check_anomaly_robust` sets its threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Robust {
    /// `max(median, min_baseline) + z_threshold * max(MAD, min_mad) / 0.6745`.
    Mad {
        /// Robust z-score above which the newest point is a spike.
        z_threshold: f64,
        /// Floor on the median absolute deviation.
        min_mad: f64,
    },
    /// `max(quantile(history, percentile), min_baseline)`.
    Percentile {
        /// The quantile of the history, in (0, 1).
        percentile: f64,
    },
}

/// A series check with validated parameters, applicable to any number of series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeriesCheck {
    /// Newest point above `max(mean, min_baseline) * spike_multiplier`.
    Spike {
        /// Must be > 1.
        spike_multiplier: f64,
        /// Floor on the baseline, >= 0.
        min_baseline: f64,
    },
    /// Newest point above a median/MAD or percentile threshold.
    Robust {
        /// MAD or percentile.
        method: Robust,
        /// Floor on the baseline location, >= 0.
        min_baseline: f64,
    },
}
