//! The protocol's JSON: reading requests field by field (a wrong type, an unknown field or a
//! bad value is a 400 naming the field) and writing the core's answers in the spec's shapes,
//! with no nulls.

use burnguard_core::ledger::{Action, Balance, Caps, Reservation, Subject, Unit, LEVELS};
use serde_json::{json, Map, Value};

/// A request the server refuses: the status, the protocol's error code and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// The protocol's error code.
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
    /// The error body's `details`, if any.
    pub details: Option<Value>,
}

impl Refusal {
    /// A 400 INVALID_REQUEST.
    pub fn invalid(message: impl Into<String>) -> Self {
        Refusal::new(400, "INVALID_REQUEST", message)
    }

    /// Any refusal.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }
}

/// A JSON object being read: each field is taken once; what is left over is unknown.
pub struct Fields {
    path: String,
    map: Map<String, Value>,
}

impl Fields {
    /// The object `value` at `path` (`""` for the body).
    pub fn of(value: Value, path: &str) -> Result<Self, Refusal> {
        match value {
            Value::Object(map) => Ok(Fields {
                path: path.to_string(),
                map,
            }),
            other => Err(Refusal::invalid(format!(
                "{} must be an object; got {}",
                if path.is_empty() { "the body" } else { path },
                kind(&other)
            ))),
        }
    }

    /// The full name of field `name`.
    pub fn name(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// Takes field `name`, if present and not null.
    pub fn take(&mut self, name: &str) -> Option<Value> {
        self.map.remove(name).filter(|v| !v.is_null())
    }

    /// Takes required field `name`.
    pub fn required(&mut self, name: &str) -> Result<Value, Refusal> {
        self.take(name)
            .ok_or_else(|| Refusal::invalid(format!("{} is required", self.name(name))))
    }

    /// An optional string field of at most `max` characters.
    pub fn string(&mut self, name: &str, max: usize) -> Result<Option<String>, Refusal> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s)),
            Some(Value::String(_)) => Err(Refusal::invalid(format!(
                "{} must be at most {max} characters",
                self.name(name)
            ))),
            Some(other) => Err(self.wrong(name, "a string", &other)),
        }
    }

    /// A required string field of at most `max` characters.
    pub fn required_string(&mut self, name: &str, max: usize) -> Result<String, Refusal> {
        self.string(name, max)?
            .ok_or_else(|| Refusal::invalid(format!("{} is required", self.name(name))))
    }

    /// An optional integer field in `min..=max`.
    pub fn integer(&mut self, name: &str, min: i64, max: i64) -> Result<Option<i64>, Refusal> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => match v.as_i64() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                Some(n) => Err(Refusal::invalid(format!(
                    "{} must be in {min}..={max}; got {n}",
                    self.name(name)
                ))),
                None => Err(self.wrong(name, "an integer", &v)),
            },
        }
    }

    /// An optional boolean field.
    pub fn boolean(&mut self, name: &str) -> Result<Option<bool>, Refusal> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(other) => Err(self.wrong(name, "a boolean", &other)),
        }
    }

    /// Refuses any field not taken.
    pub fn done(self) -> Result<(), Refusal> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(extra) => Err(Refusal::invalid(format!(
                "{} is not a field of this request",
                self.name(extra)
            ))),
        }
    }

    fn wrong(&self, name: &str, expected: &str, got: &Value) -> Refusal {
        Refusal::invalid(format!(
            "{} must be {expected}; got {}",
            self.name(name),
            kind(got)
        ))
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses a request body as a JSON object.
pub fn body(bytes: &[u8]) -> Result<Fields, Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::invalid("the body must be a JSON object"));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Refusal::invalid(format!("the body is not valid JSON: {e}")))?;
    Fields::of(value, "")
}

/// A unit name.
pub fn unit(value: Value, name: &str) -> Result<Unit, Refusal> {
    match value {
        Value::String(s) => s.parse::<Unit>().map_err(|_| {
            Refusal::invalid(format!(
                "{name} must be one of USD_MICROCENTS, TOKENS, CREDITS, RISK_POINTS; got {s:?}"
            ))
        }),
        other => Err(Refusal::invalid(format!(
            "{name} must be a string; got {}",
            kind(&other)
        ))),
    }
}

/// An `Amount` (`{unit, amount}`, amount >= 0).
pub fn amount(value: Value, path: &str) -> Result<(Unit, i64), Refusal> {
    let mut f = Fields::of(value, path)?;
    let unit = unit(f.required("unit")?, &f.name("unit"))?;
    let amount = f.integer("amount", 0, i64::MAX)?;
    let amount =
        amount.ok_or_else(|| Refusal::invalid(format!("{} is required", f.name("amount"))))?;
    f.done()?;
    Ok((unit, amount))
}

