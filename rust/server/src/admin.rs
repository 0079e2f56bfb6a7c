//! The admin API's provisioning subset, for the bearer of the admin key (`X-Admin-API-Key`):
//! tenants (create, list, get), API keys (create, with an optional expiry, the secret answered
//! once and kept only as its SHA-256; list; revoke), budgets (create, list), and funding
//! (CREDIT, DEBIT, RESET, REPAY_DEBT, RESET_SPENT). With a data directory, tenants and
//! keys are saved in `tenants.json` (written atomically) and budgets live in the durable ledger.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burnguard_core::ledger::{Adjustment, Balance, Unit};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::api::{refusal, Api};
use crate::keys::{hex, parse_rfc3339, Key, PERMISSIONS};
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

/// What the admin API made, as saved: tenants, keys, and when each budget was made (by
/// `scope|unit`).
#[derive(Debug, Clone, Default)]
pub struct Provisioned {
    /// The tenants.
    pub tenants: Vec<Tenant>,
    /// The keys (hashes only).
    pub keys: Vec<Key>,
    /// When each budget was made, by `scope|unit`.
    pub budgets: Vec<(String, i64)>,
    /// The version of a shared store this is (0 for a file, or nothing saved yet).
    pub version: u64,
}

/// What the admin API answers: a status and a JSON body, or a refusal.
type Answer = Result<(u16, Value), Refusal>;

/// `ms` since the epoch as RFC 3339 UTC (`2026-12-03T14:05:00Z`).
pub fn rfc3339(ms: i64) -> String {
    let (days, seconds) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000) / 1000);
    let (year, month, day) = burnguard_core::logs::civil_from_days(days);
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

impl Api {
    /// Whether `request` carries the admin key.
    fn is_admin(&self, secret: &str) -> bool {
        self.admin_hash()
            .is_some_and(|hash| crate::api::same(&hash, &Sha256::digest(secret.as_bytes()).into()))
    }

