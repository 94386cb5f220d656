//! pip's binary controls, `--no-binary` and `--only-binary`, with pip's semantics
//! (`pip/_internal/models/format_control.py`): values are package names, `:all:` or
//! `:none:`, comma-separated; options apply in the order given, each one taking its names
//! out of the other set; a name listed explicitly wins over `:all:`, and `--only-binary`
//! wins over `--no-binary` when both name a package.

use std::collections::BTreeSet;

use pep508_rs::PackageName;

/// Which of pip's two options a value belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BinaryOption {
    /// `--no-binary`: do not use wheels (build from the sdist).
    NoBinary,
    /// `--only-binary`: do not use sdists (never build).
    OnlyBinary,
}

impl std::fmt::Display for BinaryOption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BinaryOption::NoBinary => "--no-binary",
            BinaryOption::OnlyBinary => "--only-binary",
        })
    }
}

/// The formats a package may be taken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowedFormats {
    pub binary: bool,
    pub source: bool,
}

/// The package names (normalized, or `:all:`) of `--no-binary` and `--only-binary`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FormatControl {
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub no_binary: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub only_binary: BTreeSet<String>,
}

/// A value of `--no-binary`/`--only-binary` that is neither `:all:`, `:none:` nor a
/// package name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{option} {value:?}: `{item}` is not a package name; give package names, :all: or :none:, separated by commas (e.g. `{option} :all:` or `{option} numpy,scipy`)")]
pub struct FormatControlError {
    pub option: BinaryOption,
    pub value: String,
    pub item: String,
}

impl FormatControl {
    /// Apply one `--no-binary VALUE` or `--only-binary VALUE`, as pip's
    /// `handle_mutual_excludes` does.
    ///
    /// # Errors
    ///
    /// [`FormatControlError`] naming the item of `value` that is neither a package name
    /// nor `:all:` / `:none:`.
    pub fn apply(&mut self, option: BinaryOption, value: &str) -> Result<(), FormatControlError> {
        let (target, other) = match option {
            BinaryOption::NoBinary => (&mut self.no_binary, &mut self.only_binary),
            BinaryOption::OnlyBinary => (&mut self.only_binary, &mut self.no_binary),
        };
        let error = |item: &str| FormatControlError {
            option,
            value: value.to_string(),
            item: item.to_string(),
        };
        let mut items: Vec<&str> = value.split(',').map(str::trim).collect();
        // `:all:` empties both sets; only a later `:none:` lets the rest count.
        while let Some(at) = items.iter().position(|i| *i == ":all:") {
            other.clear();
            target.clear();
            target.insert(":all:".to_string());
            items.drain(..=at);
            if !items.contains(&":none:") {
                return Ok(());
            }
        }
        for item in items {
            match item {
                "" => {}
                ":none:" => target.clear(),
                name => {
                    let name = crate::parse_package_name(name).map_err(|_| error(name))?;
                    other.remove(name.as_ref());
                    target.insert(name.to_string());
                }
            }
        }
        Ok(())
    }

    /// The formats allowed for `name` (pip's `get_allowed_formats`).
    #[must_use]
    pub fn allowed(&self, name: &PackageName) -> AllowedFormats {
        let name = name.as_ref();
        let (binary, source) = if self.only_binary.contains(name) {
            (true, false)
        } else if self.no_binary.contains(name) {
            (false, true)
        } else if self.only_binary.contains(":all:") {
            (true, false)
        } else if self.no_binary.contains(":all:") {
            (false, true)
        } else {
            (true, true)
        };
        AllowedFormats { binary, source }
    }

    /// Nothing restricted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.no_binary.is_empty() && self.only_binary.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> PackageName {
        PackageName::new(s.to_string()).unwrap()
    }

    fn control(options: &[(BinaryOption, &str)]) -> FormatControl {
        let mut control = FormatControl::default();
        for (option, value) in options {
            control.apply(*option, value).unwrap();
        }
        control
    }

    use BinaryOption::{NoBinary, OnlyBinary};

    #[test]
    fn all_none_names_and_order_follow_pip() {
        let c = control(&[(NoBinary, ":all:")]);
        assert!(!c.allowed(&name("x")).binary && c.allowed(&name("x")).source);
        // A name given to the other option wins over :all:.
        let c = control(&[(NoBinary, ":all:"), (OnlyBinary, "Six_Pkg")]);
        assert!(c.allowed(&name("six-pkg")).binary && !c.allowed(&name("six-pkg")).source);
        assert!(!c.allowed(&name("other")).binary);
        // :none: clears its own set.
        let c = control(&[(NoBinary, ":all:"), (NoBinary, ":none:")]);
        assert!(c.is_empty());
        // A later :all: clears both sets.
        let c = control(&[(OnlyBinary, "a"), (NoBinary, "b,:all:")]);
        assert!(c.only_binary.is_empty());
        assert!(c.no_binary.contains(":all:") && c.no_binary.len() == 1);
        // `:all:,:none:,x`: everything after :none: counts.
        let c = control(&[(NoBinary, ":all:,:none:,lxml")]);
        assert_eq!(c.no_binary, BTreeSet::from(["lxml".to_string()]));
        // A name moves from one set to the other.
        let c = control(&[(NoBinary, "a,b"), (OnlyBinary, "a")]);
        assert_eq!(c.no_binary, BTreeSet::from(["b".to_string()]));
        assert_eq!(c.only_binary, BTreeSet::from(["a".to_string()]));
        // Both named: only-binary wins, as in pip.
        let mut both = FormatControl::default();
        both.no_binary.insert("a".into());
        both.only_binary.insert("a".into());
        assert!(!both.allowed(&name("a")).source);
    }

    #[test]
    fn a_bad_value_is_named() {
        let err = FormatControl::default()
            .apply(NoBinary, "numpy,not a name")
            .unwrap_err();
        assert_eq!(err.item, "not a name");
        assert!(err.to_string().contains("--no-binary"), "{err}");
    }
}
