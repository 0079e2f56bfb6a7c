//! Arena files: where they live, who may open them, and how one is made whole before any
//! other process can see it.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use super::{
    directory, ArenaError, Mapping, Options, FORMAT_VERSION, HEADER_BYTES, MAGIC, MIN_SIZE,
};
use crate::Error;

/// The most bytes a name may have.
const MAX_NAME: usize = 64;

/// `/dev/shm/burnguard-<uid>` where `/dev/shm` exists (memory, not disk), else the same under
/// the system's temporary directory.
pub fn default_directory() -> PathBuf {
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    base.join(format!("burnguard-{uid}"))
}

/// A name is 1 to 64 letters, digits, `.`, `_` or `-`, not starting with `.`: never a path.
pub fn check_name(name: &str) -> Result<(), ArenaError> {
    let fine = !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if fine {
        Ok(())
    } else {
        Err(ArenaError::Bad(Error::bad(
            "shared",
            format!(
                "must be an arena name: 1 to {MAX_NAME} letters, digits, '.', '_' or '-', not \
                 starting with '.'"
            ),
            format!("{name:?}"),
        )))
    }
}

fn io_error(path: &Path, doing: &str, source: io::Error) -> ArenaError {
    ArenaError::Io {
        path: path.to_path_buf(),
        doing: doing.to_owned(),
        source,
    }
}

fn refused(path: &Path, reason: impl Into<String>) -> ArenaError {
    ArenaError::Refused {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Checks that `meta` is the user's own and nobody else's to read or write.
fn check_private(path: &Path, meta: &fs::Metadata, what: &str) -> Result<(), ArenaError> {
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    if meta.uid() != uid {
        return Err(refused(
            path,
            format!("the {what} is owned by uid {}, not {uid}", meta.uid()),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(refused(
            path,
            format!(
                "the {what} is open to other users (mode {:o}); it must be {}",
                meta.mode() & 0o777,
                if what == "directory" { "0700" } else { "0600" }
            ),
        ));
    }
    Ok(())
}

/// Creates `directory` (mode 0700) if needed and checks it is a private directory.
fn private_directory(directory: &Path) -> Result<(), ArenaError> {
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(directory)
    {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_error(directory, "create the directory", e)),
    }
    let meta = fs::symlink_metadata(directory)
        .map_err(|e| io_error(directory, "inspect the directory", e))?;
    if !meta.is_dir() {
        return Err(refused(
            directory,
            "it is not a directory (or is a symlink)",
        ));
    }
    check_private(directory, &meta, "directory")
}

/// The file of the arena `name` in `directory` (default: [`default_directory`]).
pub fn arena_file(name: &str, directory: Option<&Path>) -> Result<PathBuf, ArenaError> {
    check_name(name)?;
    let directory = directory.map_or_else(default_directory, Path::to_path_buf);
    Ok(directory.join(format!("{name}.arena")))
}

/// Maps the arena `name` in `directory`, creating it first if it does not exist.
pub(super) fn open_or_create(
    directory: &Path,
    name: &str,
    options: &Options,
) -> Result<Mapping, ArenaError> {
    private_directory(directory)?;
    let path = arena_file(name, Some(directory))?;
    loop {
        match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
        {
            Ok(file) => return map(&path, &file),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                create(directory, name, &path, options)?
            }
            Err(e) => return Err(io_error(&path, "open", e)),
        }
    }
}

/// Makes the arena whole under a temporary name, then publishes it with `link` (which fails if
/// another process published first; then that arena is the one, and this one is removed).
fn create(directory: &Path, name: &str, path: &Path, options: &Options) -> Result<(), ArenaError> {
    remove_abandoned(directory, name);
    let temp = directory.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&temp); // a leftover of this pid's own earlier attempt
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&temp)
        .map_err(|e| io_error(&temp, "create", e))?;
    let made = initialize(&temp, &file, options).and_then(|()| match fs::hard_link(&temp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_error(path, "publish", e)),
    });
    let _ = fs::remove_file(&temp);
    made
}

/// Reserves the file's space and writes its header.
fn initialize(temp: &Path, file: &File, options: &Options) -> Result<(), ArenaError> {
    let size = libc::off_t::try_from(options.size).expect("size is at most MAX_SIZE");
    // SAFETY: a valid descriptor; posix_fallocate returns an error number, not -1.
    let reserved = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, size) };
    if reserved != 0 {
        let doing = format!("reserve {} bytes (the arena's size) for", options.size);
        return Err(io_error(
            temp,
            &doing,
            io::Error::from_raw_os_error(reserved),
        ));
    }
    let mapping = map_raw(temp, file, options.size as usize)?;
    let header = mapping.header();
    header.version.store(FORMAT_VERSION, Ordering::Relaxed);
    header.entries.store(options.entries, Ordering::Relaxed);
    header.size.store(options.size, Ordering::Relaxed);
    let directory_end = HEADER_BYTES + u64::from(options.entries) * directory::ENTRY_BYTES;
    header.next_free.store(directory_end, Ordering::Relaxed);
    header.magic.store(MAGIC, Ordering::Release);
    Ok(())
}

/// Removes the temporary files of creators of `name` that died before publishing.
fn remove_abandoned(directory: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(directory) else {
        return;
    };
    let prefix = format!(".{name}.");
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.strip_suffix(".tmp"))
        else {
            continue;
        };
        if rest
            .parse::<u64>()
            .is_ok_and(|pid| !crate::process::alive(pid))
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn map_raw(path: &Path, file: &File, len: usize) -> Result<Mapping, ArenaError> {
    // SAFETY: a fresh shared mapping of a file at least `len` long; checked for failure.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(io_error(path, "map", io::Error::last_os_error()));
    }
    Ok(Mapping {
        base: base.cast(),
        len,
        path: path.to_path_buf(),
    })
}

/// Checks that `file` is the user's private arena of this format, and maps it.
fn map(path: &Path, file: &File) -> Result<Mapping, ArenaError> {
    let meta = file.metadata().map_err(|e| io_error(path, "inspect", e))?;
    if !meta.is_file() {
        return Err(refused(path, "it is not a regular file"));
    }
    check_private(path, &meta, "file")?;
    if meta.len() < MIN_SIZE {
        return Err(refused(
            path,
            format!("it is {} bytes, not an arena", meta.len()),
        ));
    }
    let mapping = map_raw(path, file, meta.len() as usize)?;
    let header = mapping.header();
    if header.magic.load(Ordering::Acquire) != MAGIC {
        return Err(refused(path, "it is not a burnguard arena"));
    }
    let version = header.version.load(Ordering::Relaxed);
    if version != FORMAT_VERSION {
        return Err(refused(
            path,
            format!(
                "it is format version {version}; this burnguard reads version {FORMAT_VERSION}"
            ),
        ));
    }
    let entries = u64::from(header.entries.load(Ordering::Relaxed));
    let size = header.size.load(Ordering::Relaxed);
    let next = header.next_free.load(Ordering::Relaxed);
    let directory_end = HEADER_BYTES + entries * directory::ENTRY_BYTES;
    if size != meta.len() || entries == 0 || directory_end > next || next > size {
        return Err(refused(
            path,
            "its header does not describe this file (damaged?)",
        ));
    }
    Ok(mapping)
}
