//! Bundled on-demand price tables: Linux instances and internet egress of AWS, GCP and Azure,
//! as listed on the providers' public pricing pages on [`PRICES_DATE`]. Burstable types
//! carry their baseline as the cores they sustain. Pass your own [`Pricing`] for other
//! regions, discounts or newer prices.

use crate::cost::{Instance, Pricing};
use crate::error::Error;

/// When the bundled prices were read.
pub const PRICES_DATE: &str = "2025-01-01";

/// The providers with a bundled table.
pub const PROVIDERS: [&str; 3] = ["aws", "gcp", "azure"];

/// `(name, vCPUs, sustained cores, USD an hour)`.
type Row = (&'static str, f64, f64, f64);

/// EC2, us-east-1. t3 baselines: 5 % (nano) to 40 % (xlarge and up) of each vCPU.
const AWS: [Row; 17] = [
    ("t3.nano", 2.0, 0.1, 0.0052),
    ("t3.micro", 2.0, 0.2, 0.0104),
    ("t3.small", 2.0, 0.4, 0.0208),
    ("t3.medium", 2.0, 0.4, 0.0416),
    ("t3.large", 2.0, 0.6, 0.0832),
    ("t3.xlarge", 4.0, 1.6, 0.1664),
    ("t3.2xlarge", 8.0, 3.2, 0.3328),
    ("c5.large", 2.0, 2.0, 0.085),
    ("c5.xlarge", 4.0, 4.0, 0.17),
    ("c5.2xlarge", 8.0, 8.0, 0.34),
    ("c5.4xlarge", 16.0, 16.0, 0.68),
    ("c5.9xlarge", 36.0, 36.0, 1.53),
    ("m5.large", 2.0, 2.0, 0.096),
    ("m5.xlarge", 4.0, 4.0, 0.192),
    ("m5.2xlarge", 8.0, 8.0, 0.384),
    ("m5.4xlarge", 16.0, 16.0, 0.768),
    ("m5.8xlarge", 32.0, 32.0, 1.536),
];

/// Compute Engine, us-central1. Shared-core e2 types sustain a quarter, half or one core.
const GCP: [Row; 17] = [
    ("e2-micro", 2.0, 0.25, 0.008376),
    ("e2-small", 2.0, 0.5, 0.016751),
    ("e2-medium", 2.0, 1.0, 0.033503),
    ("e2-standard-2", 2.0, 2.0, 0.067006),
    ("e2-standard-4", 4.0, 4.0, 0.134012),
    ("e2-standard-8", 8.0, 8.0, 0.268024),
    ("e2-standard-16", 16.0, 16.0, 0.536048),
    ("e2-standard-32", 32.0, 32.0, 1.072096),
    ("n2-standard-2", 2.0, 2.0, 0.097118),
    ("n2-standard-4", 4.0, 4.0, 0.194236),
    ("n2-standard-8", 8.0, 8.0, 0.388472),
    ("n2-standard-16", 16.0, 16.0, 0.776944),
    ("n2-standard-32", 32.0, 32.0, 1.553888),
    ("c2-standard-4", 4.0, 4.0, 0.2088),
    ("c2-standard-8", 8.0, 8.0, 0.4176),
    ("c2-standard-16", 16.0, 16.0, 0.8352),
    ("c2-standard-30", 30.0, 30.0, 1.566),
];

/// Virtual Machines, East US. B-series baselines: 20 % (B1ms) to 270 % (B16ms) of a vCPU.
const AZURE: [Row; 16] = [
    ("B1ms", 1.0, 0.2, 0.0207),
    ("B2s", 2.0, 0.4, 0.0416),
    ("B2ms", 2.0, 0.6, 0.0832),
    ("B4ms", 4.0, 0.9, 0.166),
    ("B8ms", 8.0, 1.35, 0.333),
    ("B16ms", 16.0, 2.7, 0.666),
    ("F2s_v2", 2.0, 2.0, 0.0846),
    ("F4s_v2", 4.0, 4.0, 0.169),
    ("F8s_v2", 8.0, 8.0, 0.338),
    ("F16s_v2", 16.0, 16.0, 0.677),
    ("F32s_v2", 32.0, 32.0, 1.353),
    ("D2s_v5", 2.0, 2.0, 0.096),
    ("D4s_v5", 4.0, 4.0, 0.192),
    ("D8s_v5", 8.0, 8.0, 0.384),
    ("D16s_v5", 16.0, 16.0, 0.768),
    ("D32s_v5", 32.0, 32.0, 1.536),
];

/// The bundled table of `provider` ("aws", "gcp" or "azure", any case). Egress is the first
/// paid tier to the internet: AWS $0.09/GB, GCP Premium Tier $0.12/GiB, Azure $0.087/GB.
pub fn bundled(provider: &str) -> Result<Pricing, Error> {
    let (name, region, rows, egress): (&str, &str, &[Row], f64) =
        match provider.to_ascii_lowercase().as_str() {
            "aws" => ("aws", "us-east-1", &AWS, 0.09),
            "gcp" => ("gcp", "us-central1", &GCP, 0.12),
            "azure" => ("azure", "eastus", &AZURE, 0.087),
            _ => {
                return Err(Error::bad(
                    "provider",
                    format!("must be one of {}", PROVIDERS.join(", ")),
                    format_args!("{:?}", provider),
                ))
            }
        };
    let instances = rows
        .iter()
        .map(|&(name, vcpu, baseline_cores, hourly_usd)| Instance {
            name: name.to_owned(),
            vcpu,
            baseline_cores,
            hourly_usd,
        })
        .collect();
    Pricing::new(name, region, PRICES_DATE, instances, egress)
}
