//! The one error type of the core: bad input, always naming the parameter.

use std::fmt;

/// Bad input to a core function. The binding turns it into Python's `ValueError`.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A scalar parameter is out of its domain.
    Invalid {
        /// The parameter's name as the caller spells it.
        param: &'static str,
        /// What was wrong, with the offending value.
        reason: String,
    },
    /// An element of an array parameter is out of its domain.
    InvalidElement {
        /// The array parameter's name.
        param: &'static str,
        /// The first offending position: one index per dimension.
        index: Vec<usize>,
        /// What was wrong, with the offending value.
        reason: String,
    },
}

impl Error {
    /// An [`Error::Invalid`] for `param`.
    pub fn invalid(param: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            param,
            reason: reason.into(),
        }
    }

    /// The same error, about element `index` of the parameter (an array).
    pub fn at(self, index: usize) -> Self {
        match self {
            Error::Invalid { param, reason } | Error::InvalidElement { param, reason, .. } => {
                Error::InvalidElement {
                    param,
                    index: vec![index],
                    reason,
                }
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid { param, reason } => write!(f, "{param} {reason}"),
            Error::InvalidElement {
                param,
                index,
                reason,
            } => {
                let index: Vec<String> = index.iter().map(usize::to_string).collect();
                write!(f, "{param}[{}] {reason}", index.join(", "))
            }
        }
    }
}

impl std::error::Error for Error {}
