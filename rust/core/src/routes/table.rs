//! A bounded set of routes by key ("GET /users/{id}"), kept by one process or shared by every
//! process that opens the same table in the same arena.

use super::*;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A bounded set of routes by key: past `max_routes` distinct keys, new keys share one
/// overflow route, so memory stays bounded whatever the traffic.
#[derive(Debug)]
pub struct RouteTable {
    max_routes: usize,
    retain_seconds: f64,
    overflow_key: String,
    /// The routes this process has opened (all of them, unshared), by the key they are held
    /// under.
    routes: RwLock<HashMap<String, Arc<RouteWindow>>>,
    clock: Clock,
    #[cfg(all(target_os = "linux", not(loom)))]
    shared: Option<shared::Shared>,
}

impl RouteTable {
    /// A table of at most `max_routes` routes (plus the overflow route, keyed `overflow_key`),
    /// each retaining `retain_seconds`.
    pub fn new(max_routes: usize, retain_seconds: f64, overflow_key: &str) -> Result<Self, Error> {
        if max_routes == 0 {
            return Err(Error::bad("max_routes", "must be >= 1", 0));
        }
        if overflow_key.is_empty() {
            return Err(Error::invalid("overflow_label", "must be non-empty"));
        }
        check_retain(retain_seconds)?;
        Ok(RouteTable {
            max_routes,
            retain_seconds,
            overflow_key: overflow_key.to_owned(),
            routes: RwLock::new(HashMap::new()),
            clock: Clock::Wall,
            #[cfg(all(target_os = "linux", not(loom)))]
            shared: None,
        })
    }

    /// The same table, its routes reading `clock` when an operation is not given a time.
    pub fn with_clock(self, clock: Clock) -> Self {
        RouteTable { clock, ..self }
    }

