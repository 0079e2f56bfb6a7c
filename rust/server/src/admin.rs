//! The admin API's provisioning subset, for the bearer of the admin key (`X-Admin-API-Key`):
//! tenants, API keys (the secret is answered once and kept only as its SHA-256), budgets, and
//! funding (CREDIT, DEBIT, RESET, REPAY_DEBT, RESET_SPENT). With a data directory, tenants and
//! keys are saved in `tenants.json` (written atomically) and budgets live in the durable ledger.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use burnguard_core::ledger::{Adjustment, Balance, Unit};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::api::{refusal, Api, Key};
use crate::wire::{self, Refusal};

/// A tenant, as provisioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Its id (`[a-z0-9-]{3,64}`).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// When it was created (ms since the epoch).
    pub created_at_ms: i64,
}

/// What the admin API answers: a status and a JSON body, or a refusal.
type Answer = Result<(u16, Value), Refusal>;

/// `ms` since the epoch as RFC 3339 UTC (`2026-12-03T14:05:00Z`).
pub fn rfc3339(ms: i64) -> String {
    let (days, seconds) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000) / 1000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// 32 random bytes from the system, as hex.
fn random_hex() -> io::Result<String> {
    let mut bytes = [0u8; 32];
    fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

impl Api {
    /// Whether `request` carries the admin key.
    fn is_admin(&self, secret: &str) -> bool {
        self.admin_hash()
            .is_some_and(|hash| crate::api::same(&hash, &Sha256::digest(secret.as_bytes()).into()))
    }

    /// Answers `POST /v1/admin/...` (`parts` after `admin`).
    pub(crate) fn admin(
        &self,
        method: &str,
        parts: &[&str],
        request: &crate::http::Request,
    ) -> Answer {
        if !self.is_admin(request.header("x-admin-api-key").unwrap_or("")) {
            return Err(Refusal::new(
                401,
                "UNAUTHORIZED",
                "the admin API needs X-Admin-API-Key (the server's ADMIN_API_KEY)",
            ));
        }
        let now = crate::api::now_ms();
        match (method, parts) {
            ("POST", ["tenants"]) => self.create_tenant(&request.body, now),
            ("POST", ["api-keys"]) => self.create_key(&request.body, now),
            ("POST", ["budgets"]) => self.create_budget(&request.body, now),
            ("POST", ["budgets", "fund"]) => self.fund_budget(request, now),
            _ => Err(Refusal::new(
                404,
                "NOT_FOUND",
                format!("no admin endpoint {method} /v1/admin/{}", parts.join("/")),
            )),
        }
    }

    fn tenant(&self, id: &str) -> Option<Tenant> {
        self.tenants().into_iter().find(|t| t.id == id)
    }

    fn create_tenant(&self, body: &[u8], now: i64) -> Answer {
        let mut f = wire::body(body)?;
        let id = f.required_string("tenant_id", 64)?;
        let name = f.required_string("name", 256)?;
        f.take("metadata");
        f.done()?;
        if id.len() < 3
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(Refusal::invalid(format!(
                "tenant_id must be 3 to 64 of a-z, 0-9 and '-'; got {id:?}"
            )));
        }
        let tenant = Tenant {
            id,
            name,
            created_at_ms: now,
        };
        if !self.add_tenant(tenant.clone()).map_err(|e| saving(&e))? {
            return Err(Refusal::new(
                409,
                "DUPLICATE_RESOURCE",
                format!("tenant {:?} exists", tenant.id),
            ));
        }
        Ok((201, tenant_json(&tenant)))
    }

    fn create_key(&self, body: &[u8], now: i64) -> Answer {
        let mut f = wire::body(body)?;
        let tenant = f.required_string("tenant_id", 64)?;
        let name = f.required_string("name", 256)?;
        f.take("metadata");
        for unsupported in ["permissions", "expires_at", "scope_filter"] {
            if f.take(unsupported).is_some() {
                return Err(Refusal::invalid(format!(
                    "{unsupported} is not supported here: a key may do every runtime operation of its tenant and does not expire"
                )));
            }
        }
        f.done()?;
        if self.tenant(&tenant).is_none() {
            return Err(Refusal::new(
                404,
                "TENANT_NOT_FOUND",
                format!("no tenant {tenant:?}"),
            ));
        }
        let secret = format!("cyc_live_{}", random_hex().map_err(|e| saving(&e))?);
        let key = Key::new(&secret, &tenant);
        let key_id = format!("key_{}", &hex(&key.hash)[..16]);
        self.add_saved_key(key).map_err(|e| saving(&e))?;
        Ok((
            201,
            json!({
                "key_id": key_id,
                "key_secret": secret,
                "key_prefix": &secret[..13],
                "tenant_id": tenant,
                "name": name,
                "created_at": rfc3339(now),
                "expires_at": "9999-12-31T23:59:59Z",
            }),
        ))
    }

    fn create_budget(&self, body: &[u8], now: i64) -> Answer {
        let mut f = wire::body(body)?;
        let scope = f.required_string("scope", 1024)?;
        let unit = wire::unit(f.required("unit")?, "unit")?;
        let (allocated_unit, allocated) = wire::amount(f.required("allocated")?, "allocated")?;
        let overdraft = match f.take("overdraft_limit") {
            None => 0,
            Some(v) => same_unit(unit, wire::amount(v, "overdraft_limit")?, "overdraft_limit")?,
        };
        let tenant = f.string("tenant_id", 64)?;
        f.take("metadata");
        f.done()?;
        same_unit(unit, (allocated_unit, allocated), "allocated")?;
        let owner = scope
            .split('/')
            .next()
            .and_then(|s| s.strip_prefix("tenant:"))
            .ok_or_else(|| {
                Refusal::invalid(format!("scope must start with tenant:<id>; got {scope:?}"))
            })?;
        if tenant.as_deref().is_some_and(|t| t != owner) {
            return Err(Refusal::invalid("tenant_id must be the scope's tenant"));
        }
        if self.tenant(owner).is_none() {
            return Err(Refusal::new(
                404,
                "TENANT_NOT_FOUND",
                format!("no tenant {owner:?}"),
            ));
        }
        if self.balance(&scope, unit)?.is_some() {
            return Err(Refusal::new(
                409,
                "DUPLICATE_RESOURCE",
                format!("{scope} has a {} budget", unit.as_str()),
            ));
        }
        self.ledger
            .set_budget(&scope, unit, allocated, overdraft, None)
            .map_err(refusal)?;
        let b = self.balance(&scope, unit)?.expect("just set");
        let mut out = ledger_json(&b, owner);
        out["created_at"] = json!(rfc3339(now));
        Ok((201, out))
    }

    fn balance(&self, scope: &str, unit: Unit) -> Result<Option<Balance>, Refusal> {
        let balances = self
            .ledger
            .balances(crate::api::now_ms(), scope)
            .map_err(refusal)?;
        Ok(balances
            .into_iter()
            .find(|b| b.scope_path == scope && b.unit == unit))
    }

    fn fund_budget(&self, request: &crate::http::Request, _now: i64) -> Answer {
        let scope = request
            .param("scope")
            .ok_or_else(|| Refusal::invalid("the scope query parameter is required"))?
            .to_string();
        let unit = match request.param("unit") {
            Some(u) => wire::unit(Value::String(u.to_string()), "unit")?,
            None => return Err(Refusal::invalid("the unit query parameter is required")),
        };
        let mut f = wire::body(&request.body)?;
        let operation = f.required_string("operation", 32)?;
        let amount = same_unit(
            unit,
            wire::amount(f.required("amount")?, "amount")?,
            "amount",
        )?;
        let spent = match f.take("spent") {
            None => 0,
            Some(v) => same_unit(unit, wire::amount(v, "spent")?, "spent")?,
        };
        f.string("reason", 512)?;
        if f.take("idempotency_key").is_some() {
            return Err(Refusal::invalid(
                "idempotency_key is not supported on funding here: do not retry a funding blindly",
            ));
        }
        f.take("metadata");
        f.done()?;
        let before = self.balance(&scope, unit)?.ok_or_else(|| {
            Refusal::new(
                404,
                "BUDGET_NOT_FOUND",
                format!("{scope} has no {} budget", unit.as_str()),
            )
        })?;
        let done = if operation == "CREDIT" {
            self.ledger.fund(&scope, unit, amount)
        } else {
            let adjustment = operation.parse::<Adjustment>().map_err(|_| {
                Refusal::invalid(format!(
                    "operation must be one of CREDIT, DEBIT, RESET, REPAY_DEBT, RESET_SPENT; got {operation:?}"
                ))
            })?;
            self.ledger.adjust(&scope, unit, adjustment, amount, spent)
        };
        done.map_err(refusal)?;
        let after = self.balance(&scope, unit)?.expect("a funded budget exists");
        let a = |v: i64| wire::amount_json(unit, v);
        Ok((
            200,
            json!({
                "operation": operation,
                "previous_allocated": a(before.allocated), "new_allocated": a(after.allocated),
                "previous_remaining": a(before.remaining), "new_remaining": a(after.remaining),
                "previous_debt": a(before.debt), "new_debt": a(after.debt),
                "previous_spent": a(before.spent), "new_spent": a(after.spent),
            }),
        ))
    }
}

