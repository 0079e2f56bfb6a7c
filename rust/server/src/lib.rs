//! `burnguard serve`: a Cycles-protocol budget server around burnguard-core's ledger. The
//! HTTP/1.1 layer (`http`) owns the sockets, `wire` reads and writes the protocol's JSON, and
//! `api` routes each request to the ledger under its API key's tenant, `limit` throttles
//! tenants. State is in memory, in a data directory, or on Redis (a fleet ledger).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub mod admin;
pub mod api;
pub mod http;
pub mod keys;
pub mod limit;
mod listing;
pub mod metrics;
pub mod wire;

pub use api::Api;
pub use keys::Key;

/// How often expired holds are given back.
const SWEEP_EVERY: Duration = Duration::from_millis(500);

/// A running server: its HTTP threads and its sweeper.
pub struct Server {
    running: http::Running,
    api: Arc<Api>,
    stopping: Arc<AtomicBool>,
    sweeper: JoinHandle<()>,
}

impl Server {
    /// Serves `api` on `address` (`host:port`; port 0 picks one) with `threads` threads.
    pub fn start(address: &str, threads: usize, api: Arc<Api>) -> io::Result<Server> {
        let handler = api.clone();
        let running = http::serve(address, threads, Arc::new(move |r| handler.handle(r)))?;
        let stopping = Arc::new(AtomicBool::new(false));
        let (flag, ledger_api) = (stopping.clone(), api.clone());
        let sweeper = std::thread::Builder::new()
            .name("burnguard-serve-sweeper".into())
            .spawn(move || {
                // A fleet's ledger is swept by the host holding its lease, not by each server.
                while !flag.load(Ordering::SeqCst) && !ledger_api.ledger.is_fleet() {
                    std::thread::sleep(SWEEP_EVERY);
                    let now = (burnguard_core::clock::wall() * 1000.0) as i64;
                    let _ = ledger_api.ledger.sweep(now);
                }
            })?;
        Ok(Server {
            running,
            api,
            stopping,
            sweeper,
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.running.address().port()
    }

    /// The API it serves.
    pub fn api(&self) -> &Arc<Api> {
        &self.api
    }

    /// Stops: requests in flight finish, then the threads end.
    pub fn shutdown(self) {
        self.running.shutdown();
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.sweeper.join();
    }
}