    /// The route of `key` and the key it is held under: `key` itself, created on first sight,
    /// or the overflow key once the table is full. Only a shared table can fail (its arena is
    /// full).
    pub fn route<'k>(
        &'k self,
        key: &'k str,
    ) -> Result<(&'k str, Arc<RouteWindow>), crate::arena::ArenaError> {
        if let Some(route) = self.read().get(key) {
            return Ok((key, route.clone()));
        }
        #[cfg(all(target_os = "linux", not(loom)))]
        if let Some(shared) = &self.shared {
            let (held, window) = shared.route(self, key)?;
            let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
            let window = routes.entry(held.to_owned()).or_insert(window).clone();
            return Ok((held, window));
        }
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        let distinct = routes.len() - usize::from(routes.contains_key(&self.overflow_key));
        let key = if distinct < self.max_routes || routes.contains_key(key) {
            key
        } else {
            &self.overflow_key
        };
        let window = || {
            let window = RouteWindow::with_clock(self.retain_seconds, self.clock.clone());
            Arc::new(window.expect("checked in new"))
        };
        Ok((
            key,
            routes.entry(key.to_owned()).or_insert_with(window).clone(),
        ))
    }

    /// The time now by the table's clock.
    pub fn now(&self) -> Result<f64, Error> {
        self.clock.read(None)
    }

    /// Every route, sorted by key: in a shared table, those every process has opened.
    pub fn routes(&self) -> Vec<(String, Arc<RouteWindow>)> {
        #[cfg(all(target_os = "linux", not(loom)))]
        if let Some(shared) = &self.shared {
            let found = shared.others(self);
            if !found.is_empty() {
                let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
                for (key, window) in found {
                    routes.entry(key).or_insert(window);
                }
            }
        }
        let mut all: Vec<_> = self
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Whether the table's routes live in a shared arena.
    pub fn is_shared(&self) -> bool {
        #[cfg(all(target_os = "linux", not(loom)))]
        return self.shared.is_some();
        #[cfg(not(all(target_os = "linux", not(loom))))]
        false
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<RouteWindow>>> {
        self.routes.read().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(all(target_os = "linux", not(loom)))]
mod shared {
    //! A table in an arena. The table's region holds the number of routes reserved; each
    //! route is a region of its own, named by the table and its key, starting with the key
    //! itself (so every process can list the routes others opened), then the window's words.
    //! A route is added by reserving a place (one compare-and-swap on the count, refused once
    //! `max_routes` are reserved) and placing its region; a process killed between the two
    //! leaves one place reserved and unused, so the table can hold one route fewer.

    use super::*;
    use crate::arena::{Arena, ArenaError, Kind, Region};
    use crate::words::Words;

    /// The longest key a shared table holds; longer keys go to the overflow route.
    pub const MAX_KEY_BYTES: usize = 512;
    // A route's first words: its table's identity, its key's length plus one (0: not yet
    // written), then the key's bytes.
    const TABLE_ID: usize = 0;
    const KEY_LEN: usize = 1;
    const KEY: usize = 2;
    const IDENT: usize = KEY + MAX_KEY_BYTES / 8;

    #[derive(Debug)]
    pub(super) struct Shared {
        arena: Arena,
        name: String,
        id: u64,
        /// The table's word: routes reserved, the overflow route aside.
        reserved: Region,
        geometry: u64,
        words: usize,
        /// The arena's bytes in use when this process last found every route's key written.
        scanned: AtomicU64,
    }

    impl RouteTable {
        /// A window of the table's layout, with no words yet.
        fn window(&self) -> RouteWindow {
            RouteWindow::layout(self.retain_seconds, self.clock.clone()).expect("checked in new")
        }

        /// Keeps the table's routes in `arena`, under `name`: every process that shares the
        /// table there records into and lists the same routes, at most `max_routes` of them
        /// for all processes together. Its options (routes, retention, overflow key) must be
        /// the same in each, else this is an error. Call it before use.
        pub fn share(&mut self, arena: &Arena, name: &str) -> Result<(), ArenaError> {
            let mut id = crate::fnv::Fnv::new();
            id.write(name.as_bytes());
            let id = id.finish();
            let mut overflow = crate::fnv::Fnv::new();
            overflow.write(self.overflow_key.as_bytes());
            let table = crate::words::geometry_of(&[
                self.max_routes as u64,
                self.retain_seconds.to_bits(),
                overflow.finish(),
            ]);
            let reserved = arena.region(Kind::Routes, name, table, 1)?;
            let window = self.window();
            let words = IDENT + window.words_len();
            self.shared = Some(Shared {
                arena: arena.clone(),
                name: name.to_owned(),
                id,
                reserved,
                geometry: crate::words::geometry_of(&[window.geometry(), IDENT as u64]),
                words,
                scanned: AtomicU64::new(0),
            });
            self.routes
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
            Ok(())
        }
    }

    impl Shared {
        fn region_key(&self, key: &str) -> String {
            format!("{}\u{1f}{key}", self.name)
        }

        /// The route of `key` (not opened by this process yet) and the key it is held under.
        pub(super) fn route<'k>(
            &self,
            table: &'k RouteTable,
            key: &'k str,
        ) -> Result<(&'k str, Arc<RouteWindow>), ArenaError> {
            let overflow = table.overflow_key.as_str();
            if key != overflow && key.len() <= MAX_KEY_BYTES {
                let region_key = self.region_key(key);
                let found =
                    self.arena
                        .find(Kind::Routes, &region_key, self.geometry, self.words)?;
                if let Some(region) = found {
                    return Ok((key, self.open(table, region, key)));
                }
                if self.reserve(table.max_routes) {
                    let placed =
                        self.arena
                            .place(Kind::Routes, &region_key, self.geometry, self.words);
                    match placed {
                        Ok((region, placed_here)) => {
                            if !placed_here {
                                self.give_back(); // another process placed it meanwhile
                            }
                            return Ok((key, self.open(table, region, key)));
                        }
                        Err(e) => {
                            self.give_back();
                            return Err(e);
                        }
                    }
                }
            }
            let region = self.arena.region(
                Kind::Routes,
                &self.region_key(overflow),
                self.geometry,
                self.words,
            )?;
            Ok((overflow, self.open(table, region, overflow)))
        }

        fn reserve(&self, max_routes: usize) -> bool {
            self.reserved.words()[0]
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < max_routes as u64).then_some(n + 1)
                })
                .is_ok()
        }

        fn give_back(&self) {
            self.reserved.words()[0].fetch_sub(1, Ordering::AcqRel);
        }

        /// The window over a route's region, its key written first if no process has yet.
        fn open(&self, table: &RouteTable, region: Region, key: &str) -> Arc<RouteWindow> {
            let (ident, rest) = region.split_at(IDENT);
            let ident = ident.words();
            if ident[KEY_LEN].load(Ordering::Acquire) == 0 {
                ident[TABLE_ID].store(self.id, Ordering::Relaxed);
                let mut padded = key.as_bytes().to_vec();
                padded.resize(MAX_KEY_BYTES, 0);
                for (word, chunk) in ident[KEY..].iter().zip(padded.chunks(8)) {
                    let bytes: [u8; 8] = chunk.try_into().expect("8 bytes");
                    word.store(u64::from_le_bytes(bytes), Ordering::Relaxed);
                }
                ident[KEY_LEN].store(key.len() as u64 + 1, Ordering::Release);
            }
            let mut window = table.window();
            window.words = Words::shared(rest);
            Arc::new(window)
        }

        /// The routes other processes opened that this one has not, when the arena has
        /// changed since this process last saw every route's key.
        pub(super) fn others(&self, table: &RouteTable) -> Vec<(String, Arc<RouteWindow>)> {
            let used = self.arena.used();
            if self.scanned.load(Ordering::Acquire) == used {
                return Vec::new();
            }
            let known: Vec<String> = table.read().keys().cloned().collect();
            let mut complete = true;
            let mut found = Vec::new();
            for region in self
                .arena
                .regions_of(Kind::Routes, self.geometry, self.words)
            {
                let ident = &region.words()[..IDENT];
                let len = ident[KEY_LEN].load(Ordering::Acquire);
                if len == 0 {
                    complete = false; // its key is being written
                    continue;
                }
                if ident[TABLE_ID].load(Ordering::Relaxed) != self.id {
                    continue;
                }
                let bytes: Vec<u8> = ident[KEY..]
                    .iter()
                    .flat_map(|w| w.load(Ordering::Relaxed).to_le_bytes())
                    .take(len as usize - 1)
                    .collect();
                match String::from_utf8(bytes) {
                    Ok(key) if !known.contains(&key) => {
                        let window = self.open(table, region, &key);
                        found.push((key, window));
                    }
                    _ => {}
                }
            }
            if complete {
                self.scanned.store(used, Ordering::Release);
            }
            found
        }
    }

    /// What a process killed between reserving a place and placing its route leaves: the
    /// table holds one route fewer, and nothing else changes.
    #[cfg(test)]
    #[test]
    fn a_process_killed_after_reserving_a_place_costs_the_table_one_route() {
        let arena = crate::arena::TestArena::new("routes-reserved", 16 << 20);
        let mut table = RouteTable::new(2, DAY, "OTHER").unwrap();
        table.share(&arena, "web").unwrap();
        assert!(
            table.shared.as_ref().unwrap().reserve(2),
            "the dead process's reservation"
        );
        assert_eq!(table.route("GET /a").unwrap().0, "GET /a");
        assert_eq!(table.route("GET /b").unwrap().0, "OTHER", "one place fewer");
        let keys: Vec<String> = table.routes().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["GET /a", "OTHER"]);
    }
}