fn same_unit(unit: Unit, (given, amount): (Unit, i64), field: &str) -> Result<i64, Refusal> {
    if given == unit {
        Ok(amount)
    } else {
        Err(Refusal::new(
            400,
            "UNIT_MISMATCH",
            format!(
                "{field}.unit must be the budget's {}; got {}",
                unit.as_str(),
                given.as_str()
            ),
        ))
    }
}

fn saving(e: &io::Error) -> Refusal {
    Refusal::new(
        500,
        "INTERNAL_ERROR",
        format!("could not save the tenants: {e}"),
    )
}

fn tenant_json(t: &Tenant) -> Value {
    json!({"tenant_id": t.id, "name": t.name, "status": "ACTIVE", "created_at": rfc3339(t.created_at_ms)})
}

fn ledger_json(b: &Balance, tenant: &str) -> Value {
    let a = |v: i64| wire::amount_json(b.unit, v);
    json!({
        "ledger_id": format!("ldg_{}", &hex(&Sha256::digest(format!("{}|{}", b.scope_path, b.unit.as_str()).as_bytes()).into())[..16]),
        "tenant_id": tenant,
        "scope": b.scope_path,
        "scope_path": b.scope_path,
        "unit": b.unit.as_str(),
        "allocated": a(b.allocated),
        "remaining": a(b.remaining),
        "reserved": a(b.reserved),
        "spent": a(b.spent),
        "debt": a(b.debt),
        "overdraft_limit": a(b.overdraft_limit),
        "status": "ACTIVE",
    })
}

