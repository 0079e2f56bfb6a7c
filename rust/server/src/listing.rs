//! `GET /v1/reservations`'s query: the status, idempotency-key and time-window filters, the
//! sort, and pages by an opaque cursor that is bound to the filters it was made under.

use burnguard_core::ledger::{Reservation, Status};
use sha2::{Digest, Sha256};

use crate::http::Request;
use crate::keys::parse_rfc3339;
use crate::wire::Refusal;

/// What `sort_by` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum SortKey {
    ReservationId,
    Tenant,
    ScopePath,
    Status,
    Reserved,
    CreatedAt,
    ExpiresAt,
}

/// A parsed listing query (the subject filter is the caller's scope prefix).
#[derive(Debug)]
pub(crate) struct Listing {
    status: Option<Status>,
    idempotency_key: Option<String>,
    /// Inclusive bounds (ms) on created, expires and finalized times.
    windows: [(Option<i64>, Option<i64>); 3],
    sort: Option<(SortKey, bool)>,
    /// The page's size and first row.
    pub(crate) limit: usize,
    start: usize,
    /// The filters' fingerprint, which cursors carry.
    bound: u64,
}

const WINDOWS: [(&str, &str); 3] = [
    ("from", "to"),
    ("expires_from", "expires_to"),
    ("finalized_from", "finalized_to"),
];

fn bound(request: &Request, name: &str) -> Result<Option<i64>, Refusal> {
    match request.param(name) {
        None | Some("") => Ok(None), // a blank bound is unset, as the spec says
        Some(text) => parse_rfc3339(text).map(Some).ok_or_else(|| {
            Refusal::invalid(format!(
                "{name} must be an RFC 3339 UTC date-time like 2026-12-03T14:05:00Z; got {text:?}"
            ))
        }),
    }
}

impl Listing {
    /// The query of `request` under the subject filter `prefix`.
    pub(crate) fn parse(request: &Request, prefix: &str) -> Result<Listing, Refusal> {
        let status = match request.param("status") {
            None => None,
            Some(s) => Some(
                s.parse::<Status>()
                    .map_err(|e| Refusal::invalid(e.to_string()))?,
            ),
        };
        let idempotency_key = request.param("idempotency_key").map(str::to_string);
        let mut windows = [(None, None); 3];
        for ((from, to), window) in WINDOWS.iter().zip(&mut windows) {
            *window = (bound(request, from)?, bound(request, to)?);
            if let (Some(a), Some(b)) = *window {
                if a > b {
                    return Err(Refusal::invalid(format!("{from} is after {to}")));
                }
            }
        }
        let sort = match request.param("sort_by") {
            None | Some("") => None,
            Some(key) => {
                let key = match key {
                    "reservation_id" => SortKey::ReservationId,
                    "tenant" => SortKey::Tenant,
                    "scope_path" => SortKey::ScopePath,
                    "status" => SortKey::Status,
                    "reserved" => SortKey::Reserved,
                    "created_at_ms" => SortKey::CreatedAt,
                    "expires_at_ms" => SortKey::ExpiresAt,
                    // Unknown sort keys are ignored, as the spec says.
                    _ => SortKey::CreatedAt,
                };
                let descending = match request.param("sort_dir") {
                    None | Some("desc") => true,
                    Some("asc") => false,
                    Some(other) => {
                        return Err(Refusal::invalid(format!(
                            "sort_dir must be asc or desc; got {other:?}"
                        )))
                    }
                };
                Some((key, descending))
            }
        };
        let limit = match request.param("limit") {
            None => 50,
            Some(l) => l
                .parse::<usize>()
                .ok()
                .filter(|l| (1..=200).contains(l))
                .ok_or_else(|| Refusal::invalid(format!("limit must be in 1..=200; got {l:?}")))?,
        };
        let filters = format!("{prefix}|{status:?}|{idempotency_key:?}|{windows:?}|{sort:?}");
        let digest = Sha256::digest(filters.as_bytes());
        let bound = u64::from_le_bytes(digest[..8].try_into().unwrap_or_default());
        let start = match request.param("cursor") {
            None | Some("") => 0,
            Some(cursor) => {
                let (start, of) = cursor
                    .split_once('.')
                    .and_then(|(s, h)| {
                        Some((s.parse::<usize>().ok()?, u64::from_str_radix(h, 16).ok()?))
                    })
                    .ok_or_else(|| {
                        Refusal::invalid(format!("cursor {cursor:?} is not one this server gave"))
                    })?;
                if of != bound {
                    return Err(Refusal::invalid(
                        "the cursor was given for other filters: keep them while paging",
                    ));
                }
                start
            }
        };
        Ok(Listing {
            status,
            idempotency_key,
            windows,
            sort,
            limit,
            start,
            bound,
        })
    }

    /// The status the ledger should filter by.
    pub(crate) fn status(&self) -> Option<Status> {
        self.status
    }

    /// The page of `rows` (the ledger's, oldest first), and the cursor of the next, if any.
    pub(crate) fn page<'r>(
        &self,
        rows: &'r [(Reservation, Vec<String>)],
    ) -> (Vec<&'r (Reservation, Vec<String>)>, Option<String>) {
        let mut kept: Vec<&(Reservation, Vec<String>)> =
            rows.iter().filter(|(r, _)| self.matches(r)).collect();
        if let Some((key, descending)) = self.sort {
            kept.sort_by(|(a, _), (b, _)| {
                let order = match key {
                    SortKey::ReservationId => a.id.cmp(&b.id),
                    SortKey::Tenant => a.subject.levels[0].cmp(&b.subject.levels[0]),
                    SortKey::ScopePath => a.subject.scope_path().cmp(&b.subject.scope_path()),
                    SortKey::Status => a.status.as_str().cmp(b.status.as_str()),
                    SortKey::Reserved => a.reserved.cmp(&b.reserved),
                    SortKey::CreatedAt => a.created_at_ms.cmp(&b.created_at_ms),
                    SortKey::ExpiresAt => a.expires_at_ms.cmp(&b.expires_at_ms),
                }
                .then_with(|| a.id.cmp(&b.id));
                if descending {
                    order.reverse()
                } else {
                    order
                }
            });
        }
        let start = self.start.min(kept.len());
        let end = (start + self.limit).min(kept.len());
        let next = (end < kept.len()).then(|| format!("{end}.{:x}", self.bound));
        (kept[start..end].to_vec(), next)
    }

    fn matches(&self, r: &Reservation) -> bool {
        // The ledger keeps the client's key after the server's namespace.
        let key = r
            .idempotency_key
            .as_deref()
            .and_then(|k| k.rsplit('\u{1f}').next());
        // A finalized time exists only on committed and released rows, as the spec says.
        let finalized = match r.status {
            Status::Committed | Status::Released => r.finalized_at_ms,
            _ => None,
        };
        let times = [Some(r.created_at_ms), Some(r.expires_at_ms), finalized];
        self.idempotency_key
            .as_deref()
            .is_none_or(|k| key == Some(k))
            && self.windows.iter().zip(times).all(|(&(from, to), at)| {
                (from.is_none() && to.is_none())
                    || at.is_some_and(|at| {
                        from.is_none_or(|f| at >= f) && to.is_none_or(|t| at <= t)
                    })
            })
    }
}
