//! Tenants' API keys: kept only as their SHA-256, compared in constant time, with the admin
//! API's record of each (name, visible prefix, creation, expiry, revocation). A revoked or
//! expired key fails authentication like an unknown one.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::admin::rfc3339;
use crate::api::Api;
use crate::wire::Refusal;

/// A tenant's API key, kept only as its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The key's SHA-256.
    pub hash: [u8; 32],
    /// The tenant it acts for.
    pub tenant: String,
    /// Its display name ("" for a key from the config file).
    pub name: String,
    /// The visible start of the secret ("" when the secret was never seen here).
    pub prefix: String,
    /// When it was made (ms since the epoch; 0 for a key from the config file).
    pub created_at_ms: i64,
    /// When it stops working, if ever.
    pub expires_at_ms: Option<i64>,
    /// When and why it was revoked, if it was.
    pub revoked: Option<(i64, String)>,
    /// What it may do (None: [`DEFAULT_PERMISSIONS`]).
    pub permissions: Option<Vec<String>>,
}

/// Every permission the admin spec names: first a tenant key's unless given others
/// ([`DEFAULT_PERMISSIONS`]), as the spec states them.
pub const PERMISSIONS: [&str; 27] = [
    "reservations:create",
    "reservations:commit",
    "reservations:release",
    "reservations:extend",
    "reservations:list",
    "balances:read",
    "budgets:read",
    "budgets:write",
    "policies:read",
    "policies:write",
    "webhooks:read",
    "webhooks:write",
    "events:read",
    "admin:read",
    "admin:write",
    "admin:tenants:read",
    "admin:tenants:write",
    "admin:budgets:read",
    "admin:budgets:write",
    "admin:policies:read",
    "admin:policies:write",
    "admin:apikeys:read",
    "admin:apikeys:write",
    "admin:webhooks:read",
    "admin:webhooks:write",
    "admin:events:read",
    "admin:audit:read",
];

/// A tenant key's permissions unless given others: the first ten of [`PERMISSIONS`].
pub const DEFAULT_PERMISSIONS: &[&str] = PERMISSIONS.split_at(10).0;

impl Key {
    /// The record of `secret` for `tenant`.
    pub fn new(secret: &str, tenant: &str) -> Key {
        Key::of(Sha256::digest(secret.as_bytes()).into(), tenant)
    }

    fn of(hash: [u8; 32], tenant: &str) -> Key {
        Key {
            hash,
            tenant: tenant.to_string(),
            name: String::new(),
            prefix: String::new(),
            created_at_ms: 0,
            expires_at_ms: None,
            revoked: None,
            permissions: None,
        }
    }

    /// The record of the key whose SHA-256 is `hex` (64 hex digits) for `tenant`.
    pub fn from_hex(hex: &str, tenant: &str) -> Result<Key, burnguard_core::Error> {
        let bad =
            || burnguard_core::Error::bad("api_key_sha256", "must be 64 hex digits", "<hidden>");
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(bad());
        }
        let mut hash = [0u8; 32];
        for (i, byte) in hash.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Key::of(hash, tenant))
    }

    /// Its id in the admin API: `key_` and the first 16 hex digits of its hash.
    pub fn id(&self) -> String {
        format!("key_{}", &hex(&self.hash)[..16])
    }

    /// `ACTIVE`, `REVOKED` or `EXPIRED` at `now_ms`.
    pub fn status(&self, now_ms: i64) -> &'static str {
        if self.revoked.is_some() {
            "REVOKED"
        } else if self.expires_at_ms.is_some_and(|at| at <= now_ms) {
            "EXPIRED"
        } else {
            "ACTIVE"
        }
    }

    /// What it may do.
    pub fn permissions(&self) -> Vec<&str> {
        match &self.permissions {
            Some(given) => given.iter().map(String::as_str).collect(),
            None => DEFAULT_PERMISSIONS.to_vec(),
        }
    }

    /// Whether it may do what `permission` names: held as such, or through `admin:write`
    /// (any `*:write`) or `admin:read` (any `*:read`), the spec's wildcards.
    pub fn allows(&self, permission: &str) -> bool {
        self.permissions().iter().any(|&held| {
            held == permission
                || (held == "admin:write" && permission.ends_with(":write"))
                || (held == "admin:read" && permission.ends_with(":read"))
        })
    }

    /// The admin API's `ApiKey` object.
    pub fn json(&self, now_ms: i64) -> Value {
        let mut key = json!({
            "key_id": self.id(),
            "tenant_id": self.tenant,
            "key_prefix": if self.prefix.is_empty() { "(config)" } else { &self.prefix },
            "name": if self.name.is_empty() { "(config)" } else { &self.name },
            "status": self.status(now_ms),
            "permissions": self.permissions(),
            "created_at": rfc3339(self.created_at_ms),
            "expires_at": rfc3339(self.expires_at_ms.unwrap_or(NEVER_MS)),
        });
        if let Some((at, reason)) = &self.revoked {
            key["revoked_at"] = json!(rfc3339(*at));
            if !reason.is_empty() {
                key["revoked_reason"] = json!(reason);
            }
        }
        key
    }
}

/// What a key that never expires shows as its expiry: 9999-12-31T23:59:59Z.
pub const NEVER_MS: i64 = 253_402_300_799_000;