    /// Answers `/v1/admin/...` (`parts` after `admin`).
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
            ("GET", ["tenants"]) => self.list_tenants(request),
            ("GET", ["tenants", id]) => self
                .tenant(id)
                .map(|t| (200, tenant_json(&t)))
                .ok_or_else(|| Refusal::new(404, "TENANT_NOT_FOUND", format!("no tenant {id:?}"))),
            ("POST", ["api-keys"]) => self.create_key(&request.body, now),
            ("GET", ["api-keys"]) => self.list_keys(request, now),
            ("DELETE", ["api-keys", id]) => {
                let reason = request.param("reason").unwrap_or("");
                if reason.chars().count() > 512 {
                    return Err(Refusal::invalid("reason must be at most 512 characters"));
                }
                Ok((200, self.revoke_key(id, reason, now)?.json(now)))
            }
            ("POST", ["budgets"]) => self.create_budget(&request.body, now),
            ("GET", ["budgets"]) => self.list_budgets(request),
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
        if !self.add_tenant(tenant.clone())? {
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
        let expires_at_ms = match f.string("expires_at", 64)? {
            None => None,
            Some(text) => Some(parse_rfc3339(&text).filter(|&at| at > now).ok_or_else(|| {
                Refusal::invalid(format!(
                    "expires_at must be a future RFC 3339 UTC time like 2027-01-31T00:00:00Z; got {text:?}"
                ))
            })?),
        };
        let permissions = match f.take("permissions") {
            None => None,
            Some(Value::Array(given)) => {
                let mut held = Vec::with_capacity(given.len());
                for p in &given {
                    match p.as_str() {
                        Some(name) if PERMISSIONS.contains(&name) => held.push(name.to_string()),
                        _ => {
                            return Err(Refusal::invalid(format!(
                                "permissions must name the spec's permissions; got {p}"
                            )))
                        }
                    }
                }
                Some(held)
            }
            Some(_) => return Err(Refusal::invalid("permissions must be an array of strings")),
        };
        if f.take("scope_filter").is_some() {
            return Err(Refusal::invalid(
                "scope_filter is not supported here: a key acts on all of its tenant's scopes",
            ));
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
        let key = Key {
            name,
            prefix: secret[..13].to_string(),
            created_at_ms: now,
            expires_at_ms,
            permissions,
            ..Key::new(&secret, &tenant)
        };
        let mut answer = key.json(now);
        answer["key_secret"] = json!(secret);
        answer.as_object_mut().map(|o| o.remove("status"));
        self.add_saved_key(key)?;
        Ok((201, answer))
    }

    /// `GET /v1/admin/tenants`, with `status` and `search` (in the id or name).
    fn list_tenants(&self, request: &crate::http::Request) -> Answer {
        let status = request.param("status");
        let search = request.param("search").unwrap_or("");
        let mut tenants: Vec<Value> = self
            .tenants()
            .iter()
            .filter(|_| status.is_none_or(|s| s == "ACTIVE"))
            .filter(|t| t.id.contains(search) || t.name.contains(search))
            .map(tenant_json)
            .collect();
        tenants.sort_by(|a, b| a["tenant_id"].as_str().cmp(&b["tenant_id"].as_str()));
        page(request, "tenants", tenants)
    }

    /// `GET /v1/admin/api-keys`, with `tenant_id` and `status`.
    fn list_keys(&self, request: &crate::http::Request, now: i64) -> Answer {
        let status = request.param("status");
        if status.is_some_and(|s| !["ACTIVE", "REVOKED", "EXPIRED"].contains(&s)) {
            return Err(Refusal::invalid(
                "status must be ACTIVE, REVOKED or EXPIRED",
            ));
        }
        let keys = self.keys_of(request.param("tenant_id"), status, now);
        page(request, "keys", keys.iter().map(|k| k.json(now)).collect())
    }

    /// `GET /v1/admin/budgets`, with `tenant_id`, `scope_prefix`, `unit`, `over_limit` and
    /// `has_debt`.
    fn list_budgets(&self, request: &crate::http::Request) -> Answer {
        let unit = match request.param("unit") {
            Some(u) => Some(wire::unit(Value::String(u.to_string()), "unit")?),
            None => None,
        };
        let flag = |name: &str| match request.param(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(Refusal::invalid(format!(
                "{name} must be true or false; got {other:?}"
            ))),
        };
        let (over_limit, has_debt) = (flag("over_limit")?, flag("has_debt")?);
        let prefix = request
            .param("tenant_id")
            .map(|t| format!("tenant:{t}"))
            .unwrap_or_default();
        let balances = self
            .ledger
            .balances(crate::api::now_ms(), &prefix)
            .map_err(refusal)?;
        let scope_prefix = request.param("scope_prefix").unwrap_or("");
        let ledgers = balances
            .iter()
            .filter(|b| b.scope_path.starts_with(scope_prefix))
            .filter(|b| unit.is_none_or(|u| b.unit == u))
            .filter(|b| over_limit.is_none_or(|o| b.is_over_limit == o))
            .filter(|b| has_debt.is_none_or(|d| (b.debt > 0) == d))
            .map(|b| {
                let owner = b.scope_path.split('/').next().unwrap_or("");
                self.ledger_json(b, owner.strip_prefix("tenant:").unwrap_or(owner))
            })
            .collect();
        page(request, "ledgers", ledgers)
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
        // The budget is made either way; a failed save only loses when it was made.
        let _ = self.provision(|p| {
            p.budgets.push((budget_key(&scope, unit), now));
            Ok(())
        });
        let b = self.balance(&scope, unit)?.ok_or_else(|| {
            Refusal::new(500, "INTERNAL_ERROR", "the budget set is not in the ledger")
        })?;
        Ok((201, self.ledger_json(&b, owner)))
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

    /// Funds a budget. With an `idempotency_key`, a retried funding replays the first answer
    /// and is applied once (the core keeps the key with the figures before and after).
    fn fund_budget(&self, request: &crate::http::Request, now: i64) -> Answer {
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
        // The key from the body or X-Idempotency-Key (they must agree), as the runtime API's.
        let key = match (
            f.string("idempotency_key", 256)?,
            request.header("x-idempotency-key"),
        ) {
            (Some(b), Some(h)) if b != h => {
                return Err(Refusal::invalid(
                    "X-Idempotency-Key and the body's idempotency_key must match",
                ))
            }
            (Some(b), _) => Some(b),
            (None, h) => h.map(str::to_string),
        };
        if key.as_deref() == Some("") {
            return Err(Refusal::invalid("idempotency_key must not be empty"));
        }
        f.take("metadata");
        f.done()?;
        let adjustment = match operation.as_str() {
            "CREDIT" => None,
            other => Some(other.parse::<Adjustment>().map_err(|_| {
                Refusal::invalid(format!(
                    "operation must be one of CREDIT, DEBIT, RESET, REPAY_DEBT, RESET_SPENT; got {operation:?}"
                ))
            })?),
        };
        let funded = self
            .ledger
            .funding(
                now,
                key.as_deref(),
                &scope,
                unit,
                adjustment,
                (amount, spent),
            )
            .map_err(refusal)?;
        let (before, after) = (funded.before, funded.after);
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

/// One page of `items` under `field`: `limit` (1 to 1,000, default 50) of them from `cursor`
/// (an offset this server gave as `next_cursor`).
fn page(request: &crate::http::Request, field: &str, items: Vec<Value>) -> Answer {
    let number = |name: &str, default: usize, max: usize| match request.param(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| {
                Refusal::invalid(format!(
                    "{name} must be an integer in [0, {max}]; got {v:?}"
                ))
            }),
    };
    let limit = number("limit", 50, 1000)?.max(1);
    let start = number("cursor", 0, usize::MAX)?.min(items.len());
    let end = (start + limit).min(items.len());
    let mut body = json!({ field: items[start..end].to_vec(), "has_more": end < items.len() });
    if end < items.len() {
        body["next_cursor"] = json!(end.to_string());
    }
    Ok((200, body))
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

fn budget_key(scope: &str, unit: Unit) -> String {
    format!("{scope}|{}", unit.as_str())
}

impl Api {
    /// The admin API's `BudgetLedger` of `b`: made when the admin API made it, or (set from
    /// the config file, or before this version) when this server started.
    fn ledger_json(&self, b: &Balance, tenant: &str) -> Value {
        let key = budget_key(&b.scope_path, b.unit);
        let made = self
            .provisioned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .budgets
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(self.started_ms, |&(_, at)| at);
        let mut out = balance_json(b, tenant);
        out["created_at"] = json!(rfc3339(made));
        out
    }
}

fn balance_json(b: &Balance, tenant: &str) -> Value {
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

/// A store several servers share (Redis, for servers of one fleet ledger): the provisioned
/// document and its version, saved only over the version it was read at.
pub trait SharedStore: Send + Sync {
    /// The document and its version (0 and None before anything was saved).
    fn load(&self) -> io::Result<(u64, Option<String>)>;
    /// Saves `doc` as the version after `version`; false if another server saved since.
    fn save(&self, version: u64, doc: &str) -> io::Result<bool>;
}

/// Where provisioned tenants and keys are kept, if anywhere.
#[derive(Clone, Default)]
pub struct Store {
    path: Option<PathBuf>,
    shared: Option<Arc<dyn SharedStore>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

impl Store {
    /// `tenants.json` in `directory`.
    pub fn in_directory(directory: &Path) -> Store {
        Store {
            path: Some(directory.join("tenants.json")),
            shared: None,
        }
    }

    /// A store shared with other servers.
    pub fn shared(store: Arc<dyn SharedStore>) -> Store {
        Store {
            path: None,
            shared: Some(store),
        }
    }

    /// Whether other servers may save to it too (so what is loaded can change).
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// What was saved, if anything, with its version.
    pub fn load(&self) -> io::Result<Provisioned> {
        if let Some(shared) = &self.shared {
            let (version, doc) = shared.load()?;
            let provisioned = match doc {
                Some(doc) => decode(&doc, "the shared tenants")?,
                None => Provisioned::default(),
            };
            return Ok(Provisioned {
                version,
                ..provisioned
            });
        }
        let Some(path) = &self.path else {
            return Ok(Default::default());
        };
        match fs::read_to_string(path) {
            Ok(text) => decode(&text, &path.display().to_string()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Default::default()),
            Err(e) => Err(e),
        }
    }

    /// Saves `provisioned` (keys as hashes only) over its version: a file atomically (a
    /// temporary file, synced, renamed); a shared store unless another server saved since
    /// (false).
    pub fn save(&self, provisioned: &Provisioned) -> io::Result<bool> {
        if let Some(shared) = &self.shared {
            return shared.save(provisioned.version, &encode(provisioned));
        }
        let Some(path) = &self.path else {
            return Ok(true);
        };
        let tmp = path.with_extension("json.tmp");
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(encode(provisioned).as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(true)
    }
}

/// The provisioned document `text` (from `origin`, named in errors).
fn decode(text: &str, origin: &str) -> io::Result<Provisioned> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("{origin} is damaged"));
    let doc: Value = serde_json::from_str(text).map_err(|_| bad())?;
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
        // Files of an earlier version hold only the tenant and the hash.
        let text = |field: &str| k[field].as_str().unwrap_or_default().to_string();
        keys.push(Key {
            name: text("name"),
            prefix: text("prefix"),
            created_at_ms: k["created_at_ms"].as_i64().unwrap_or(0),
            expires_at_ms: k["expires_at_ms"].as_i64(),
            revoked: k["revoked_at_ms"]
                .as_i64()
                .map(|at| (at, text("revoked_reason"))),
            permissions: match &k["permissions"] {
                Value::Null => None, // the default set
                Value::Array(names) => Some(
                    names
                        .iter()
                        .map(|n| {
                            n.as_str()
                                .filter(|n| PERMISSIONS.contains(n))
                                .map(str::to_string)
                                .ok_or_else(bad)
                        })
                        .collect::<io::Result<_>>()?,
                ),
                _ => return Err(bad()),
            },
            ..key
        });
    }
    // Files of an earlier version hold no budgets.
    let budgets = doc["budgets"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|b| {
                    Some((
                        b["budget"].as_str()?.to_string(),
                        b["created_at_ms"].as_i64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Provisioned {
        tenants,
        keys,
        budgets,
        version: 0,
    })
}

/// The document of `provisioned` (keys as hashes only).
fn encode(provisioned: &Provisioned) -> String {
    let Provisioned {
        tenants,
        keys,
        budgets,
        ..
    } = provisioned;
    json!({
        "tenants": tenants.iter().map(|t| json!({"id": t.id, "name": t.name, "created_at_ms": t.created_at_ms})).collect::<Vec<_>>(),
        "keys": keys.iter().map(|k| {
            let mut saved = json!({
                "tenant": k.tenant, "sha256": hex(&k.hash), "name": k.name, "prefix": k.prefix,
                "created_at_ms": k.created_at_ms,
            });
            if let Some(at) = k.expires_at_ms {
                saved["expires_at_ms"] = json!(at);
            }
            if let Some((at, reason)) = &k.revoked {
                saved["revoked_at_ms"] = json!(at);
                saved["revoked_reason"] = json!(reason);
            }
            if let Some(permissions) = &k.permissions {
                saved["permissions"] = json!(permissions);
            }
            saved
        }).collect::<Vec<_>>(),
        "budgets": budgets.iter().map(|(b, at)| json!({"budget": b, "created_at_ms": at})).collect::<Vec<_>>(),
    })
    .to_string()
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
