//! What each route would cost on a cloud provider: the load a route puts on compute and
//! egress, scaled to a target audience and priced with on-demand instance and egress rates.
//!
//! # The model
//!
//! For each route, from its observed window:
//!
//! - its share of the traffic is its observed request rate over the sum of all routes' rates;
//!   at `users` users sending `requests_per_user_per_second` each, it gets that share of
//!   `users × requests_per_user_per_second` requests a second (the *projected rps*);
//! - it keeps `projected rps × mean duration` cores busy (Little's law, with wall-clock
//!   duration standing in for CPU time, so I/O waits count as busy);
//! - it runs on the cheapest instance that sustains those cores, or, past the largest, on
//!   the cheapest fleet of one type (`ceil(cores / type's cores)` instances of it);
//! - it sends `projected rps × mean response bytes` a second, priced per GiB.
//!
//! Means, not medians, size the load: a month's core-seconds and bytes are sums, and for
//! skewed routes a median would understate both. A request's cost is its duration times the
//! route's price per busy core-second (compute cost over busy core-seconds, so idle capacity
//! is paid by the requests that need the instance) plus the route's mean egress cost; the
//! mean request cost times the month's requests is the monthly cost exactly.

use crate::error::Error;

/// Hours in a month, as the providers bill them (8,760 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;
/// Bytes in a GiB, the unit egress is priced in.
pub const GIB: f64 = 1_073_741_824.0;
/// Audience sizes of a cost curve.
pub const CURVE_USERS: [f64; 12] = [
    100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 5e5, 1e6,
];
/// p95 over p50 of a route's request cost above which its cost is flagged as variable.
pub const VARIANCE_WARNING_RATIO: f64 = 1.5;

const SECONDS_PER_MONTH: f64 = HOURS_PER_MONTH * 3600.0;

/// An instance type and its on-demand price.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// The provider's name for it ("c5.large").
    pub name: String,
    /// Virtual CPUs.
    pub vcpu: f64,
    /// Cores it sustains: its vCPUs, or a burstable type's baseline (t3.nano: 2 × 5 %).
    pub baseline_cores: f64,
    /// On-demand price, USD an hour.
    pub hourly_usd: f64,
}

/// A provider's instance types and egress rate, with the date the prices were read.
#[derive(Debug, Clone, PartialEq)]
pub struct Pricing {
    /// Who sells it ("aws").
    pub provider: String,
    /// Where the prices apply ("us-east-1").
    pub region: String,
    /// When the prices were read (ISO date).
    pub date: String,
    /// Internet egress, USD a GiB.
    pub egress_usd_per_gib: f64,
    /// Sorted by price, then by cores, descending (the first that fits is the cheapest).
    instances: Vec<Instance>,
}

/// Instances of one type that sustain a load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fleet {
    /// Index into [`Pricing::instances`].
    pub instance: usize,
    /// Instances of that type (1 unless the load exceeds the largest).
    pub count: u64,
    /// Their cost a month, USD.
    pub monthly_usd: f64,
}

