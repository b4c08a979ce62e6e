//! Enums whose every variant has one name: its spelling in race files,
//! flags, `summary.json` and reports. [`named_enum!`] declares the enum
//! with its table of names, and gives it `ALL` (the variants in order:
//! where that order is a wire code, variants are only appended), `name()`
//! and `from_name()`, so no enum writes its table twice.

/// Declares a fieldless enum with a name for each variant:
///
/// ```text
/// named_enum! {
///     #[derive(Debug, Clone, Copy, PartialEq, Eq)]
///     pub enum Arrivals {
///         /// Evenly spaced.
///         Constant = "constant",
///         Poisson = "poisson",
///     }
/// }
/// ```
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $text:literal
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $(
                $(#[$vmeta])*
                $variant,
            )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [$name; [$(stringify!($variant)),+].len()] = [$($name::$variant),+];

            /// Its name, as files and reports spell it.
            #[must_use]
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The variant named `name` exactly.
            #[must_use]
            #[allow(dead_code)]
            pub fn from_name(name: &str) -> Option<$name> {
                match name {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

pub(crate) use named_enum;

/// Serialises and deserialises a [`named_enum!`] by its name (for the
/// enums `summary.json` holds).
macro_rules! serde_by_name {
    ($name:ident) => {
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $name::from_name(&name).ok_or_else(|| {
                    let names: Vec<&str> = $name::ALL.iter().map(|v| v.name()).collect();
                    serde::de::Error::custom(format!(
                        "unknown {} '{name}'; expected one of: {}",
                        stringify!($name),
                        names.join(", ")
                    ))
                })
            }
        }
    };
}

pub(crate) use serde_by_name;
