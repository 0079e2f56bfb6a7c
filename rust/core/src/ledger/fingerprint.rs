//! Idempotency fingerprints: a stable 64-bit hash of a request, stored with its answer and
//! compared when the request's idempotency key comes again.
//!
//! Saved ledgers keep these hashes, so they must not depend on the compiler (as
//! `#[derive(Hash)]` does) or on the process (as a keyed hasher does). A request is written as
//! a canonical byte string and hashed with 64-bit FNV-1a (offset basis `0xcbf29ce484222325`,
//! prime `0x100000001b3`). The canonical form, per field in declaration order:
//!
//! * integers: 8 bytes, little-endian (`u64`, or `i64` as two's complement);
//! * booleans: one byte, 0 or 1;
//! * strings: their UTF-8 length as an integer, then the bytes;
//! * options: one byte, 0 for none, 1 then the value for some;
//! * sequences: their length as an integer, then each element;
//! * enums: their protocol name as a string.
//!
//! Each operation starts with its own name (`reserve`, `decide`, ...), so two operations with
//! the same fields never share a fingerprint. Changing any of this changes saved files'
//! meaning: the golden file test in `ledger/tests.rs` fails if it does.

use super::{Action, Overage, ReserveRequest, Subject, Unit};

pub(super) use crate::fnv::fnv1a;
use crate::fnv::Fnv;

/// 64-bit FNV-1a over the canonical form of the values written to it.
pub(super) struct Fingerprint(Fnv);

impl Fingerprint {
    /// A fingerprint of operation `op`'s request.
    pub(super) fn of(op: &str) -> Self {
        let mut f = Fingerprint(Fnv::new());
        f.str(op);
        f
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }

    /// Writes an integer.
    pub(super) fn int(&mut self, v: i64) -> &mut Self {
        self.bytes(&v.to_le_bytes());
        self
    }

    fn uint(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    /// Writes a boolean.
    pub(super) fn bool(&mut self, v: bool) -> &mut Self {
        self.bytes(&[u8::from(v)]);
        self
    }

    /// Writes a string.
    pub(super) fn str(&mut self, s: &str) -> &mut Self {
        self.uint(s.len() as u64);
        self.bytes(s.as_bytes());
        self
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.bytes(&[0]),
            Some(s) => {
                self.bytes(&[1]);
                self.str(s);
            }
        }
    }

    /// Writes a subject: its six levels, then its dimensions.
    pub(super) fn subject(&mut self, s: &Subject) -> &mut Self {
        for level in &s.levels {
            self.opt_str(level.as_deref());
        }
        self.uint(s.dimensions.len() as u64);
        for (name, value) in &s.dimensions {
            self.str(name).str(value);
        }
        self
    }

    /// Writes an action: kind, name, tags.
    pub(super) fn action(&mut self, a: &Action) -> &mut Self {
        self.str(&a.kind).str(&a.name);
        self.uint(a.tags.len() as u64);
        for tag in &a.tags {
            self.str(tag);
        }
        self
    }

    /// Writes a unit by its protocol name.
    pub(super) fn unit(&mut self, u: Unit) -> &mut Self {
        self.str(u.as_str())
    }

    /// Writes an optional unit.
    pub(super) fn opt_unit(&mut self, u: Option<Unit>) -> &mut Self {
        self.opt_str(u.map(Unit::as_str));
        self
    }

    /// Writes an overage policy by its protocol name.
    pub(super) fn overage(&mut self, o: Overage) -> &mut Self {
        self.str(o.as_str())
    }

    /// Writes every field of a reservation request.
    pub(super) fn reserve_request(&mut self, r: &ReserveRequest) -> &mut Self {
        self.subject(&r.subject)
            .action(&r.action)
            .unit(r.unit)
            .int(r.estimate)
            .int(r.ttl_ms)
            .int(r.grace_period_ms)
            .overage(r.overage)
            .bool(r.dry_run)
    }

    /// The hash.
    pub(super) fn finish(&self) -> u64 {
        self.0.finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_of_the_canonical_bytes() {
        // FNV-1a 64 of the empty string is the offset basis; of "a", the published value.
        let mut f = Fingerprint(Fnv::new());
        assert_eq!(f.finish(), 0xcbf2_9ce4_8422_2325);
        f.bytes(b"a");
        assert_eq!(f.finish(), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn fields_are_delimited_and_operations_distinct() {
        let mut a = Fingerprint::of("release");
        a.str("ab").str("c");
        let mut b = Fingerprint::of("release");
        b.str("a").str("bc");
        assert_ne!(a.finish(), b.finish());
        let mut c = Fingerprint::of("commit");
        c.str("ab").str("c");
        assert_ne!(a.finish(), c.finish());
    }

    #[test]
    fn a_known_request_keeps_its_fingerprint() {
        // Pinned (and checked by hand against the documented form in Python): a change here
        // breaks every idempotency record in saved ledgers.
        let subject = Subject {
            levels: [
                Some("acme".into()),
                None,
                Some("chat".into()),
                None,
                None,
                None,
            ],
            dimensions: vec![("region".into(), "eu".into())],
        };
        let action = Action {
            kind: "llm.completion".into(),
            name: "gpt".into(),
            tags: vec!["prod".into()],
        };
        let mut f = Fingerprint::of("event");
        f.subject(&subject)
            .action(&action)
            .unit(Unit::Tokens)
            .int(1_500)
            .overage(Overage::AllowWithOverdraft);
        assert_eq!(f.finish(), 0x6945_ad50_75a0_b18b);
    }
}
