//! Spend safeguards: budget, spike (mean, MAD, percentile), burn, forecast, breaker and policy
//! checks, for one value or one series at a time and over whole batches.
//!
//! The figures follow cloudcircuit 0.3.8 operation for operation. Its means are Python's
//! `sum(values) / len(values)`; [`python_sum`] is the compensated summation CPython 3.12 and
//! later use for floats, so means agree with the peer to the last bit there (and within a few
//! units in the last place of 3.11's plain left-to-right sum). Medians and quantiles select the
//! same order statistics the peer's sort does, so they agree exactly.
//!
//! Batch kernels write one output column per result field. Bad input is an error naming the
//! parameter and the first bad index: elementwise kernels check before computing, series
//! kernels check each series as they read it (see [`SeriesBatch`]). Robust checks on series of
//! up to 33 points sort eight series at a time with a sorting network (`network.rs`).
//!
//! Modules: [`results`] (the result types, option defaults and policy actions),
//! [`elementwise`] (budget, forecast, breaker and policy checks over rows), [`series`] (spike
//! and burn checks over series), [`rolling`] (the same at every point of a series), `order`
//! (medians, MADs and quantiles), `sums` (Python's float sums).

use crate::error::Error;
use crate::simd;
use std::sync::atomic::{AtomicBool, Ordering};

/// Values per task when a batch is split across threads; smaller batches stay on the caller's
/// thread. Every row is computed by the same code whatever the split, so results never depend
/// on the number of threads.
pub const POINTS_PER_TASK: usize = 16_384;

/// Output columns that can be cut at a row, so the halves can be filled on different threads.
pub trait Columns: Send + Sized {
    /// Rows in these columns.
    fn rows(&self) -> usize;
    /// The first `mid` rows and the rest.
    fn split_at(self, mid: usize) -> (Self, Self);
}

/// Implements [`Columns`] for a struct of equally long mutable slices.
macro_rules! columns {
    ($name:ident { $first:ident $(, $field:ident)* }) => {
        impl Columns for $name<'_> {
            fn rows(&self) -> usize {
                self.$first.len()
            }

            fn split_at(self, mid: usize) -> (Self, Self) {
                let $first = self.$first.split_at_mut(mid);
                $(let $field = self.$field.split_at_mut(mid);)*
                (
                    $name { $first: $first.0, $($field: $field.0),* },
                    $name { $first: $first.1, $($field: $field.1),* },
                )
            }
        }

        impl $name<'_> {
            /// The rows, once every column is checked to hold as many as the first.
            fn equal_rows(&self) -> Result<usize, Error> {
                let rows = self.$first.len();
                $(if self.$field.len() != rows {
                    return Err(Error::bad(
                        stringify!($field),
                        format!("must hold {rows} values, as {} does", stringify!($first)),
                        self.$field.len(),
                    ));
                })*
                Ok(rows)
            }
        }
    };
}

/// Calls `fill(piece, first_row)` on pieces of `columns` of at most `rows_per_task` rows, in
/// parallel on rayon's pool.
fn par_fill<C: Columns>(
    columns: C,
    first_row: usize,
    rows_per_task: usize,
    fill: &(impl Fn(C, usize) + Sync),
) {
    let rows = columns.rows();
    if rows <= rows_per_task {
        fill(columns, first_row);
        return;
    }
    let mid = rows / 2;
    let (head, tail) = columns.split_at(mid);
    rayon::join(
        || par_fill(head, first_row, rows_per_task, fill),
        || par_fill(tail, first_row + mid, rows_per_task, fill),
    );
}

/// [`par_fill`] with a `fill` that validates its piece and returns `false`, writing nothing
/// more, when a row is bad; then `first_error` searches the whole input for the error to
/// report (in the peer's order), and `out` is not to be read.
fn par_fill_checked<C: Columns>(
    out: C,
    rows_per_task: usize,
    fill: &(impl Fn(C, usize) -> bool + Sync),
    first_error: impl FnOnce() -> Result<(), Error>,
) -> Result<(), Error> {
    let bad = AtomicBool::new(false);
    par_fill(out, 0, rows_per_task, &|out: C, first: usize| {
        if !fill(out, first) {
            bad.store(true, Ordering::Relaxed);
        }
    });
    if bad.into_inner() {
        first_error()?;
        unreachable!("a piece failed validation, so the search finds an error");
    }
    Ok(())
}

