//! The Cycles runtime API over the core's ledger: routing, authentication by API key, tenant
//! checks, idempotency per (tenant, endpoint, key), and the spec's answers and error bodies.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Instant;

use burnguard_core::ledger::{
    Decision, Ledger, LedgerError, Overage, Reservation, ReserveRequest, Subject, Unit, Verdict,
    LEVELS,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::admin::{Provisioned, Store, Tenant};
use crate::http::{Request, Response};
use crate::keys::Key;
use crate::limit::RateLimit;
use crate::listing::Listing;
use crate::metrics::{self, Metrics};
use crate::wire::{self, Fields, Refusal};

/// The runtime API's state: the ledger and the keys.
pub struct Api {
    /// The budgets and reservations.
    pub ledger: Ledger,
    pub(crate) keys: RwLock<Vec<Key>>,
    admin: RwLock<Option<[u8; 32]>>,
    /// Tenants and keys made through the admin API, and where they are saved.
    pub(crate) provisioned: Mutex<Provisioned>,
    pub(crate) store: Store,
    metrics: Metrics,
    requests: AtomicU64,
    /// Reservations' default TTL and grace, as the spec states them.
    defaults: (i64, i64),
    /// Requests a second per tenant, if limited.
    limit: Option<RateLimit>,
    /// When it started (ms since the epoch): the creation time shown for budgets it did not
    /// make through the admin API.
    pub(crate) started_ms: i64,
}

/// What a handler answers: a status and a JSON body, or a refusal.
type Answer = Result<(u16, Value), Refusal>;

pub(crate) fn now_ms() -> i64 {
    (burnguard_core::clock::wall() * 1000.0) as i64
}

impl Api {
    /// An API over `ledger` with `keys`.
    pub fn new(ledger: Ledger, keys: Vec<Key>) -> Api {
        Api {
            ledger,
            keys: RwLock::new(keys),
            admin: RwLock::new(None),
            provisioned: Mutex::new(Default::default()),
            store: Store::default(),
            metrics: Metrics::default(),
            requests: AtomicU64::new(0),
            defaults: (60_000, 5_000),
            limit: None,
            started_ms: now_ms(),
        }
    }

    /// The same API, answering at most `per_second` runtime requests a second per tenant
    /// (see [`crate::limit`]).
    pub fn with_rate_limit(self, per_second: u64) -> Api {
        Api {
            limit: Some(RateLimit::new(per_second)),
            ..self
        }
    }

    /// The same API, keeping what the admin API provisions in `store` (and loading what it
    /// kept before).
    pub fn with_store(self, store: Store) -> std::io::Result<Api> {
        let provisioned = store.load()?;
        let mut held = self.provisioned.lock().unwrap_or_else(|e| e.into_inner());
        self.adopt(&mut held, provisioned);
        drop(held);
        Ok(Api { store, ..self })
    }

    /// Every tenant: provisioned ones, and those a key acts for.
    pub(crate) fn tenants(&self) -> Vec<Tenant> {
        let mut tenants = self
            .provisioned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .tenants
            .clone();
        for key in self.keys.read().unwrap_or_else(|e| e.into_inner()).iter() {
            if !tenants.iter().any(|t| t.id == key.tenant) {
                tenants.push(Tenant {
                    id: key.tenant.clone(),
                    name: key.tenant.clone(),
                    created_at_ms: 0,
                });
            }
        }
        tenants
    }

    /// Makes `change` to what the admin API provisioned, and saves it: applied to a copy,
    /// which replaces the provisioned state once saved. With a shared store, a save that finds
    /// another server's saved first catches up with it and makes the change again (so the
    /// change's own checks, a duplicate's say, see what the others made).
    pub(crate) fn provision<T>(
        &self,
        mut change: impl FnMut(&mut Provisioned) -> Result<T, Refusal>,
    ) -> Result<T, Refusal> {
        let saving = |e: std::io::Error| {
            Refusal::new(
                500,
                "INTERNAL_ERROR",
                format!("could not save the tenants: {e}"),
            )
        };
        let mut provisioned = self.provisioned.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let mut next = provisioned.clone();
            let answer = change(&mut next)?;
            if self.store.save(&next).map_err(saving)? {
                next.version += u64::from(self.store.is_shared());
                self.adopt(&mut provisioned, next);
                return Ok(answer);
            }
            let latest = self.store.load().map_err(saving)?;
            if latest.version < provisioned.version {
                provisioned.version = latest.version; // lost in the store: seed it with ours
            } else {
                self.adopt(&mut provisioned, latest);
            }
        }
    }

    /// Catches up with what other servers saved to a shared store (nothing for another). A
    /// store found behind this server (Redis restarted empty, or from an old copy) is seeded
    /// again with what this server holds, as the fleet ledger's hosts seed theirs.
    pub fn refresh_provisioned(&self) -> std::io::Result<()> {
        if !self.store.is_shared() {
            return Ok(());
        }
        let latest = self.store.load()?;
        let mut provisioned = self.provisioned.lock().unwrap_or_else(|e| e.into_inner());
        if latest.version > provisioned.version {
            self.adopt(&mut provisioned, latest);
        } else if latest.version < provisioned.version {
            let seed = Provisioned {
                version: latest.version,
                ..provisioned.clone()
            };
            if self.store.save(&seed)? {
                provisioned.version = latest.version + 1;
            }
        }
        Ok(())
    }

    /// Makes `next` the provisioned state, its keys replacing the previous state's among the
    /// keys that act (those of the config file stay).
    fn adopt(&self, provisioned: &mut Provisioned, next: Provisioned) {
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        keys.retain(|k| !provisioned.keys.iter().any(|p| p.hash == k.hash));
        keys.extend(next.keys.iter().cloned());
        *provisioned = next;
    }

    /// Adds and saves `tenant`; false if one with its id exists.
    pub(crate) fn add_tenant(&self, tenant: Tenant) -> Result<bool, Refusal> {
        let of_keys: Vec<String> = self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|k| k.tenant.clone())
            .collect();
        self.provision(|p| {
            let exists =
                p.tenants.iter().any(|t| t.id == tenant.id) || of_keys.contains(&tenant.id);
            if !exists {
                p.tenants.push(tenant.clone());
            }
            Ok(!exists)
        })
    }

    /// The admin key's SHA-256, if one is set.
    pub(crate) fn admin_hash(&self) -> Option<[u8; 32]> {
        *self.admin.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers one request.
    pub fn handle(&self, request: &Request) -> Response {
        let started = Instant::now();
        let response = if request.path == "/metrics" {
            self.metrics_page(request)
        } else {
            self.answer(request)
        };
        let operation = metrics::operation(operation_of(&request.method, &request.path));
        let seconds = started.elapsed().as_secs_f64();
        self.metrics.record(operation, response.status, seconds);
        response
    }

    /// `GET /metrics`, for the bearer of the admin key (it shows every tenant's budgets).
    fn metrics_page(&self, request: &Request) -> Response {
        let given = request
            .header("x-admin-api-key")
            .or_else(|| {
                request
                    .header("authorization")
                    .map(|a| a.trim_start_matches("Bearer ").trim())
            })
            .unwrap_or("");
        let admin = *self.admin.read().unwrap_or_else(|e| e.into_inner());
        let allowed =
            admin.is_some_and(|hash| same(&hash, &Sha256::digest(given.as_bytes()).into()));
        if !allowed {
            let refusal = Refusal::new(
                401,
                "UNAUTHORIZED",
                "/metrics needs the admin key (ADMIN_API_KEY)",
            );
            return self.refused(refusal, "req_metrics".into(), Vec::new());
        }
        let balances = self.ledger.balances(now_ms(), "").unwrap_or_default();
        Response {
            status: 200,
            headers: vec![(
                "Content-Type".into(),
                "text/plain; version=0.0.4; charset=utf-8".into(),
            )],
            body: self.metrics.render(&balances).into_bytes(),
        }
    }

    /// Sets the admin key (kept as its SHA-256), which `/metrics` requires.
    pub fn set_admin_key(&self, secret: &str) {
        *self.admin.write().unwrap_or_else(|e| e.into_inner()) =
            Some(Sha256::digest(secret.as_bytes()).into());
    }

    fn refused(&self, refusal: Refusal, id: String, headers: Vec<(String, String)>) -> Response {
        let mut body = json!({"error": refusal.code, "message": refusal.message, "request_id": id});
        if let Some(details) = refusal.details {
            body["details"] = details;
        }
        let mut headers = headers;
        headers.insert(0, ("Content-Type".into(), "application/json".into()));
        Response {
            status: refusal.status,
            headers,
            body: body.to_string().into_bytes(),
        }
    }

    fn answer(&self, request: &Request) -> Response {
        let id = format!("req_{:016x}", self.requests.fetch_add(1, Ordering::Relaxed));
        let mut headers = vec![("X-Request-Id".to_string(), id.clone())];
        match self.route(request, &mut headers) {
            Ok((status, body)) => {
                headers.insert(0, ("Content-Type".into(), "application/json".into()));
                Response {
                    status,
                    headers,
                    body: body.to_string().into_bytes(),
                }
            }
            Err(refusal) => self.refused(refusal, id, headers),
        }
    }

    fn route(&self, request: &Request, headers: &mut Vec<(String, String)>) -> Answer {
        let path = request.path.trim_end_matches('/');
        let method = request.method.as_str();
        if path.starts_with("/actuator/health") {
            return match method {
                "GET" | "HEAD" => Ok((200, json!({"status": "UP"}))),
                _ => Err(not_allowed(method, path)),
            };
        }
        if let Some(rest) = path.strip_prefix("/v1/admin/") {
            let parts: Vec<&str> = rest.split('/').collect();
            return self.admin(method, &parts, request);
        }
        if !path.starts_with("/v1/") {
            return Err(Refusal::new(
                404,
                "NOT_FOUND",
                format!("no endpoint {path}"),
            ));
        }
        let secret = request.header("x-cycles-api-key").unwrap_or("");
        let now = now_ms();
        let parts: Vec<&str> = path.split('/').skip(2).collect();
        let finishing = method == "POST"
            && matches!(parts.as_slice(), ["reservations", _, "commit" | "release"]);
        let Some(key) = self.key_of(secret, now, finishing) else {
            return Err(Refusal::new(
                401,
                "UNAUTHORIZED",
                "a valid X-Cycles-API-Key header is required",
            ));
        };
        let tenant = key.tenant.clone();
        if let Some(needed) = permission_of(method, &parts) {
            if !key.allows(needed) {
                headers.push(("X-Cycles-Tenant".to_string(), tenant));
                return Err(Refusal::new(
                    403,
                    "FORBIDDEN",
                    format!("the API key lacks the {needed} permission"),
                ));
            }
        }
        headers.push(("X-Cycles-Tenant".to_string(), tenant.clone()));
        if let Some(limit) = &self.limit {
            let admission = limit.admit(&tenant, now);
            headers.extend(admission.headers());
            if !admission.allowed {
                return Err(Refusal::new(
                    429,
                    "LIMIT_EXCEEDED",
                    "the tenant's requests a second are exhausted; retry after Retry-After seconds",
                ));
            }
        }
        let call = Call {
            api: self,
            request,
            tenant: &tenant,
            now,
        };
        match (method, parts.as_slice()) {
            ("POST", ["reservations"]) => call.reserve(),
            ("GET", ["reservations"]) => call.list(),
            ("GET", ["reservations", id]) => call.get(id),
            ("POST", ["reservations", id, "commit"]) => call.commit(id),
            ("POST", ["reservations", id, "release"]) => call.release(id),
            ("POST", ["reservations", id, "extend"]) => call.extend(id),
            ("POST", ["decide"]) => call.decide(),
            ("POST", ["events"]) => call.event(),
            ("GET", ["balances"]) => call.balances(),
            (
                _,
                ["reservations"] | ["reservations", _] | ["decide"] | ["events"] | ["balances"],
            )
            | (_, ["reservations", _, "commit" | "release" | "extend"]) => {
                Err(not_allowed(method, path))
            }
            _ => Err(Refusal::new(
                404,
                "NOT_FOUND",
                format!("no endpoint {path}"),
            )),
        }
    }
}

