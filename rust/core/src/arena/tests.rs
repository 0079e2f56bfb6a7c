use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use super::*;

/// A fresh private directory for one test.
fn directory(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("burnguard-arena-{test}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn options(dir: &Path) -> Options {
    Options {
        directory: Some(dir.to_path_buf()),
        size: MIN_SIZE,
        entries: 64,
    }
}

fn err(e: ArenaError) -> String {
    e.to_string()
}

#[test]
fn a_region_is_shared_by_every_opener_and_starts_at_zero() {
    let dir = directory("share");
    let a = Arena::open("svc", &options(&dir)).unwrap();
    let b = Arena::open("svc", &options(&dir)).unwrap();
    let ra = a.region(Kind::Test, "api", 7, 16).unwrap();
    assert!(ra.words().iter().all(|w| w.load(Ordering::Relaxed) == 0));
    ra.words()[3].fetch_add(5, Ordering::Relaxed);
    let rb = b.region(Kind::Test, "api", 7, 16).unwrap();
    assert_eq!(
        (rb.offset(), rb.words()[3].load(Ordering::Relaxed)),
        (ra.offset(), 5)
    );
    // Another key, or the same key of another kind, is another region.
    let other = b.region(Kind::Slo, "api", 7, 16).unwrap();
    assert_ne!(other.offset(), ra.offset());
    assert!(b.used() > 4096 + 64 * 128 && b.size() == MIN_SIZE);
    // The file and directory are private.
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&dir), mode(a.path())), (0o700, 0o600));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn another_geometry_is_an_error_not_a_misread() {
    let dir = directory("geometry");
    let a = Arena::open("svc", &options(&dir)).unwrap();
    a.region(Kind::Slo, "api", 1, 16).unwrap();
    let e = err(a.region(Kind::Slo, "api", 2, 16).unwrap_err());
    assert!(
        e.starts_with("shared holds Slo \"api\" with another configuration"),
        "{e}"
    );
    assert!(
        a.region(Kind::Slo, "api", 1, 32).is_err(),
        "another size too"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn names_sizes_and_foreign_files_are_refused() {
    let dir = directory("refuse");
    for bad in ["", "../x", "a/b", ".hidden", &"x".repeat(65)] {
        let e = err(Arena::open(bad, &options(&dir)).unwrap_err());
        assert!(e.starts_with("shared must be an arena name"), "{e}");
    }
    let small = Options {
        size: 4096,
        ..options(&dir)
    };
    assert!(err(Arena::open("svc", &small).unwrap_err()).starts_with("size must be in"));
    let crowded = Options {
        entries: 1 << 30,
        ..options(&dir)
    };
    assert!(err(Arena::open("svc", &crowded).unwrap_err()).starts_with("entries must be in"));
    // A directory open to others, a file open to others, a file that is not an arena.
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let e = err(Arena::open("svc", &options(&dir)).unwrap_err());
    assert!(
        e.contains("open to other users (mode 755); it must be 0700"),
        "{e}"
    );
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    let junk = dir.join("junk.arena");
    fs::write(&junk, vec![1u8; MIN_SIZE as usize]).unwrap();
    fs::set_permissions(&junk, fs::Permissions::from_mode(0o644)).unwrap();
    let e = err(Arena::open("junk", &options(&dir)).unwrap_err());
    assert!(e.contains("the file is open to other users"), "{e}");
    fs::set_permissions(&junk, fs::Permissions::from_mode(0o600)).unwrap();
    let e = err(Arena::open("junk", &options(&dir)).unwrap_err());
    assert!(e.ends_with("it is not a burnguard arena"), "{e}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn space_that_cannot_be_reserved_is_an_error_at_creation() {
    let dir = directory("reserve");
    let huge = Options {
        size: MAX_SIZE,
        entries: 64,
        ..options(&dir)
    };
    // 64 GiB is more than this machine's /tmp can reserve; if it can, the arena is fine.
    if let Err(e) = Arena::open("huge", &huge) {
        let e = err(e);
        assert!(e.contains("could not reserve 68719476736 bytes"), "{e}");
        assert!(
            !dir.join("huge.arena").exists(),
            "nothing half-made is left"
        );
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_full_arena_is_an_error_never_an_overwrite() {
    let dir = directory("full");
    let a = Arena::open("svc", &options(&dir)).unwrap();
    let big = (MIN_SIZE as usize) / 8 / 2;
    a.region(Kind::Test, "one", 0, big).unwrap();
    let e = err(a.region(Kind::Test, "two", 0, big).unwrap_err());
    assert!(e.contains("is full: no room for"), "{e}");
    // The failed placement left its entry free: a smaller region still fits.
    a.region(Kind::Test, "two", 0, 16).unwrap();
    for i in 0..62 {
        a.region(Kind::Test, &format!("k{i}"), 0, 1).unwrap();
    }
    let e = err(a.region(Kind::Test, "last", 0, 1).unwrap_err());
    assert!(e.contains("every directory entry is taken"), "{e}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn threads_racing_to_place_a_region_all_get_the_same_one() {
    let dir = directory("threads");
    let arena = Arena::open("svc", &options(&dir)).unwrap();
    let offsets: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let r = arena.region(Kind::Test, "hot", 3, 8).unwrap();
                    for _ in 0..10_000 {
                        r.words()[0].fetch_add(1, Ordering::Relaxed);
                    }
                    r.offset()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(offsets.windows(2).all(|w| w[0] == w[1]));
    let r = arena.region(Kind::Test, "hot", 3, 8).unwrap();
    assert_eq!(r.words()[0].load(Ordering::Relaxed), 80_000);
    fs::remove_dir_all(&dir).unwrap();
}

/// Starts this test binary again as a child process playing `role` on the arena in `dir`
/// (see `child_role`): a fresh process, where a fork of the multi-threaded harness could
/// deadlock on a lock another test thread held.
fn spawn(role: &str, dir: &Path, arg: u64) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "arena::tests::child_role",
            "--test-threads=1",
            "--nocapture",
        ])
        .env("BURNGUARD_ARENA_ROLE", role)
        .env("BURNGUARD_ARENA_DIR", dir)
        .env("BURNGUARD_ARENA_ARG", arg.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

const PER_ROUND: u64 = 50;
const KEYS: u64 = 60 * PER_ROUND;

fn chaos_options(dir: &Path) -> Options {
    Options {
        entries: 4096,
        size: 8 << 20,
        ..options(dir)
    }
}

/// The child side of the process tests; does nothing when run as a test of its own.
#[test]
fn child_role() {
    let Ok(role) = std::env::var("BURNGUARD_ARENA_ROLE") else {
        return;
    };
    let dir = PathBuf::from(std::env::var("BURNGUARD_ARENA_DIR").unwrap());
    let arg: u64 = std::env::var("BURNGUARD_ARENA_ARG")
        .unwrap()
        .parse()
        .unwrap();
    match role.as_str() {
        "count" => {
            let arena = Arena::open("svc", &options(&dir)).unwrap();
            let r = arena.region(Kind::Test, "hits", 1, 8).unwrap();
            for _ in 0..50_000 {
                r.words()[0].fetch_add(1, Ordering::Relaxed);
            }
        }
        "claim-and-die" => {
            let arena = Arena::open("svc", &options(&dir)).unwrap();
            directory::claim_only(&arena, Kind::Test, "orphan");
            // SAFETY: kills this process, as SIGKILL would at any instruction.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        }
        "place-forever" => {
            let arena = Arena::open("svc", &chaos_options(&dir)).unwrap();
            // Keys of its own first, so kills land in placements (between claim and publish).
            for i in 0u64.. {
                let key = format!("k{}", (arg * PER_ROUND + i) % KEYS);
                let r = arena.region(Kind::Test, &key, 1, 4).unwrap();
                r.words()[0].fetch_add(1, Ordering::Relaxed);
            }
        }
        other => panic!("no role {other}"),
    }
}

#[test]
fn processes_racing_to_create_and_place_share_one_file_and_region() {
    let dir = directory("processes");
    let children: Vec<_> = (0..6).map(|_| spawn("count", &dir, 0)).collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let arena = Arena::open("svc", &options(&dir)).unwrap();
    let r = arena.region(Kind::Test, "hits", 1, 8).unwrap();
    assert_eq!(r.words()[0].load(Ordering::Relaxed), 300_000);
    let files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(files, ["svc.arena"], "no temporary file is left");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_claim_whose_process_was_killed_is_taken_over() {
    use std::os::unix::process::ExitStatusExt;
    let dir = directory("killed");
    let opts = options(&dir);
    Arena::open("svc", &opts).unwrap();
    // The child claims the entry and is SIGKILLed before it publishes.
    let status = spawn("claim-and-die", &dir, 0).wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    let arena = Arena::open("svc", &opts).unwrap();
    let r = arena.region(Kind::Test, "orphan", 5, 4).unwrap();
    r.words()[0].store(9, Ordering::Relaxed);
    let again = Arena::open("svc", &opts)
        .unwrap()
        .region(Kind::Test, "orphan", 5, 4)
        .unwrap();
    assert_eq!(
        (again.offset(), again.words()[0].load(Ordering::Relaxed)),
        (r.offset(), 9)
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn processes_killed_at_random_moments_while_placing_regions_wedge_nothing() {
    let dir = directory("chaos");
    let opts = chaos_options(&dir);
    Arena::open("svc", &opts).unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..60u64 {
        let mut child = spawn("place-forever", &dir, round);
        // A child starts in a few milliseconds; kill it at a random moment of its placements.
        std::thread::sleep(std::time::Duration::from_micros(2_000 + random() % 8_000));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // Every key still resolves (claims of killed children are taken over), to one region each.
    let arena = Arena::open("svc", &opts).unwrap();
    let ready = directory::published(&arena);
    assert!(
        ready > 100,
        "the children placed regions before they were killed ({ready})"
    );
    let place = |i: u64| {
        arena
            .region(Kind::Test, &format!("k{i}"), 1, 4)
            .unwrap()
            .offset()
    };
    let mut offsets: Vec<u64> = (0..KEYS).map(place).collect();
    assert_eq!(offsets, (0..KEYS).map(place).collect::<Vec<_>>());
    offsets.sort_unstable();
    offsets.dedup();
    assert_eq!(
        offsets.len(),
        KEYS as usize,
        "distinct keys, distinct regions"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_creator_killed_before_publishing_leaves_nothing_in_the_way() {
    let dir = directory("creator");
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    // What a creator killed after making its temporary file leaves: a dead pid's file.
    let dead = 4_000_000 + std::process::id(); // beyond pid_max: no such process
    fs::write(dir.join(format!(".svc.{dead}.tmp")), b"half").unwrap();
    let arena = Arena::open("svc", &options(&dir)).unwrap();
    arena.region(Kind::Test, "a", 0, 1).unwrap();
    let files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(files, ["svc.arena"]);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_claim_left_by_a_dead_process_with_our_pid_is_taken_over() {
    let dir = directory("reused-pid");
    let arena = Arena::open("svc", &options(&dir)).unwrap();
    // As a process that had this pid would have left it, killed before publishing.
    directory::claim_only(&arena, Kind::Test, "mine");
    let r = arena.region(Kind::Test, "mine", 2, 4).unwrap();
    assert_eq!(
        arena.region(Kind::Test, "mine", 2, 4).unwrap().offset(),
        r.offset()
    );
    fs::remove_dir_all(&dir).unwrap();
}
