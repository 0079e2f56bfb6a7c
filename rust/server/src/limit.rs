//! Rate limiting per tenant: at most `per_second` runtime requests in each one-second window
//! (of the Unix clock). Every answer carries `X-RateLimit-Remaining` and `X-RateLimit-Reset`;
//! a request past the limit is answered 429 `LIMIT_EXCEEDED` with `Retry-After`, as the spec
//! reserves 429 for throttling. Memory is one entry per tenant that made a request.

use std::collections::HashMap;
use std::sync::Mutex;

/// The limiter.
pub struct RateLimit {
    per_second: u64,
    windows: Mutex<HashMap<String, Window>>,
}

/// A tenant's current window: its second, and the requests counted in it.
#[derive(Clone, Copy)]
struct Window {
    second: i64,
    count: u64,
}

/// What the limiter decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// Whether the request may go on.
    pub allowed: bool,
    /// Requests left in the window after this one.
    pub remaining: u64,
    /// When the window ends: Unix seconds.
    pub reset: i64,
}

impl Admission {
    /// The headers every answer carries, and a refused one's `Retry-After` (whole seconds,
    /// rounded up: the next window).
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut headers = vec![
            ("X-RateLimit-Remaining".into(), self.remaining.to_string()),
            ("X-RateLimit-Reset".into(), self.reset.to_string()),
        ];
        if !self.allowed {
            headers.push(("Retry-After".into(), "1".into()));
        }
        headers
    }
}

impl RateLimit {
    /// At most `per_second` requests a second for each tenant (at least 1).
    pub fn new(per_second: u64) -> RateLimit {
        RateLimit {
            per_second: per_second.max(1),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request of `tenant` at `now_ms` (ms since the epoch).
    pub fn admit(&self, tenant: &str, now_ms: i64) -> Admission {
        let second = now_ms.div_euclid(1000);
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let window = windows
            .entry(tenant.to_string())
            .or_insert(Window { second, count: 0 });
        if window.second != second {
            *window = Window { second, count: 0 };
        }
        let allowed = window.count < self.per_second;
        if allowed {
            window.count += 1;
        }
        Admission {
            allowed,
            remaining: self.per_second - window.count,
            reset: second + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tenant_gets_its_limit_in_each_second() {
        let limit = RateLimit::new(2);
        let t = 1_700_000_000_000;
        let a = [
            limit.admit("a", t),
            limit.admit("a", t + 10),
            limit.admit("a", t + 999),
        ];
        assert_eq!(
            a.map(|x| (x.allowed, x.remaining)),
            [(true, 1), (true, 0), (false, 0)]
        );
        assert_eq!(a[2].reset, t / 1000 + 1);
        assert!(limit.admit("b", t).allowed, "another tenant's window");
        let next = limit.admit("a", t + 1000);
        assert_eq!(
            (next.allowed, next.remaining, next.reset),
            (true, 1, t / 1000 + 2)
        );
        let refused = a[2].headers();
        assert!(refused.contains(&("Retry-After".into(), "1".into())));
        assert!(!a[0].headers().iter().any(|(name, _)| name == "Retry-After"));
    }
}