fn positive(param: &'static str, value: f64) -> Result<f64, Error> {
    if value > 0.0 && value.is_finite() {
        Ok(value)
    } else {
        Err(Error::bad(param, "must be > 0", value))
    }
}

fn non_negative(param: &'static str, value: f64) -> Result<f64, Error> {
    if value >= 0.0 && value.is_finite() {
        Ok(value)
    } else {
        Err(Error::bad(param, "must be >= 0", value))
    }
}

fn above_one(param: &'static str, value: f64) -> Result<f64, Error> {
    if value > 1.0 && value.is_finite() {
        Ok(value)
    } else {
        Err(Error::bad(param, "must be > 1.0", value))
    }
}

fn in_open_unit(param: &'static str, value: f64) -> Result<f64, Error> {
    if value > 0.0 && value < 1.0 {
        Ok(value)
    } else {
        Err(Error::bad(param, "must be in (0, 1)", value))
    }
}

/// Value `i` of a column that is either one value for all rows or one per row.
#[inline(always)]
fn at<T: Copy>(column: &[T], i: usize) -> T {
    if column.len() == 1 {
        column[0]
    } else {
        column[i]
    }
}

/// Checks that every column holds one value or `rows` values.
fn check_lengths(rows: usize, columns: &[(&'static str, usize)]) -> Result<(), Error> {
    for &(param, len) in columns {
        if len != 1 && len != rows {
            return Err(Error::bad(
                param,
                format!("must hold 1 or {rows} values"),
                len,
            ));
        }
    }
    Ok(())
}

/// Whether every element passes `valid`, in a branch-free pass the compiler vectorizes.
#[inline(always)]
fn all_valid(column: &[f64], valid: fn(f64) -> bool) -> bool {
    column.iter().fold(true, |ok, &v| ok & valid(v))
}

/// The first element of `column` failing `valid`, as `check`'s error at that index; the
/// position is searched only when [`all_valid`] finds something wrong.
fn first_bad(
    column: &[f64],
    valid: fn(f64) -> bool,
    check: impl Fn(f64) -> Result<f64, Error>,
) -> Result<(), Error> {
    if all_valid(column, valid) {
        return Ok(());
    }
    let i = column
        .iter()
        .position(|&v| !valid(v))
        .expect("one is invalid");
    Err(located(check(column[i]).unwrap_err(), column.len(), i))
}

/// `e`, about row `i` of a column of `len` values: at that index, unless the column holds one
/// value for every row (a broadcast scalar, whose error has no position).
fn located(e: Error, len: usize, i: usize) -> Error {
    if len > 1 {
        e.at(i)
    } else {
        e
    }
}

/// `e`, about row `i` of the column among `columns` (name, length) that it names.
fn located_in(e: Error, columns: &[(&'static str, usize)], i: usize) -> Error {
    let len = columns
        .iter()
        .find(|(p, _)| *p == e.param)
        .map_or(0, |c| c.1);
    located(e, len, i)
}

/// Row `i`'s value of a column of one value for all rows or one per row; None for an empty
/// column (a batch of no rows, where only the one-value arguments are checked).
fn value<T: Copy>(column: &[T], i: usize) -> Option<T> {
    match column.len() {
        0 => None,
        1 => Some(column[0]),
        _ => Some(column[i]),
    }
}

#[inline(always)]
fn is_positive(v: f64) -> bool {
    v > 0.0 && v < f64::INFINITY
}

#[inline(always)]
fn is_non_negative(v: f64) -> bool {
    (0.0..f64::INFINITY).contains(&v)
}

/// The `rows` of a column that holds one value for all rows or one per row.
fn piece<T>(column: &[T], rows: std::ops::Range<usize>) -> &[T] {
    match column {
        [_] => column,
        _ => &column[rows],
    }
}

// After the `columns!` macro, which the modules use.
mod elementwise;
mod order;
mod results;
mod rolling;
mod series;
mod sums;
#[cfg(all(test, not(loom)))]
mod tests;

pub use elementwise::*;
use order::*;
pub use results::*;
pub use rolling::*;
pub use series::*;
pub use sums::*;