/// The permission a runtime operation needs (None: not an operation; answered 404 or 405).
/// A decision evaluates a reservation and an event is a charge without one, so they need
/// `reservations:create` and `reservations:commit`.
fn permission_of(method: &str, parts: &[&str]) -> Option<&'static str> {
    Some(match (method, parts) {
        ("POST", ["reservations"] | ["decide"]) => "reservations:create",
        ("POST", ["reservations", _, "commit"] | ["events"]) => "reservations:commit",
        ("POST", ["reservations", _, "release"]) => "reservations:release",
        ("POST", ["reservations", _, "extend"]) => "reservations:extend",
        ("GET", ["reservations"] | ["reservations", _]) => "reservations:list",
        ("GET", ["balances"]) => "balances:read",
        _ => return None,
    })
}

/// Whether two hashes are equal, in time that does not depend on where they differ.
pub(crate) fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The operation a request is counted under (see [`metrics::OPERATIONS`]).
fn operation_of(method: &str, path: &str) -> &'static str {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match (method, parts.as_slice()) {
        (_, ["actuator", ..]) => "health",
        ("POST", ["v1", "reservations"]) => "reserve",
        ("GET", ["v1", "reservations"]) => "list",
        ("GET", ["v1", "reservations", _]) => "get",
        ("POST", ["v1", "reservations", _, "commit"]) => "commit",
        ("POST", ["v1", "reservations", _, "release"]) => "release",
        ("POST", ["v1", "reservations", _, "extend"]) => "extend",
        ("POST", ["v1", "decide"]) => "decide",
        ("POST", ["v1", "events"]) => "event",
        ("GET", ["v1", "balances"]) => "balances",
        _ => "other",
    }
}

