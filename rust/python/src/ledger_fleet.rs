//! The fleet ledger's sequencer, adapted from a Python object (`burnguard.redis.ledger`'s,
//! which runs the Redis scripts): converts its answers, nothing else.

use burnguard_core::ledger::{Sequenced, Sequencer, SequencerError, Snapshot};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

/// A Python object with `sequence(instance, after, token, entries)` and `seed(seq, time, token,
/// text)` (see
/// `burnguard_core::ledger::Sequencer`). Called with the GIL taken here: the binding calls a
/// fleet ledger's operations with the GIL released.
pub(crate) struct PySequencer(pub(crate) Py<PyAny>);

/// Text from a `str` or from `bytes` (redis-py's replies, undecoded).
fn text(value: &Bound<'_, PyAny>) -> PyResult<String> {
    match value.cast::<PyBytes>() {
        Ok(bytes) => String::from_utf8(bytes.as_bytes().to_vec())
            .map_err(|_| pyo3::exceptions::PyValueError::new_err("an entry is not UTF-8")),
        Err(_) => value.extract(),
    }
}

fn snapshot_of(value: &Bound<'_, PyAny>) -> PyResult<Option<Snapshot>> {
    if value.is_none() {
        return Ok(None);
    }
    let (seq, time, token, body): (u64, i64, Bound<'_, PyAny>, Bound<'_, PyAny>) =
        value.extract()?;
    Ok(Some(Snapshot {
        seq,
        time,
        token: text(&token)?,
        text: text(&body)?,
    }))
}

fn sequenced_of(value: &Bound<'_, PyAny>) -> PyResult<Option<Sequenced>> {
    if value.is_none() {
        return Ok(None);
    }
    let (instance, full, snapshot, first, entries, own): (
        Bound<'_, PyAny>,
        bool,
        Bound<'_, PyAny>,
        u64,
        Bound<'_, PyList>,
        u64,
    ) = value.extract()?;
    Ok(Some(Sequenced {
        instance: text(&instance)?,
        full,
        snapshot: snapshot_of(&snapshot)?,
        first,
        entries: entries
            .iter()
            .map(|e| text(&e))
            .collect::<PyResult<Vec<_>>>()?,
        own,
    }))
}

/// The sequencer's exception: a `SharedLedgerError` is a refusal, anything else an outage.
fn failure(py: Python<'_>, err: PyErr) -> SequencerError {
    if crate::errors::is_ledger_error(py, &err, "SHARED_LEDGER_FAILED") {
        return SequencerError::Refused(err.value(py).to_string());
    }
    let class = err
        .get_type(py)
        .name()
        .map_or_else(|_| "Error".into(), |n| n.to_string());
    SequencerError::Unreachable(format!("{class}: {}", err.value(py)))
}

impl Sequencer for PySequencer {
    fn sequence(
        &self,
        instance: &str,
        after: u64,
        token: &str,
        entries: &[&str],
    ) -> Result<Option<Sequenced>, SequencerError> {
        Python::attach(|py| {
            let answer = self
                .0
                .call_method1(py, "sequence", (instance, after, token, entries.to_vec()))
                .map_err(|e| failure(py, e))?;
            sequenced_of(answer.bind(py)).map_err(|e| failure(py, e))
        })
    }

    fn seed(&self, snapshot: &Snapshot) -> Result<(), SequencerError> {
        Python::attach(|py| {
            self.0
                .call_method1(
                    py,
                    "seed",
                    (snapshot.seq, snapshot.time, &snapshot.token, &snapshot.text),
                )
                .map(drop)
                .map_err(|e| failure(py, e))
        })
    }
}