pub(crate) fn hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// `2026-12-03T14:05:00Z` (fractions of a second allowed, and `+00:00` for `Z`) as ms since
/// the epoch; None for anything else.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let text = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))?;
    let (date, time) = text.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut t = clock.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hour, minute, second) = (t.next()??, t.next()??, t.next()??);
    let ms = match fraction {
        "" => 0,
        f if f.bytes().all(|b| b.is_ascii_digit()) => format!("{f:0<3}")[..3].parse().ok()?,
        _ => return None,
    };
    let valid = (1970..=9999).contains(&year)
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let days = burnguard_core::logs::days_from_civil(year, month, day);
    let ms = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + ms;
    (rfc3339(ms) == format!("{date}T{clock}Z")).then_some(ms) // no 31st of February
}

impl Api {
    /// Adds an API key.
    pub fn add_key(&self, key: Key) {
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(key);
    }

    /// Adds and saves a provisioned key.
    pub(crate) fn add_saved_key(&self, key: Key) -> Result<(), Refusal> {
        self.provision(|p| {
            p.keys.push(key.clone());
            Ok(())
        })
    }

    /// The key `secret` is, if it is active at `now_ms` (or, with `finishing`, revoked: a
    /// revoked key may still commit and release the reservations it holds, as the spec says):
    /// every stored hash is compared in constant time.
    pub(crate) fn key_of(&self, secret: &str, now_ms: i64, finishing: bool) -> Option<Key> {
        let hash: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        let mut found = None;
        for key in keys.iter() {
            let diff = key
                .hash
                .iter()
                .zip(&hash)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            let status = key.status(now_ms);
            if diff == 0 && (status == "ACTIVE" || finishing && status == "REVOKED") {
                found = Some(key.clone());
            }
        }
        found
    }

    /// The keys of `tenant` (all if None) with `status` (any if None), by creation.
    pub(crate) fn keys_of(
        &self,
        tenant: Option<&str>,
        status: Option<&str>,
        now_ms: i64,
    ) -> Vec<Key> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        let mut found: Vec<Key> = keys
            .iter()
            .filter(|k| tenant.is_none_or(|t| k.tenant == t))
            .filter(|k| status.is_none_or(|s| k.status(now_ms) == s))
            .cloned()
            .collect();
        found.sort_by_key(|k| (k.created_at_ms, k.id()));
        found
    }

    /// Revokes key `key_id` for good (saved, for a provisioned key); answers its record.
    pub(crate) fn revoke_key(
        &self,
        key_id: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<Key, Refusal> {
        let already = |key_id: &str| {
            Refusal::new(
                409,
                "ALREADY_REVOKED",
                format!("API key {key_id:?} is already revoked"),
            )
        };
        let revoked = Some((now_ms, reason.to_string()));
        let _ = self.refresh_provisioned(); // a key another server made: revoked here too
        let provisioned = self
            .provisioned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys
            .iter()
            .any(|k| k.id() == key_id);
        if provisioned {
            return self.provision(|p| {
                let Some(key) = p.keys.iter_mut().find(|k| k.id() == key_id) else {
                    return Err(Refusal::new(
                        404,
                        "NOT_FOUND",
                        format!("no API key {key_id:?}"),
                    ));
                };
                if key.revoked.is_some() {
                    return Err(already(key_id));
                }
                key.revoked = revoked.clone();
                Ok(key.clone())
            });
        }
        // A key of the config file is revoked until the server restarts.
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        let key = keys
            .iter_mut()
            .find(|k| k.id() == key_id)
            .ok_or_else(|| Refusal::new(404, "NOT_FOUND", format!("no API key {key_id:?}")))?;
        if key.revoked.is_some() {
            return Err(already(key_id));
        }
        key.revoked = revoked;
        Ok(key.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_reads_what_it_writes_and_refuses_the_rest() {
        for ms in [0, 951_782_400_000, 1_796_306_700_000, NEVER_MS] {
            assert_eq!(parse_rfc3339(&rfc3339(ms)), Some(ms));
        }
        assert_eq!(
            parse_rfc3339("2026-12-03T14:05:00.25Z"),
            Some(1_796_306_700_250)
        );
        assert_eq!(
            parse_rfc3339("2026-12-03T14:05:00+00:00"),
            Some(1_796_306_700_000)
        );
        for bad in [
            "2026-02-31T00:00:00Z",
            "2026-12-03 14:05:00Z",
            "2026-12-03T14:05:00+02:00",
            "soon",
            "2026-13-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_key_is_active_until_it_expires_or_is_revoked() {
        let mut key = Key::new("secret", "acme");
        assert_eq!(key.status(5), "ACTIVE");
        key.expires_at_ms = Some(10);
        assert_eq!((key.status(9), key.status(10)), ("ACTIVE", "EXPIRED"));
        key.revoked = Some((3, "leaked".into()));
        assert_eq!(key.status(5), "REVOKED");
        assert_eq!(key.json(5)["revoked_reason"], "leaked");
        assert!(key.id().starts_with("key_") && key.id().len() == 20);
    }

    #[test]
    fn permissions_default_to_the_tenant_set_and_admin_ones_cover_reads_or_writes() {
        let mut key = Key::new("secret", "acme");
        assert!(key.allows("reservations:create") && !key.allows("webhooks:read"));
        key.permissions = Some(vec!["admin:read".into(), "reservations:list".into()]);
        assert!(key.allows("balances:read") && key.allows("reservations:list"));
        assert!(!key.allows("budgets:write") && !key.allows("reservations:create"));
        key.permissions = Some(vec!["admin:write".into()]);
        assert!(key.allows("budgets:write") && !key.allows("balances:read"));
    }
}