fn not_allowed(method: &str, path: &str) -> Refusal {
    Refusal::new(
        405,
        "INVALID_REQUEST",
        format!("{method} is not served on {path}"),
    )
}

/// The HTTP status of a ledger error.
pub fn status_of(error: &LedgerError) -> u16 {
    match error {
        LedgerError::Invalid(_) | LedgerError::UnitMismatch { .. } => 400,
        LedgerError::BudgetNotFound { .. } | LedgerError::NotFound { .. } => 404,
        LedgerError::ReservationExpired { .. } => 410,
        LedgerError::BudgetExceeded { .. }
        | LedgerError::OverdraftLimitExceeded { .. }
        | LedgerError::DebtOutstanding { .. }
        | LedgerError::ReservationFinalized { .. }
        | LedgerError::IdempotencyMismatch { .. } => 409,
        // The spec's fail-closed answer: 500 INTERNAL_ERROR (Redis unreachable included).
        LedgerError::Full { .. } | LedgerError::Shared { .. } | LedgerError::Unavailable { .. } => {
            500
        }
    }
}

pub(crate) fn refusal(error: LedgerError) -> Refusal {
    let mut refusal = Refusal::new(status_of(&error), error.code(), error.to_string());
    if let LedgerError::UnitMismatch { expected, got } = &error {
        refusal.details =
            Some(json!({"requested_unit": got.as_str(), "expected_units": [expected.as_str()]}));
    }
    refusal
}