/// Where provisioned tenants and keys are kept, if anywhere.
#[derive(Debug, Clone, Default)]
pub struct Store {
    path: Option<PathBuf>,
}

impl Store {
    /// `tenants.json` in `directory`.
    pub fn in_directory(directory: &Path) -> Store {
        Store {
            path: Some(directory.join("tenants.json")),
        }
    }

    /// The tenants and keys saved, if any.
    pub fn load(&self) -> io::Result<(Vec<Tenant>, Vec<Key>)> {
        let Some(path) = &self.path else {
            return Ok(Default::default());
        };
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Default::default()),
            Err(e) => return Err(e),
        };
        let bad = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is damaged", path.display()),
            )
        };
        let doc: Value = serde_json::from_str(&text).map_err(|_| bad())?;
        let mut tenants = Vec::new();
        for t in doc["tenants"].as_array().ok_or_else(bad)? {
            tenants.push(Tenant {
                id: t["id"].as_str().ok_or_else(bad)?.to_string(),
                name: t["name"].as_str().ok_or_else(bad)?.to_string(),
                created_at_ms: t["created_at_ms"].as_i64().ok_or_else(bad)?,
            });
        }
        let mut keys = Vec::new();
        for k in doc["keys"].as_array().ok_or_else(bad)? {
            let tenant = k["tenant"].as_str().ok_or_else(bad)?;
            let key =
                Key::from_hex(k["sha256"].as_str().ok_or_else(bad)?, tenant).map_err(|_| bad())?;
            keys.push(key);
        }
        Ok((tenants, keys))
    }

    /// Saves `tenants` and `keys` (hashes only) atomically: a temporary file, synced, renamed.
    pub fn save(&self, tenants: &[Tenant], keys: &[Key]) -> io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let doc = json!({
            "tenants": tenants.iter().map(|t| json!({"id": t.id, "name": t.name, "created_at_ms": t.created_at_ms})).collect::<Vec<_>>(),
            "keys": keys.iter().map(|k| json!({"tenant": k.tenant, "sha256": hex(&k.hash)})).collect::<Vec<_>>(),
        });
        let tmp = path.with_extension("json.tmp");
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(doc.to_string().as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_of_known_moments() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_306_700_000), "2026-12-03T14:05:00Z");
    }
}
