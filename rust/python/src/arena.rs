//! Bindings for shared-memory arenas (`burnguard_core::arena`): the facade's `Arena` wraps
//! [`ArenaCore`]; stateful cores take one as `shared=`.

use std::path::PathBuf;

use burnguard_core::arena::{arena_file, Arena, ArenaError, Options};
use pyo3::exceptions::{PyOSError, PyPermissionError};
use pyo3::prelude::*;

use crate::errors::py_err;

/// The exception for an arena that could not be opened or has no room: `ValueError` naming
/// the parameter for bad input, `PermissionError` for a file or directory that is not the
/// user's private one, `OSError` with the system's `errno` otherwise (`ENOSPC` when full);
/// each names the file.
pub(crate) fn arena_err(e: ArenaError) -> PyErr {
    const ENOSPC: i32 = 28; // Linux's, where arenas exist
    let message = e.to_string();
    match e {
        ArenaError::Bad(e) => py_err(e),
        ArenaError::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
            PyPermissionError::new_err(message)
        }
        ArenaError::Io { source, .. } => {
            PyOSError::new_err((source.raw_os_error().unwrap_or(0), message))
        }
        ArenaError::Refused { .. } => PyPermissionError::new_err(message),
        ArenaError::Full { .. } => PyOSError::new_err((ENOSPC, message)),
    }
}

/// A named shared-memory arena; see `burnguard.Arena`.
#[pyclass(module = "burnguard._native", frozen)]
pub(crate) struct ArenaCore {
    pub(crate) arena: Arena,
}

#[pymethods]
impl ArenaCore {
    /// The file the arena `name` lives in (whether it exists or not).
    #[staticmethod]
    #[pyo3(signature = (name, *, directory = None))]
    fn file_of(name: &str, directory: Option<PathBuf>) -> PyResult<PathBuf> {
        arena_file(name, directory.as_deref()).map_err(arena_err)
    }

    #[new]
    #[pyo3(signature = (name, *, directory = None, size = None, entries = None))]
    fn new(
        py: Python<'_>,
        name: &str,
        directory: Option<PathBuf>,
        size: Option<u64>,
        entries: Option<u32>,
    ) -> PyResult<Self> {
        let defaults = Options::default();
        let options = Options {
            directory,
            size: size.unwrap_or(defaults.size),
            entries: entries.unwrap_or(defaults.entries),
        };
        let arena = py
            .detach(|| Arena::open(name, &options))
            .map_err(arena_err)?;
        Ok(ArenaCore { arena })
    }

    /// The arena's name.
    #[getter]
    fn name(&self) -> &str {
        self.arena.name()
    }

    /// The arena's file.
    #[getter]
    fn path(&self) -> PathBuf {
        self.arena.path().to_path_buf()
    }

    /// The arena's size in bytes.
    #[getter]
    fn size(&self) -> u64 {
        self.arena.size()
    }

    /// Bytes taken so far (header, directory and regions).
    #[getter]
    fn used(&self) -> u64 {
        self.arena.used()
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ArenaCore>()?;
    m.add(
        "default_arena_directory",
        burnguard_core::arena::default_directory()
            .to_string_lossy()
            .into_owned(),
    )?;
    Ok(())
}
