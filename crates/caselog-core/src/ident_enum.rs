//! A macro for enums that have one stable text identifier per variant.

/// Declares an enum whose variants have fixed identifiers used in every
/// interface (JSON, CLI, query language), with `ALL`, `as_str`, `parse`,
/// `Display` and serde as the identifier.
macro_rules! ident_enum {
    (
        $(#[$doc:meta])*
        $name:ident, $field:literal {
            $( $(#[$vdoc:meta])* $variant:ident = $ident:literal ),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$vdoc])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The identifier used in every interface.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $ident),+
                }
            }

            /// Parses an identifier (exact, case-insensitive).
            pub fn parse(text: &str) -> Result<Self, $crate::error::ValidationError> {
                let t = text.trim();
                $(
                    if t.eq_ignore_ascii_case($ident) {
                        return Ok($name::$variant);
                    }
                )+
                Err($crate::error::ValidationError::Unknown {
                    field: $field,
                    value: $crate::error::excerpt(text),
                    expected: concat!($($ident, " "),+),
                })
            }

            /// A dense index of the variant (0-based, declaration order).
            pub const fn index(self) -> usize {
                self as usize
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::error::ValidationError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                $name::parse(text)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use ident_enum;
