//! Conversions shared by the bindings: numpy arrays borrowed as slices.

use burnguard_core::Error;
use numpy::{BorrowError, PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadwriteArray1};
use pyo3::prelude::*;

use crate::errors::py_err;

/// The elements of a contiguous 1-D array.
pub(crate) fn slice<'a, T: numpy::Element>(
    param: &str,
    array: &'a PyReadonlyArray1<'_, T>,
) -> PyResult<&'a [T]> {
    array.as_slice().map_err(|_| {
        py_err(Error::invalid(
            param.to_string(),
            "must be a contiguous 1-D array",
        ))
    })
}

/// Borrows an output array for writing; it must be writeable and share no memory with the
/// call's inputs or other outputs.
pub(crate) fn writable<'py, T: numpy::Element>(
    param: &str,
    array: &Bound<'py, PyArray1<T>>,
) -> PyResult<PyReadwriteArray1<'py, T>> {
    array.try_readwrite().map_err(|err| {
        py_err(Error::invalid(
            param.to_string(),
            match err {
                BorrowError::NotWriteable => "must be writeable",
                _ => "must not share memory with the inputs or another output",
            },
        ))
    })
}

/// The elements of a borrowed output array.
pub(crate) fn slice_mut<'a, T: numpy::Element>(
    param: &str,
    array: &'a mut PyReadwriteArray1<'_, T>,
) -> PyResult<&'a mut [T]> {
    array.as_slice_mut().map_err(|_| {
        py_err(Error::invalid(
            param.to_string(),
            "must be a contiguous 1-D array",
        ))
    })
}