impl Pricing {
    /// A price table; instance names must be unique, prices and cores finite, cores > 0,
    /// baseline cores at most the vCPUs.
    pub fn new(
        provider: &str,
        region: &str,
        date: &str,
        mut instances: Vec<Instance>,
        egress_usd_per_gib: f64,
    ) -> Result<Self, Error> {
        if instances.is_empty() {
            return Err(Error::invalid("instances", "must not be empty"));
        }
        for (i, inst) in instances.iter().enumerate() {
            let bad =
                |what: &str| Error::invalid("instances", format!("({}) {what}", inst.name)).at(i);
            if !(inst.vcpu.is_finite() && inst.vcpu > 0.0) {
                return Err(bad(&format!("vcpu must be > 0; got {}", inst.vcpu)));
            }
            if !(inst.baseline_cores > 0.0 && inst.baseline_cores <= inst.vcpu) {
                return Err(bad(&format!(
                    "baseline_cores must be in (0, vcpu]; got {}",
                    inst.baseline_cores
                )));
            }
            if !(inst.hourly_usd.is_finite() && inst.hourly_usd >= 0.0) {
                return Err(bad(&format!(
                    "hourly_usd must be >= 0; got {}",
                    inst.hourly_usd
                )));
            }
            if inst.name.trim().is_empty() {
                return Err(bad("the name must not be empty"));
            }
            if instances[..i].iter().any(|other| other.name == inst.name) {
                return Err(bad("the name is listed twice"));
            }
        }
        if !(egress_usd_per_gib.is_finite() && egress_usd_per_gib >= 0.0) {
            return Err(Error::bad(
                "egress_usd_per_gib",
                "must be >= 0",
                egress_usd_per_gib,
            ));
        }
        instances.sort_by(|a, b| {
            a.hourly_usd
                .total_cmp(&b.hourly_usd)
                .then(b.baseline_cores.total_cmp(&a.baseline_cores))
        });
        Ok(Pricing {
            provider: provider.to_owned(),
            region: region.to_owned(),
            date: date.to_owned(),
            egress_usd_per_gib,
            instances,
        })
    }

    /// The instance types, cheapest first.
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// The cheapest instance sustaining `cores` (at least one instance, whatever the load);
    /// past the largest, the cheapest whole number of instances of one type.
    pub fn fleet(&self, cores: f64) -> Fleet {
        if let Some(i) = self
            .instances
            .iter()
            .position(|t| t.baseline_cores >= cores)
        {
            return Fleet {
                instance: i,
                count: 1,
                monthly_usd: self.instances[i].hourly_usd * HOURS_PER_MONTH,
            };
        }
        let sized = |(i, t): (usize, &Instance)| {
            let count = (cores / t.baseline_cores).ceil();
            Fleet {
                instance: i,
                // Past MAX_FLEET the count saturates; the cost stays exact as a float.
                count: count.min(MAX_FLEET as f64) as u64,
                monthly_usd: count * t.hourly_usd * HOURS_PER_MONTH,
            }
        };
        self.instances
            .iter()
            .enumerate()
            .map(sized)
            .min_by(|a, b| {
                a.monthly_usd
                    .total_cmp(&b.monthly_usd)
                    .then(a.count.cmp(&b.count))
            })
            .expect("instances is not empty")
    }
}

/// One route's observed load, from its window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Requests observed.
    pub requests: u64,
    /// The span the requests were observed over, in seconds.
    pub observed_seconds: f64,
    /// Mean request duration, in seconds.
    pub mean_seconds: f64,
    /// Mean response bytes a request.
    pub mean_bytes: f64,
    /// Duration quantiles p50, p95 and p99, in seconds.
    pub duration_quantiles: [f64; 3],
    /// Flag the route when its projected monthly cost exceeds this.
    pub monthly_budget_usd: Option<f64>,
}

/// The audience a projection is for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Audience {
    /// Users at the same time.
    pub users: f64,
    /// Requests each user sends a second.
    pub requests_per_user_per_second: f64,
}

/// One route's projected cost at the audience (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// Requests a second observed.
    pub observed_rps: f64,
    /// Requests a second at the audience.
    pub projected_rps: f64,
    /// Cores kept busy at the audience.
    pub required_cores: f64,
    /// The instances that sustain them.
    pub fleet: Fleet,
    /// The fleet's monthly cost, USD.
    pub compute_monthly_usd: f64,
    /// GiB sent a month.
    pub egress_gib_per_month: f64,
    /// Their monthly cost, USD.
    pub egress_monthly_usd: f64,
    /// Compute plus egress, USD a month.
    pub monthly_usd: f64,
    /// Monthly cost over the audience's users.
    pub cost_per_user_usd: f64,
    /// A request's cost at duration p50, p95 and p99.
    pub request_cost_usd: [f64; 3],
    /// Request cost p95 / p50 (0 when p50 is 0).
    pub variance_ratio: f64,
    /// Whether the variance ratio exceeds [`VARIANCE_WARNING_RATIO`].
    pub variance_warning: bool,
    /// Whether the monthly cost exceeds the route's budget.
    pub over_budget: bool,
    /// Monthly cost at each of [`CURVE_USERS`].
    pub curve_monthly_usd: Vec<f64>,
}

