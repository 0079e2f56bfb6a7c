//! A monotonic event counter: one atomic word, shared by every thread that holds it, or by
//! every process that shares it through an arena.

use crate::sync::Ordering;
use crate::words::Words;

/// Counts events (faults, rejections) with one relaxed atomic add each; it only goes up.
#[derive(Debug)]
pub struct Counter(Words);

impl Default for Counter {
    fn default() -> Self {
        Counter(Words::zeroed(1))
    }
}

impl Counter {
    /// The counter named `key` in `arena`: every process that asks for it counts into it.
    #[cfg(all(target_os = "linux", not(loom)))]
    pub fn shared(
        arena: &crate::arena::Arena,
        key: &str,
    ) -> Result<Counter, crate::arena::ArenaError> {
        let region = arena.region(crate::arena::Kind::Counter, key, 1, 1)?;
        Ok(Counter(Words::shared(region)))
    }

    /// Counts `n` more events.
    pub fn add(&self, n: u64) {
        self.0[0].fetch_add(n, Ordering::Relaxed);
    }

    /// The events counted so far.
    pub fn get(&self) -> u64 {
        self.0[0].load(Ordering::Relaxed)
    }

    /// Whether the counter lives in an arena.
    pub fn is_shared(&self) -> bool {
        self.0.is_shared()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn concurrent_adds_are_all_counted() {
        let counter = Arc::new(Counter::default());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || (0..100_000).for_each(|_| counter.add(1)))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        counter.add(5);
        assert_eq!(counter.get(), 800_005);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn counters_of_one_key_in_one_arena_count_together() {
        let arena = crate::arena::TestArena::new("counter", 1 << 20);
        let (a, b) = (
            Counter::shared(&arena, "faults").unwrap(),
            Counter::shared(&arena, "faults").unwrap(),
        );
        a.add(2);
        b.add(3);
        assert!(a.is_shared() && !Counter::default().is_shared());
        assert_eq!(
            (a.get(), Counter::shared(&arena, "other").unwrap().get()),
            (5, 0)
        );
    }
}
