//! The one error type of the core: bad input, as structured data.
//!
//! An [`Error`] carries what a caller needs to act on it without reading its text: the
//! [`ErrorKind`], the parameter's user-facing name, the position of the first bad element
//! for arrays, the offending value as given, and the requirement it broke. Its `Display` is the
//! message users see: `param[i, j] requirement; got value`.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// What kind of bad input an [`Error`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A value outside its parameter's domain (Python's `ValueError`).
    Value,
    /// A value of the wrong type (Python's `TypeError`).
    Type,
    /// A caller's callback (an injected clock, say) failed; `source` holds its own error.
    Callback,
}

/// Bad input to a core function, always naming the parameter.
#[derive(Debug, Clone)]
pub struct Error {
    /// Value or type.
    pub kind: ErrorKind,
    /// The parameter's name as the caller spells it.
    pub param: Cow<'static, str>,
    /// The first offending position in an array parameter, one index per dimension; empty for
    /// a scalar parameter.
    pub index: Vec<usize>,
    /// The offending value as given, if the message shows one.
    pub value: Option<String>,
    /// The requirement that was broken, such as `must be in (0, 1)`.
    pub requirement: String,
    /// The callback's own error, for [`ErrorKind::Callback`].
    pub source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

/// Errors are equal when their fields are; sources are compared by identity.
impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        let same_source = match (&self.source, &other.source) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        same_source
            && (
                self.kind,
                &self.param,
                &self.index,
                &self.value,
                &self.requirement,
            ) == (
                other.kind,
                &other.param,
                &other.index,
                &other.value,
                &other.requirement,
            )
    }
}

impl Eq for Error {}

impl Error {
    /// A bad value of `param` that broke `requirement` (no value shown).
    pub fn invalid(param: impl Into<Cow<'static, str>>, requirement: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Value,
            param: param.into(),
            index: Vec::new(),
            value: None,
            requirement: requirement.into(),
            source: None,
        }
    }

    /// `param`, a caller's callback, failed with `source`.
    pub fn callback(
        param: impl Into<Cow<'static, str>>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error {
            kind: ErrorKind::Callback,
            source: Some(Arc::new(source)),
            ..Error::invalid(param, "raised")
        }
    }

    /// `value`, given for `param`, broke `requirement`.
    pub fn bad(
        param: impl Into<Cow<'static, str>>,
        requirement: impl Into<String>,
        value: impl fmt::Display,
    ) -> Self {
        Error {
            value: Some(value.to_string()),
            ..Error::invalid(param, requirement)
        }
    }

    /// `value`, given for `param`, is of the wrong type: it should be `expected`.
    pub fn wrong_type(
        param: impl Into<Cow<'static, str>>,
        expected: impl Into<String>,
        value: impl fmt::Display,
    ) -> Self {
        Error {
            kind: ErrorKind::Type,
            ..Error::bad(param, expected, value)
        }
    }

    /// The same error, about element `index` of the parameter (a 1-D array).
    pub fn at(self, index: usize) -> Self {
        Error {
            index: vec![index],
            ..self
        }
    }

    /// The message without the parameter and position: `requirement; got value`.
    pub fn reason(&self) -> String {
        match &self.value {
            Some(value) => format!("{}; got {value}", self.requirement),
            None => self.requirement.clone(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.param)?;
        if !self.index.is_empty() {
            let index: Vec<String> = self.index.iter().map(usize::to_string).collect();
            write!(f, "[{}]", index.join(", "))?;
        }
        write!(f, " {}", self.reason())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_built_from_the_fields() {
        let e = Error::bad("target", "must be in (0, 1)", 1.5);
        assert_eq!(e.to_string(), "target must be in (0, 1); got 1.5");
        assert_eq!(e.value.as_deref(), Some("1.5"));
        assert_eq!(e.kind, ErrorKind::Value);
        let e = Error::invalid("instances", "must not be empty");
        assert_eq!(e.to_string(), "instances must not be empty");
        let e = Error::wrong_type("unit", "must be a Unit", "3");
        assert_eq!(e.kind, ErrorKind::Type);
        assert_eq!(e.to_string(), "unit must be a Unit; got 3");
    }

    #[test]
    fn positions_are_shown_after_the_parameter() {
        let e = Error::bad("budget_limit", "must be > 0", -1).at(7);
        assert_eq!(e.to_string(), "budget_limit[7] must be > 0; got -1");
        let e = Error {
            index: vec![2, 9],
            ..e
        };
        assert_eq!(e.to_string(), "budget_limit[2, 9] must be > 0; got -1");
    }
}
