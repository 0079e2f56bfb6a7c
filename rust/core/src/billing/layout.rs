//! Column layouts of billing exports: the presets' column names, and a header's resolution to
//! the positions of the date, cost and grouping columns.

use crate::error::Error;

/// A billing export's column layout: which columns hold the usage date, the cost, the account
/// and the service. Each role lists the names its exports have used, first match wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// The name `preset` is given by (`aws`, `aws-cur2`, `gcp`, `azure`, `focus`).
    pub name: &'static str,
    date: &'static [&'static str],
    cost: &'static [&'static str],
    account: &'static [&'static str],
    service: &'static [&'static str],
}

/// The presets, in the order a header is matched against them.
pub const PRESETS: [Preset; 5] = [
    // AWS Cost and Usage Report (legacy CUR).
    Preset {
        name: "aws",
        date: &["lineitem/usagestartdate"],
        cost: &["lineitem/unblendedcost"],
        account: &["lineitem/usageaccountid"],
        service: &["lineitem/productcode", "product/productname"],
    },
    // AWS Data Exports (CUR 2.0).
    Preset {
        name: "aws-cur2",
        date: &["line_item_usage_start_date"],
        cost: &["line_item_unblended_cost"],
        account: &["line_item_usage_account_id"],
        service: &["line_item_product_code", "product_product_name"],
    },
    // GCP Cloud Billing export (BigQuery, written out as CSV).
    Preset {
        name: "gcp",
        date: &["usage_start_time"],
        cost: &["cost"],
        account: &["project.id", "project_id", "billing_account_id"],
        service: &["service.description", "service_description"],
    },
    // Azure Cost Management exports (actual cost, EA and MCA layouts).
    Preset {
        name: "azure",
        date: &["date", "usagedatetime"],
        cost: &["costinbillingcurrency", "pretaxcost", "cost"],
        account: &["subscriptionid", "subscriptionguid"],
        service: &["metercategory", "consumedservice"],
    },
    // FinOps FOCUS 1.x.
    Preset {
        name: "focus",
        date: &["chargeperiodstart"],
        cost: &["billedcost"],
        account: &["subaccountid"],
        service: &["servicename"],
    },
];

/// The preset named `name`.
pub fn preset(name: &str) -> Result<Preset, Error> {
    PRESETS
        .iter()
        .find(|p| p.name == name)
        .copied()
        .ok_or_else(|| {
            Error::bad(
                "preset",
                "must be one of aws, aws-cur2, gcp, azure, focus",
                format!("{name:?}"),
            )
        })
}

/// What the columns are read by: a preset (`None`: the first whose columns the header has) and
/// explicit column names, which override the preset's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnChoice {
    /// The preset, or `None` to detect one from the header.
    pub preset: Option<Preset>,
    /// The usage date column.
    pub date: Option<String>,
    /// The cost column.
    pub cost: Option<String>,
    /// What rows are grouped by: `account`, `service` (the preset's columns) or column names;
    /// `None`: the preset's account column if the header has one, else nothing (one total).
    pub by: Option<Vec<String>>,
}

/// A header resolved: the preset used (if any), and the positions and names of the columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The preset the header matched or was read by.
    pub preset: Option<&'static str>,
    /// Position and name of the date column.
    pub date: (usize, String),
    /// Position and name of the cost column.
    pub cost: (usize, String),
    /// Positions and names of the grouping columns.
    pub by: Vec<(usize, String)>,
}

/// The header's column names: unquoted, trimmed, a byte-order mark dropped.
pub fn header_names(fields: &[&[u8]]) -> Vec<String> {
    fields
        .iter()
        .map(|f| {
            let f = f.strip_prefix(b"\xef\xbb\xbf").unwrap_or(f);
            String::from_utf8_lossy(f).trim().to_string()
        })
        .collect()
}

impl ColumnChoice {
    /// Resolves the header `names` to column positions.
    pub fn resolve(&self, names: &[String]) -> Result<Resolved, Error> {
        let lower: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        let find = |candidates: &[&str]| {
            candidates
                .iter()
                .find_map(|c| lower.iter().position(|n| n == c))
        };
        let listed = || names.join(", ");
        let preset = match self.preset {
            Some(p) => Some(p),
            None => PRESETS
                .iter()
                .find(|p| find(p.date).is_some() && find(p.cost).is_some())
                .copied(),
        };
        let named = |param: &'static str, name: &str| -> Result<(usize, String), Error> {
            find(&[name.to_ascii_lowercase().as_str()])
                .map(|i| (i, names[i].clone()))
                .ok_or_else(|| {
                    Error::bad(
                        param,
                        format!("must name a column of the header ({})", listed()),
                        format!("{name:?}"),
                    )
                })
        };
        let role = |param: &'static str,
                    given: &Option<String>,
                    of: fn(&Preset) -> &'static [&'static str]|
         -> Result<(usize, String), Error> {
            if let Some(name) = given {
                return named(param, name);
            }
            let Some(p) = preset else {
                return Err(Error::bad(
                    param,
                    "is needed: the header matches no preset (aws, aws-cur2, gcp, azure, focus)",
                    listed(),
                ));
            };
            find(of(&p)).map(|i| (i, names[i].clone())).ok_or_else(|| {
                Error::bad(
                    param,
                    format!(
                        "is needed: the header has none of the {} preset's columns ({})",
                        p.name,
                        of(&p).join(", ")
                    ),
                    listed(),
                )
            })
        };
        let date = role("date_column", &self.date, |p| p.date)?;
        let cost = role("cost_column", &self.cost, |p| p.cost)?;
        let Some(by_names) = &self.by else {
            let account = preset.and_then(|p| find(p.account));
            return Ok(Resolved {
                preset: preset.map(|p| p.name),
                date,
                cost,
                by: account.map(|i| (i, names[i].clone())).into_iter().collect(),
            });
        };
        let mut by = Vec::new();
        for name in by_names {
            let column = match (name.as_str(), preset) {
                ("account", Some(p)) => find(p.account),
                ("service", Some(p)) => find(p.service),
                _ => find(&[name.to_ascii_lowercase().as_str()]),
            };
            let column = column.ok_or_else(|| {
                Error::bad(
                    "by",
                    format!(
                        "must be account, service or a column of the header ({})",
                        listed()
                    ),
                    format!("{name:?}"),
                )
            })?;
            by.push((column, names[column].clone()));
        }
        Ok(Resolved {
            preset: preset.map(|p| p.name),
            date,
            cost,
            by,
        })
    }
}