/// One authenticated request.
struct Call<'a> {
    api: &'a Api,
    request: &'a Request,
    tenant: &'a str,
    now: i64,
}

impl Call<'_> {
    /// The body, and its idempotency key (body field or header; they must agree).
    fn body(&self) -> Result<(Fields, String), Refusal> {
        let mut fields = wire::body(&self.request.body)?;
        let in_body = fields.string("idempotency_key", 256)?;
        let in_header = self.request.header("x-idempotency-key");
        let key = match (in_body, in_header) {
            (Some(b), Some(h)) if b != h => {
                return Err(Refusal::invalid(
                    "X-Idempotency-Key and the body's idempotency_key must match",
                ))
            }
            (Some(b), _) => b,
            (None, Some(h)) => h.to_string(),
            (None, None) => return Err(Refusal::invalid("idempotency_key is required")),
        };
        if key.is_empty() {
            return Err(Refusal::invalid(
                "idempotency_key must be 1 to 256 characters",
            ));
        }
        Ok((fields, key))
    }

    /// The key the ledger keeps: scoped to the tenant and the endpoint.
    fn scoped(&self, endpoint: &str, key: &str) -> String {
        let scoped = format!("{}\u{1f}{endpoint}\u{1f}{key}", self.tenant);
        if scoped.chars().count() <= 256 {
            scoped
        } else {
            format!("{:x}", Sha256::digest(scoped.as_bytes()))
        }
    }

    fn own(&self, subject: &Subject) -> Result<(), Refusal> {
        match &subject.levels[0] {
            Some(t) if t == self.tenant => Ok(()),
            Some(t) => Err(Refusal::new(
                403,
                "FORBIDDEN",
                format!("subject.tenant {t:?} is not the API key's tenant"),
            )),
            None => Err(Refusal::new(
                403,
                "FORBIDDEN",
                "subject.tenant is required and must be the API key's tenant",
            )),
        }
    }

    fn reserve(&self) -> Answer {
        let (mut f, key) = self.body()?;
        let subject = wire::subject(f.required("subject")?, "subject")?;
        let action = wire::action(f.required("action")?, "action")?;
        let (unit, estimate) = wire::amount(f.required("estimate")?, "estimate")?;
        let ttl_ms = f
            .integer("ttl_ms", 1_000, 86_400_000)?
            .unwrap_or(self.api.defaults.0);
        let grace = f
            .integer("grace_period_ms", 0, 60_000)?
            .unwrap_or(self.api.defaults.1);
        let overage = overage(&mut f)?;
        let dry_run = f.boolean("dry_run")?.unwrap_or(false);
        f.take("metadata");
        f.done()?;
        self.own(&subject)?;
        let request = ReserveRequest {
            subject,
            action,
            unit,
            estimate,
            ttl_ms,
            grace_period_ms: grace,
            overage,
            dry_run,
        };
        let key = self.scoped("reserve", &key);
        let verdict = self
            .api
            .ledger
            .reserve(self.now, Some(&key), request)
            .map_err(refusal)?;
        Ok((200, self.verdict_json(&verdict, unit, dry_run)))
    }

    fn verdict_json(&self, v: &Verdict, unit: Unit, evaluation: bool) -> Value {
        let mut out = json!({
            "decision": v.decision.as_str(),
            "affected_scopes": v.affected_scopes,
            "scope_path": v.scope_path,
        });
        if let Some(id) = &v.reservation_id {
            out["reservation_id"] = json!(id);
            out["reserved"] = wire::amount_json(unit, v.reserved);
        }
        if let Some(expires) = v.expires_at_ms {
            if !evaluation && v.decision != Decision::Deny {
                out["expires_at_ms"] = json!(expires);
                out["remaining_ttl_ms"] = json!((expires - self.now).max(0));
            }
        }
        if let (Decision::AllowWithCaps, Some(caps)) = (v.decision, &v.caps) {
            out["caps"] = wire::caps_json(caps);
        }
        if let Some(reason) = v.reason_code() {
            out["reason_code"] = json!(reason);
        }
        out
    }

    fn decide(&self) -> Answer {
        let (mut f, key) = self.body()?;
        let subject = wire::subject(f.required("subject")?, "subject")?;
        let action = wire::action(f.required("action")?, "action")?;
        let (unit, estimate) = wire::amount(f.required("estimate")?, "estimate")?;
        f.take("metadata");
        f.done()?;
        self.own(&subject)?;
        let key = self.scoped("decide", &key);
        let v = self
            .api
            .ledger
            .decide(self.now, Some(&key), &subject, &action, unit, estimate)
            .map_err(refusal)?;
        let mut out =
            json!({"decision": v.decision.as_str(), "affected_scopes": v.affected_scopes});
        if let (Decision::AllowWithCaps, Some(caps)) = (v.decision, &v.caps) {
            out["caps"] = wire::caps_json(caps);
        }
        if let Some(reason) = v.reason_code() {
            out["reason_code"] = json!(reason);
        }
        Ok((200, out))
    }

    /// Reservation `id` and its scopes, if the tenant owns it (403 if another does, 404 if
    /// there is none).
    fn owned(&self, id: &str) -> Result<(Reservation, Vec<String>), Refusal> {
        match self.api.ledger.reservation(id).map_err(refusal)? {
            None => Err(Refusal::new(
                404,
                "NOT_FOUND",
                format!("no reservation {id}"),
            )),
            Some(found) => self.own(&found.0.subject).map(|()| found),
        }
    }

    fn commit(&self, id: &str) -> Answer {
        let (mut f, key) = self.body()?;
        let (unit, actual) = wire::amount(f.required("actual")?, "actual")?;
        f.take("metrics");
        f.take("metadata");
        f.done()?;
        self.owned(id)?;
        let key = self.scoped("commit", &key);
        let c = self
            .api
            .ledger
            .commit(self.now, Some(&key), id, Some(unit), actual)
            .map_err(refusal)?;
        let mut out = json!({"status": "COMMITTED", "charged": wire::amount_json(unit, c.charged)});
        out["released"] = wire::amount_json(unit, c.released);
        Ok((200, out))
    }

    fn release(&self, id: &str) -> Answer {
        let (mut f, key) = self.body()?;
        f.string("reason", 256)?;
        f.done()?;
        let unit = self.owned(id)?.0.unit;
        let key = self.scoped("release", &key);
        let released = self
            .api
            .ledger
            .release(self.now, Some(&key), id)
            .map_err(refusal)?;
        Ok((
            200,
            json!({"status": "RELEASED", "released": wire::amount_json(unit, released)}),
        ))
    }

    fn extend(&self, id: &str) -> Answer {
        let (mut f, key) = self.body()?;
        let by = f
            .integer("extend_by_ms", 1, 86_400_000)?
            .ok_or_else(|| Refusal::invalid("extend_by_ms is required"))?;
        f.take("metadata");
        f.done()?;
        self.owned(id)?;
        let key = self.scoped("extend", &key);
        let expires = self
            .api
            .ledger
            .extend(self.now, Some(&key), id, by)
            .map_err(refusal)?;
        Ok((
            200,
            json!({"status": "ACTIVE", "expires_at_ms": expires, "remaining_ttl_ms": (expires - self.now).max(0)}),
        ))
    }

    fn event(&self) -> Answer {
        let (mut f, key) = self.body()?;
        let subject = wire::subject(f.required("subject")?, "subject")?;
        let action = wire::action(f.required("action")?, "action")?;
        let (unit, actual) = wire::amount(f.required("actual")?, "actual")?;
        let overage = overage(&mut f)?;
        f.integer("client_time_ms", 0, i64::MAX)?;
        f.take("metrics");
        f.take("metadata");
        f.done()?;
        self.own(&subject)?;
        let key = self.scoped("event", &key);
        let d = self
            .api
            .ledger
            .event(
                self.now,
                Some(&key),
                &subject,
                &action,
                unit,
                actual,
                overage,
            )
            .map_err(refusal)?;
        let mut out = json!({"status": "APPLIED", "event_id": d.event_id});
        if d.charged != actual {
            out["charged"] = wire::amount_json(unit, d.charged);
        }
        Ok((201, out))
    }

    /// The subject filter of a list or balance query: the scope prefix it selects.
    fn filter(&self) -> Result<String, Refusal> {
        let mut subject = Subject::default();
        for (slot, level) in subject.levels.iter_mut().zip(LEVELS) {
            *slot = self.request.param(level).map(str::to_string);
        }
        match &subject.levels[0] {
            Some(t) if t != self.tenant => {
                return Err(Refusal::new(
                    403,
                    "FORBIDDEN",
                    format!("tenant {t:?} is not the API key's tenant"),
                ))
            }
            _ => subject.levels[0] = Some(self.tenant.to_string()),
        }
        Ok(subject.scope_path())
    }

    fn balances(&self) -> Answer {
        let prefix = self.filter()?;
        let balances = self
            .api
            .ledger
            .balances(self.now, &prefix)
            .map_err(refusal)?;
        let items: Vec<Value> = balances
            .iter()
            .filter(|b| b.scope_path == prefix || b.scope_path.starts_with(&format!("{prefix}/")))
            .map(wire::balance_json)
            .collect();
        Ok((200, json!({"balances": items, "has_more": false})))
    }

    fn get(&self, id: &str) -> Answer {
        let (r, scopes) = self.owned(id)?;
        Ok((200, self.detail(&r, &scopes)))
    }

    fn detail(&self, r: &Reservation, scopes: &[String]) -> Value {
        let mut out = wire::reservation_json(r, scopes);
        match r
            .idempotency_key
            .as_deref()
            .and_then(|k| k.rsplit('\u{1f}').next())
        {
            Some(client) if r.idempotency_key.as_deref() != Some(client) => {
                out["idempotency_key"] = json!(client)
            }
            _ => {
                if let Some(map) = out.as_object_mut() {
                    map.remove("idempotency_key");
                }
            }
        }
        out
    }

    fn list(&self) -> Answer {
        let prefix = self.filter()?;
        let listing = Listing::parse(self.request, &prefix)?;
        let all = self
            .api
            .ledger
            .reservations(self.now, listing.status(), &prefix)
            .map_err(refusal)?;
        let (rows, next) = listing.page(&all);
        let items: Vec<Value> = rows.iter().map(|(r, s)| self.detail(r, s)).collect();
        let mut body = json!({"reservations": items, "has_more": next.is_some()});
        if let Some(cursor) = next {
            body["next_cursor"] = json!(cursor);
        }
        Ok((200, body))
    }
}

fn overage(f: &mut Fields) -> Result<Overage, Refusal> {
    match f.take("overage_policy") {
        None => Ok(Overage::AllowIfAvailable),
        Some(Value::String(s)) => s
            .parse::<Overage>()
            .map_err(|e| Refusal::invalid(e.to_string())),
        Some(_) => Err(Refusal::invalid("overage_policy must be a string")),
    }
}
