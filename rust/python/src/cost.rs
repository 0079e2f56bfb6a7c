//! Bindings for cost projections (`burnguard_core::cost`, `burnguard_core::pricing`).

use burnguard_core::cost::{self, Audience, Instance, Pricing, Usage};
use burnguard_core::pricing;
use pyo3::prelude::*;

use crate::errors::py_err;

/// `(name, vcpu, baseline_cores, hourly_usd)`.
type InstanceTuple = (String, f64, f64, f64);
/// `(requests, observed_seconds, mean_seconds, mean_bytes, (p50, p95, p99), budget)`.
type UsageTuple = (u64, f64, f64, f64, [f64; 3], Option<f64>);
/// `((observed_rps, projected_rps, required_cores), (instance, count), (compute_usd,
/// egress_gib, egress_usd, monthly_usd, per_user_usd), (p50, p95, p99) request cost,
/// (variance_ratio, variance_warning, over_budget), [(users, monthly_usd)])`.
type ProjectionTuple = (
    (f64, f64, f64),
    (String, u64),
    (f64, f64, f64, f64, f64),
    [f64; 3],
    (f64, bool, bool),
    Vec<(f64, f64)>,
);

/// A provider's price table; the facade's `Pricing` wraps it.
#[pyclass(frozen, module = "burnguard._native")]
struct PricingCore {
    pricing: Pricing,
}

#[pymethods]
impl PricingCore {
    #[new]
    #[pyo3(signature = (provider, region, date, instances, egress_usd_per_gib))]
    fn new(
        provider: &str,
        region: &str,
        date: &str,
        instances: Vec<InstanceTuple>,
        egress_usd_per_gib: f64,
    ) -> PyResult<Self> {
        let instances = instances
            .into_iter()
            .map(|(name, vcpu, baseline_cores, hourly_usd)| Instance {
                name,
                vcpu,
                baseline_cores,
                hourly_usd,
            })
            .collect();
        let pricing =
            Pricing::new(provider, region, date, instances, egress_usd_per_gib).map_err(py_err)?;
        Ok(PricingCore { pricing })
    }

    /// The bundled table of `provider`.
    #[staticmethod]
    fn bundled(provider: &str) -> PyResult<Self> {
        let pricing = pricing::bundled(provider).map_err(py_err)?;
        Ok(PricingCore { pricing })
    }

    /// `(provider, region, date, egress_usd_per_gib)`.
    fn describe(&self) -> (String, String, String, f64) {
        let p = &self.pricing;
        (
            p.provider.clone(),
            p.region.clone(),
            p.date.clone(),
            p.egress_usd_per_gib,
        )
    }

    /// The instance types, cheapest first.
    fn instances(&self) -> Vec<InstanceTuple> {
        self.pricing
            .instances()
            .iter()
            .map(|i| (i.name.clone(), i.vcpu, i.baseline_cores, i.hourly_usd))
            .collect()
    }

    /// Each route's projection at the audience (None for a route without requests).
    fn project(
        &self,
        py: Python<'_>,
        usages: Vec<UsageTuple>,
        target_users: f64,
        requests_per_user_per_second: f64,
    ) -> PyResult<Vec<Option<ProjectionTuple>>> {
        let usages: Vec<Usage> = usages
            .into_iter()
            .map(|(requests, observed, mean_s, mean_b, qs, budget)| Usage {
                requests,
                observed_seconds: observed,
                mean_seconds: mean_s,
                mean_bytes: mean_b,
                duration_quantiles: qs,
                monthly_budget_usd: budget,
            })
            .collect();
        let audience = Audience {
            users: target_users,
            requests_per_user_per_second,
        };
        let projections = py
            .detach(|| cost::project(&self.pricing, &usages, audience))
            .map_err(py_err)?;
        let instances = self.pricing.instances();
        Ok(projections
            .into_iter()
            .map(|p| {
                p.map(|p| {
                    (
                        (p.observed_rps, p.projected_rps, p.required_cores),
                        (instances[p.fleet.instance].name.clone(), p.fleet.count),
                        (
                            p.compute_monthly_usd,
                            p.egress_gib_per_month,
                            p.egress_monthly_usd,
                            p.monthly_usd,
                            p.cost_per_user_usd,
                        ),
                        p.request_cost_usd,
                        (p.variance_ratio, p.variance_warning, p.over_budget),
                        cost::CURVE_USERS
                            .iter()
                            .copied()
                            .zip(p.curve_monthly_usd)
                            .collect(),
                    )
                })
            })
            .collect())
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PricingCore>()?;
    m.add("PROVIDERS", pricing::PROVIDERS.to_vec())?;
    m.add("VARIANCE_WARNING_RATIO", cost::VARIANCE_WARNING_RATIO)?;
    Ok(())
}
