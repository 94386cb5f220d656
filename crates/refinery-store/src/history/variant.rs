//! Build variants: the `attempts.variant` column, the `variant` of [`super::Attempt`] and
//! the name in an attempt's log file.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A build variant: a named way to build (`default`, `relaxed-cflags`, `no-isolation`,
/// `emulated`, `gcc-cross`, or one a hint names), optionally with the hint catalog's fixes
/// applied on top, written `NAME+hints` (e.g. `default+hints`).
///
/// Serialized (JSON and database) as that string form. A name is ASCII letters, digits,
/// `-`, `_` and `.` (it becomes part of a log file's name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct Variant(String);

/// The suffix of a variant with the hint catalog's fixes applied.
const HINTS_SUFFIX: &str = "+hints";

impl Variant {
    /// The plain variant `default`.
    pub const DEFAULT: &'static str = "default";

    /// The string form, `NAME` or `NAME+hints`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The variant's name without `+hints`.
    pub fn base(&self) -> &str {
        self.0.strip_suffix(HINTS_SUFFIX).unwrap_or(&self.0)
    }

    /// True for `NAME+hints`.
    pub fn has_hints(&self) -> bool {
        self.0.ends_with(HINTS_SUFFIX)
    }

    /// The same variant with the hint catalog's fixes applied (`NAME+hints`).
    pub fn with_hints(&self) -> Variant {
        Variant(format!("{}{HINTS_SUFFIX}", self.base()))
    }

    /// The same variant without `+hints`.
    pub fn without_hints(&self) -> Variant {
        Variant(self.base().to_string())
    }
}

impl Default for Variant {
    fn default() -> Self {
        Variant(Variant::DEFAULT.to_string())
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Variant {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Variant {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// Error of [`Variant::from_str`], carrying the rejected input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid build variant `{input}`: a variant is a name of ASCII letters, digits, `-`, `_` \
     and `.`, optionally followed by `+hints` (e.g. `default`, `gcc-cross+hints`)"
)]
pub struct ParseVariantError {
    pub input: String,
}

impl FromStr for Variant {
    type Err = ParseVariantError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let base = s.strip_suffix(HINTS_SUFFIX).unwrap_or(s);
        let valid = !base.is_empty()
            && base
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if valid {
            Ok(Variant(s.to_string()))
        } else {
            Err(ParseVariantError {
                input: s.to_string(),
            })
        }
    }
}

impl TryFrom<String> for Variant {
    type Error = ParseVariantError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Variant> for String {
    fn from(v: Variant) -> String {
        v.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_suffix_is_typed() {
        let plain: Variant = "gcc-cross".parse().unwrap();
        assert_eq!(plain.base(), "gcc-cross");
        assert!(!plain.has_hints());
        let hinted = plain.with_hints();
        assert_eq!(hinted.to_string(), "gcc-cross+hints");
        assert_eq!(hinted.base(), "gcc-cross");
        assert!(hinted.has_hints());
        // Applying the hints twice does not stack suffixes.
        assert_eq!(hinted.with_hints(), hinted);
        assert_eq!(hinted.without_hints(), plain);
        assert_eq!("gcc-cross+hints".parse::<Variant>().unwrap(), hinted);
        assert_eq!(Variant::default(), "default");
    }

    #[test]
    fn json_is_the_string_form() {
        let v: Variant = "relaxed-cflags+hints".parse().unwrap();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            "\"relaxed-cflags+hints\""
        );
        assert_eq!(
            serde_json::from_str::<Variant>("\"relaxed-cflags+hints\"").unwrap(),
            v
        );
        let err = serde_json::from_str::<Variant>("\"a b\"").unwrap_err();
        assert!(err.to_string().contains("`a b`"), "{err}");
    }

    #[test]
    fn bad_variants_name_the_input() {
        for bad in ["", "+hints", "a+b", "x+hints+hints", "../x", "a b"] {
            let err = bad.parse::<Variant>().unwrap_err();
            assert_eq!(err.input, bad);
        }
    }
}