/// Projects each route with requests (the others get `None`) to `audience`.
pub fn project(
    pricing: &Pricing,
    routes: &[Usage],
    audience: Audience,
) -> Result<Vec<Option<Projection>>, Error> {
    check_audience(audience)?;
    for (i, u) in routes.iter().enumerate() {
        check_usage(i, u)?;
    }
    let rate = |u: &Usage| u.requests as f64 / u.observed_seconds;
    let observed: Vec<Option<f64>> = routes
        .iter()
        .map(|u| (u.requests > 0 && u.observed_seconds > 0.0).then(|| rate(u)))
        .collect();
    let total_rps: f64 = observed.iter().flatten().sum();
    let projections: Vec<Option<Projection>> = routes
        .iter()
        .zip(&observed)
        .map(|(usage, rps)| {
            rps.map(|rps| project_route(pricing, usage, rps / total_rps, rps, audience))
        })
        .collect();
    for (i, p) in projections.iter().enumerate() {
        if let Some(p) = p.as_ref().filter(|p| p.fleet.count >= MAX_FLEET) {
            return Err(Error::bad(
                "target_users",
                format!(
                    "projects {:e} cores for route {i}, more than {MAX_FLEET} instances; \
                     lower target_users or requests_per_user_per_second",
                    p.required_cores
                ),
                format!("{:?}", audience.users),
            ));
        }
    }
    Ok(projections)
}

fn project_route(
    pricing: &Pricing,
    usage: &Usage,
    share: f64,
    observed_rps: f64,
    audience: Audience,
) -> Projection {
    let rps_at = |users: f64| share * users * audience.requests_per_user_per_second;
    let projected_rps = rps_at(audience.users);
    let (fleet, compute, egress_gib) = load_at(pricing, usage, projected_rps);
    let egress = egress_gib * pricing.egress_usd_per_gib;
    let monthly = compute + egress;
    let busy_core_seconds = projected_rps * SECONDS_PER_MONTH * usage.mean_seconds;
    let egress_per_request = usage.mean_bytes / GIB * pricing.egress_usd_per_gib;
    let request_cost_usd = usage.duration_quantiles.map(|seconds| {
        if busy_core_seconds > 0.0 {
            seconds * compute / busy_core_seconds + egress_per_request
        } else {
            // Every request took 0 s: they share the instance evenly.
            compute / (projected_rps * SECONDS_PER_MONTH) + egress_per_request
        }
    });
    let variance_ratio = if request_cost_usd[0] > 0.0 {
        request_cost_usd[1] / request_cost_usd[0]
    } else {
        0.0
    };
    Projection {
        observed_rps,
        projected_rps,
        required_cores: projected_rps * usage.mean_seconds,
        fleet,
        compute_monthly_usd: compute,
        egress_gib_per_month: egress_gib,
        egress_monthly_usd: egress,
        monthly_usd: monthly,
        cost_per_user_usd: monthly / audience.users,
        request_cost_usd,
        variance_ratio,
        variance_warning: variance_ratio > VARIANCE_WARNING_RATIO,
        over_budget: usage
            .monthly_budget_usd
            .is_some_and(|budget| monthly > budget),
        curve_monthly_usd: CURVE_USERS
            .iter()
            .map(|&users| {
                let (_, compute, gib) = load_at(pricing, usage, rps_at(users));
                compute + gib * pricing.egress_usd_per_gib
            })
            .collect(),
    }
}

/// The most instances a projection may need (2**53, the last count a float holds exactly).
pub const MAX_FLEET: u64 = 1 << 53;