/// A `Subject`: at least one level; `dimensions` a map of strings.
pub fn subject(value: Value, path: &str) -> Result<Subject, Refusal> {
    let mut f = Fields::of(value, path)?;
    let mut levels: [Option<String>; 6] = Default::default();
    for (slot, level) in levels.iter_mut().zip(LEVELS) {
        *slot = f.string(level, 128)?;
        if slot.as_deref() == Some("") {
            return Err(Refusal::invalid(format!(
                "{} must not be empty",
                f.name(level)
            )));
        }
    }
    let mut dimensions = Vec::new();
    if let Some(value) = f.take("dimensions") {
        let name = f.name("dimensions");
        let Value::Object(map) = value else {
            return Err(Refusal::invalid(format!(
                "{name} must be an object of strings"
            )));
        };
        if map.len() > 16 {
            return Err(Refusal::invalid(format!(
                "{name} must hold at most 16 entries"
            )));
        }
        for (key, value) in map {
            match value {
                Value::String(s) if s.chars().count() <= 256 => dimensions.push((key, s)),
                _ => {
                    return Err(Refusal::invalid(format!(
                        "{name}.{key} must be a string of at most 256 characters"
                    )))
                }
            }
        }
    }
    f.done()?;
    let subject = Subject { levels, dimensions };
    subject
        .validate()
        .map_err(|e| Refusal::invalid(format!("{path}: {e}")))?;
    Ok(subject)
}

/// An `Action`.
pub fn action(value: Value, path: &str) -> Result<Action, Refusal> {
    let mut f = Fields::of(value, path)?;
    let kind = f.required_string("kind", 64)?;
    let name = f.required_string("name", 256)?;
    let mut tags = Vec::new();
    if let Some(value) = f.take("tags") {
        let field = f.name("tags");
        let Value::Array(items) = value else {
            return Err(Refusal::invalid(format!(
                "{field} must be an array of strings"
            )));
        };
        if items.len() > 10 {
            return Err(Refusal::invalid(format!(
                "{field} must hold at most 10 tags"
            )));
        }
        for (i, item) in items.into_iter().enumerate() {
            match item {
                Value::String(s) if s.chars().count() <= 64 => tags.push(s),
                _ => {
                    return Err(Refusal::invalid(format!(
                        "{field}[{i}] must be a string of at most 64 characters"
                    )))
                }
            }
        }
    }
    f.done()?;
    let action = Action { kind, name, tags };
    action
        .validate()
        .map_err(|e| Refusal::invalid(format!("{path}: {e}")))?;
    Ok(action)
}

/// `{unit, amount}`.
pub fn amount_json(unit: Unit, amount: i64) -> Value {
    json!({"unit": unit.as_str(), "amount": amount})
}

/// The subject as the protocol writes it (levels given, then dimensions).
pub fn subject_json(subject: &Subject) -> Value {
    let mut out = Map::new();
    for (name, level) in subject.levels.iter().zip(LEVELS) {
        if let Some(name) = name {
            out.insert(level.into(), Value::String(name.clone()));
        }
    }
    if !subject.dimensions.is_empty() {
        let dims: Map<String, Value> = subject
            .dimensions
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        out.insert("dimensions".into(), Value::Object(dims));
    }
    Value::Object(out)
}

/// The action as the protocol writes it.
pub fn action_json(action: &Action) -> Value {
    let mut out = json!({"kind": action.kind, "name": action.name});
    if !action.tags.is_empty() {
        out["tags"] = json!(action.tags);
    }
    out
}

/// Caps, with only the limits set.
pub fn caps_json(caps: &Caps) -> Value {
    let mut out = Map::new();
    let numbers = [
        ("max_tokens", caps.max_tokens),
        ("max_steps_remaining", caps.max_steps_remaining),
        ("cooldown_ms", caps.cooldown_ms),
    ];
    for (name, value) in numbers {
        if let Some(v) = value {
            out.insert(name.into(), json!(v));
        }
    }
    if let Some(list) = &caps.tool_allowlist {
        out.insert("tool_allowlist".into(), json!(list));
    }
    if let Some(list) = &caps.tool_denylist {
        out.insert("tool_denylist".into(), json!(list));
    }
    Value::Object(out)
}

/// A `Balance`.
pub fn balance_json(b: &Balance) -> Value {
    json!({
        "scope": b.scope,
        "scope_path": b.scope_path,
        "remaining": amount_json(b.unit, b.remaining),
        "reserved": amount_json(b.unit, b.reserved),
        "spent": amount_json(b.unit, b.spent),
        "allocated": amount_json(b.unit, b.allocated),
        "debt": amount_json(b.unit, b.debt),
        "overdraft_limit": amount_json(b.unit, b.overdraft_limit),
        "is_over_limit": b.is_over_limit,
    })
}

/// A `ReservationDetail` (or, without `affected_scopes`' ordering guarantees aside, a
/// `ReservationSummary`).
pub fn reservation_json(r: &Reservation, scopes: &[String]) -> Value {
    let mut out = json!({
        "reservation_id": r.id,
        "status": r.status.as_str(),
        "subject": subject_json(&r.subject),
        "action": action_json(&r.action),
        "reserved": amount_json(r.unit, r.reserved),
        "created_at_ms": r.created_at_ms,
        "expires_at_ms": r.expires_at_ms,
        "scope_path": r.subject.scope_path(),
        "affected_scopes": scopes,
    });
    if let Some(key) = &r.idempotency_key {
        out["idempotency_key"] = json!(key);
    }
    if let Some(c) = r.committed {
        out["committed"] = amount_json(r.unit, c);
    }
    if let Some(at) = r.finalized_at_ms {
        out["finalized_at_ms"] = json!(at);
    }
    out
}
