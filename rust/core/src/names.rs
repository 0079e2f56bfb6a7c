//! Names of the core's enums, declared once: `as_str`, `ALL` and `FromStr` from one table.

/// For a fieldless enum, from `Variant => "name"` pairs: `ALL` (every variant in order),
/// `as_str` (its name) and `FromStr` (the variant named so, else an [`Error`](crate::Error)
/// naming parameter `$param` and listing the names).
macro_rules! named_enum {
    ($ty:ident, $param:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// Its name, as users, files and protocols spell it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = crate::Error;

            fn from_str(name: &str) -> Result<Self, Self::Err> {
                $ty::ALL.iter().copied().find(|v| v.as_str() == name).ok_or_else(|| {
                    let names: Vec<&str> = $ty::ALL.iter().map(|v| v.as_str()).collect();
                    crate::Error::bad(
                        $param,
                        format!("must be one of {}", names.join(", ")),
                        format_args!("{name:?}"),
                    )
                })
            }
        }
    };
}

pub(crate) use named_enum;

#[cfg(all(test, not(loom)))]
mod tests {
    use crate::breaker::State;
    use crate::ledger::{Overage, Status, Unit};

    #[test]
    fn every_name_parses_back_and_others_are_errors_listing_the_names() {
        for &state in State::ALL {
            assert_eq!(state.as_str().parse::<State>(), Ok(state));
        }
        for &unit in Unit::ALL {
            assert_eq!(unit.as_str().parse::<Unit>(), Ok(unit));
        }
        assert_eq!("EXPIRED".parse::<Status>(), Ok(Status::Expired));
        let err = "LAX".parse::<Overage>().unwrap_err();
        assert_eq!(err.param, "overage_policy");
        assert_eq!(
            err.to_string(),
            "overage_policy must be one of REJECT, ALLOW_IF_AVAILABLE, ALLOW_WITH_OVERDRAFT; got \"LAX\""
        );
    }
}