/// The fleet, its monthly cost and the GiB sent a month at `rps`.
fn load_at(pricing: &Pricing, usage: &Usage, rps: f64) -> (Fleet, f64, f64) {
    let fleet = pricing.fleet(rps * usage.mean_seconds);
    let gib = rps * usage.mean_bytes * SECONDS_PER_MONTH / GIB;
    (fleet, fleet.monthly_usd, gib)
}

fn check_audience(a: Audience) -> Result<(), Error> {
    if !(a.users.is_finite() && a.users >= 1.0) {
        return Err(Error::bad("target_users", "must be >= 1", a.users));
    }
    let rpu = a.requests_per_user_per_second;
    if !(rpu.is_finite() && rpu > 0.0) {
        return Err(Error::bad(
            "requests_per_user_per_second",
            "must be > 0",
            rpu,
        ));
    }
    Ok(())
}

fn check_usage(i: usize, u: &Usage) -> Result<(), Error> {
    let finite_non_negative = [
        ("observed_seconds", u.observed_seconds),
        ("mean_seconds", u.mean_seconds),
        ("mean_bytes", u.mean_bytes),
    ];
    for (name, value) in finite_non_negative {
        if !(value.is_finite() && value >= 0.0) {
            return Err(Error::bad("routes", format!("{name} must be >= 0"), value).at(i));
        }
    }
    if u.requests > 0
        && u.duration_quantiles
            .iter()
            .any(|q| !(q.is_finite() && *q >= 0.0))
    {
        let got = u.duration_quantiles;
        return Err(Error::bad(
            "routes",
            "duration quantiles must be >= 0",
            format_args!("{:?}", got),
        )
        .at(i));
    }
    if let Some(budget) = u.monthly_budget_usd {
        if !(budget.is_finite() && budget >= 0.0) {
            return Err(Error::bad("monthly_budget_usd", "must be >= 0", budget).at(i));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MONTH: f64 = 730.0 * 3600.0;

    fn instance(name: &str, vcpu: f64, baseline_cores: f64, hourly_usd: f64) -> Instance {
        Instance {
            name: name.to_owned(),
            vcpu,
            baseline_cores,
            hourly_usd,
        }
    }

    /// A burstable type sustaining half a core at $0.01, 2 cores at $0.10 and 4 at $0.20;
    /// egress $0.10 a GiB.
    fn pricing() -> Pricing {
        let instances = vec![
            instance("big", 4.0, 4.0, 0.2),
            instance("small", 2.0, 0.5, 0.01),
            instance("mid", 2.0, 2.0, 0.1),
        ];
        Pricing::new("test", "here", "2026-11-01", instances, 0.1).unwrap()
    }

    fn usage(requests: u64, mean_seconds: f64, mean_bytes: f64, qs: [f64; 3]) -> Usage {
        Usage {
            requests,
            observed_seconds: 300.0,
            mean_seconds,
            mean_bytes,
            duration_quantiles: qs,
            monthly_budget_usd: None,
        }
    }

    fn close(got: f64, want: f64) {
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1e-12),
            "{got} vs {want}"
        );
    }

    #[test]
    fn projections_match_hand_computed_figures() {
        let pricing = pricing();
        let names: Vec<&str> = pricing
            .instances()
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(names, ["small", "mid", "big"], "cheapest first");
        let mut a = usage(600, 0.05, GIB / 1000.0, [0.04, 0.1, 0.2]);
        a.monthly_budget_usd = Some(1000.0);
        let mut b = usage(300, 0.5, 0.0, [0.5, 0.5, 0.5]);
        b.monthly_budget_usd = Some(100.0);
        let idle = usage(0, 0.0, 0.0, [f64::NAN; 3]);
        let audience = Audience {
            users: 300.0,
            requests_per_user_per_second: 0.1,
        };
        let got = project(&pricing, &[a, b, idle], audience).unwrap();
        assert_eq!(got[2], None, "a route without requests has no projection");

        // A: 2 of the 3 observed rps, so 20 of the 30 projected; 20 × 0.05 s = 1 core: "mid".
        let a = got[0].as_ref().unwrap();
        close(a.observed_rps, 2.0);
        close(a.projected_rps, 20.0);
        close(a.required_cores, 1.0);
        assert_eq!((a.fleet.instance, a.fleet.count), (1, 1));
        close(a.compute_monthly_usd, 73.0);
        close(a.egress_gib_per_month, 20.0 * MONTH / 1000.0); // 52,560 GiB
        close(a.egress_monthly_usd, 5256.0);
        close(a.monthly_usd, 5329.0);
        close(a.cost_per_user_usd, 5329.0 / 300.0);
        // $73 over 2,628,000 busy core-seconds, plus $0.0001 of egress a request.
        let per_core_second = 73.0 / 2_628_000.0;
        close(a.request_cost_usd[0], 0.04 * per_core_second + 1e-4);
        close(a.request_cost_usd[1], 0.1 * per_core_second + 1e-4);
        close(a.request_cost_usd[2], 0.2 * per_core_second + 1e-4);
        close(
            a.variance_ratio,
            a.request_cost_usd[1] / a.request_cost_usd[0],
        );
        assert!(!a.variance_warning);
        assert!(a.over_budget);
        // At 100 users: 6.67 rps, a third of a core fits "small"; egress scales with rps.
        assert_eq!(a.curve_monthly_usd.len(), CURVE_USERS.len());
        close(
            a.curve_monthly_usd[0],
            7.3 + 20.0 / 3.0 * MONTH / 1000.0 * 0.1,
        );

        // B: 10 rps × 0.5 s = 5 cores, past the largest: 10 "small" at $7.30 beat 3 "mid"
        // ($219) and 2 "big" ($292).
        let b = got[1].as_ref().unwrap();
        assert_eq!((b.fleet.instance, b.fleet.count), (0, 10));
        close(b.monthly_usd, 73.0);
        close(b.request_cost_usd[0], 0.5 * 73.0 / (10.0 * MONTH * 0.5));
        close(b.variance_ratio, 1.0);
        assert!(!b.over_budget);
        // The mean request cost times the month's requests is the monthly cost.
        close(b.request_cost_usd[0] * 10.0 * MONTH, b.monthly_usd);
    }

    #[test]
    fn variable_routes_are_flagged_and_instant_ones_share_the_instance() {
        let pricing = pricing();
        let audience = Audience {
            users: 1000.0,
            requests_per_user_per_second: 1.0,
        };
        let spread = usage(100, 0.002, 0.0, [0.001, 0.01, 0.02]);
        let instant = usage(100, 0.0, 0.0, [0.0; 3]);
        let got = project(&pricing, &[spread, instant], audience).unwrap();
        let spread = got[0].as_ref().unwrap();
        close(spread.variance_ratio, 10.0);
        assert!(spread.variance_warning);
        let instant = got[1].as_ref().unwrap();
        assert_eq!(instant.fleet.instance, 0);
        close(instant.request_cost_usd[0], 7.3 / (500.0 * MONTH));
        close(instant.variance_ratio, 1.0);
    }

    #[test]
    fn bundled_tables_pick_the_cheapest_sustaining_instance() {
        let aws = crate::pricing::bundled("AWS").unwrap();
        assert_eq!(
            (aws.provider.as_str(), aws.region.as_str()),
            ("aws", "us-east-1")
        );
        let name = |p: &Pricing, cores: f64| {
            let fleet = p.fleet(cores);
            (p.instances()[fleet.instance].name.clone(), fleet.count)
        };
        assert_eq!(name(&aws, 0.05), ("t3.nano".to_owned(), 1));
        assert_eq!(name(&aws, 0.5), ("t3.large".to_owned(), 1));
        assert_eq!(name(&aws, 1.0), ("c5.large".to_owned(), 1));
        // 51 × $0.085 beats 26 × $0.17, 3 × $1.53 and 7 × $0.68.
        assert_eq!(name(&aws, 101.0), ("c5.large".to_owned(), 51));
        let gcp = crate::pricing::bundled("gcp").unwrap();
        assert_eq!(name(&gcp, 0.9), ("e2-medium".to_owned(), 1));
        let azure = crate::pricing::bundled("Azure").unwrap();
        assert_eq!(name(&azure, 0.1), ("B1ms".to_owned(), 1));
        for p in [&aws, &gcp, &azure] {
            assert!(p
                .instances()
                .windows(2)
                .all(|w| w[0].hourly_usd <= w[1].hourly_usd));
        }
        let err = crate::pricing::bundled("oracle").unwrap_err().to_string();
        assert!(err.starts_with("provider must be one of"), "{err}");
    }

    #[test]
    fn bad_input_names_the_parameter() {
        let err = |e: Error| e.to_string();
        let p = pricing();
        let one = [usage(1, 0.1, 0.0, [0.1; 3])];
        let audience = |users, rpu| Audience {
            users,
            requests_per_user_per_second: rpu,
        };
        assert!(
            err(project(&p, &one, audience(0.0, 1.0)).unwrap_err()).starts_with("target_users ")
        );
        let e = err(project(&p, &one, audience(10.0, f64::NAN)).unwrap_err());
        assert!(e.starts_with("requests_per_user_per_second "), "{e}");
        let mut bad = [one[0], one[0]];
        bad[1].monthly_budget_usd = Some(-1.0);
        let e = err(project(&p, &bad, audience(10.0, 1.0)).unwrap_err());
        assert!(e.starts_with("monthly_budget_usd[1] "), "{e}");
        bad[1] = usage(1, f64::INFINITY, 0.0, [0.1; 3]);
        let e = err(project(&p, &bad, audience(10.0, 1.0)).unwrap_err());
        assert!(e.starts_with("routes[1] mean_seconds "), "{e}");
        let new = |instances| Pricing::new("x", "y", "z", instances, 0.1).map(|_| ());
        assert!(err(new(vec![]).unwrap_err()).starts_with("instances must not be empty"));
        let twice = vec![instance("a", 2.0, 2.0, 0.1), instance("a", 4.0, 4.0, 0.2)];
        assert!(err(new(twice).unwrap_err()).starts_with("instances[1] (a) the name"));
        let over = vec![instance("a", 2.0, 3.0, 0.1)];
        assert!(err(new(over).unwrap_err()).starts_with("instances[0] (a) baseline_cores"));
        let free = Pricing::new("x", "y", "z", vec![instance("a", 2.0, 2.0, 0.1)], -0.1);
        assert!(err(free.unwrap_err()).starts_with("egress_usd_per_gib "));
        let blank = vec![instance("a", 2.0, 2.0, 0.1), instance(" ", 4.0, 4.0, 0.2)];
        assert!(err(new(blank).unwrap_err()).starts_with("instances[1] ( ) the name must not"));
    }

    #[test]
    fn an_audience_beyond_any_fleet_is_refused_not_wrapped() {
        let p = pricing();
        let one = [usage(100, 60.0, 1.0, [1.0; 3])];
        let huge = Audience {
            users: 1e300,
            requests_per_user_per_second: 1.0,
        };
        let e = project(&p, &one, huge).unwrap_err().to_string();
        assert!(e.starts_with("target_users projects "), "{e}");
        assert!(e.ends_with("got 1e300"), "{e}");
        // Large but countable fleets keep an exact count and cost.
        let many = Audience {
            users: 1e12,
            requests_per_user_per_second: 1.0,
        };
        let projected = project(&p, &one, many).unwrap()[0].clone().unwrap();
        assert!(projected.fleet.count < MAX_FLEET && projected.fleet.count > 1_000_000);
        let biggest = p.instances()[projected.fleet.instance].hourly_usd * HOURS_PER_MONTH;
        let expected = projected.fleet.count as f64 * biggest;
        assert!((projected.compute_monthly_usd - expected).abs() <= 1e-9 * expected);
    }
}
