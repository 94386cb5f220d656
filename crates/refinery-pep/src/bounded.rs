//! Parsing of untrusted PEP 508 text with a bound on nesting.
//!
//! `pep508_rs` parses markers by recursive descent: every `(` costs a stack frame, so a
//! 6 KB line of nested parentheses overflows a 2 MiB thread stack, and a stack overflow
//! aborts the whole process (it cannot be caught). Every requirement or marker that comes
//! from a user, an uploaded file, a wheel's METADATA or an sdist goes through
//! [`parse_requirement`] or [`check_nesting`] first, so the CLI, the server and the
//! worker share one guard.

use std::str::FromStr;

use pep508_rs::Requirement;

/// Deepest bracket nesting accepted in one requirement or marker. Real markers nest two
/// or three levels; 32 leaves room and keeps the parser far from any stack limit.
pub const MAX_NESTING: usize = 32;

/// Longest requirement or marker accepted, in bytes. The longest `Requires-Dist` lines on
/// PyPI are a few hundred bytes.
pub const MAX_REQUIREMENT_LEN: usize = 16 * 1024;

/// Why a requirement was refused before or while parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoundedParseError {
    #[error(
        "nests brackets {depth} deep (at most {MAX_NESTING} are accepted); \
         simplify the marker"
    )]
    TooDeep { depth: usize },
    #[error("is {len} bytes long (at most {MAX_REQUIREMENT_LEN} are accepted)")]
    TooLong { len: usize },
    #[error("{0}")]
    Invalid(String),
}

/// Refuse `text` when its `(`/`[` nesting exceeds [`MAX_NESTING`] or it is longer than
/// [`MAX_REQUIREMENT_LEN`]. Brackets inside quotes count too: the bound is on the text,
/// which is cheap and never too strict for real markers.
///
/// # Errors
///
/// [`BoundedParseError::TooLong`] or [`BoundedParseError::TooDeep`] with the length or
/// depth found.
pub fn check_nesting(text: &str) -> Result<(), BoundedParseError> {
    if text.len() > MAX_REQUIREMENT_LEN {
        return Err(BoundedParseError::TooLong { len: text.len() });
    }
    let mut depth = 0usize;
    let mut deepest = 0usize;
    for byte in text.bytes() {
        match byte {
            b'(' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_NESTING {
        return Err(BoundedParseError::TooDeep { depth: deepest });
    }
    Ok(())
}

/// Parse a PEP 508 requirement after [`check_nesting`].
///
/// # Errors
///
/// The errors of [`check_nesting`], and [`BoundedParseError::Invalid`] with
/// `pep508_rs`'s message for text that is no PEP 508 requirement.
pub fn parse_requirement(text: &str) -> Result<Requirement, BoundedParseError> {
    check_nesting(text)?;
    Requirement::from_str(text).map_err(|e| BoundedParseError::Invalid(e.message.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!(
            "six; {}python_version < '4'{}",
            "(".repeat(depth),
            ")".repeat(depth)
        )
    }

    #[test]
    fn real_markers_pass_and_deep_ones_are_refused_before_parsing() {
        let ok = parse_requirement(
            "pywin32>=1; (sys_platform == 'win32' and (python_version < '3.12' or extra == 'x'))",
        )
        .unwrap();
        assert_eq!(ok.name.as_ref(), "pywin32");
        assert!(parse_requirement(&nested(MAX_NESTING)).is_ok());
        let err = parse_requirement(&nested(3000)).unwrap_err();
        assert_eq!(err, BoundedParseError::TooDeep { depth: 3000 });
        assert!(err.to_string().contains("3000 deep"), "{err}");
    }

    #[test]
    fn the_guard_keeps_a_small_stack_alive() {
        // The server's tokio workers have 2 MiB; a thread with 256 KiB must survive too.
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| parse_requirement(&nested(100_000)).is_err())
            .unwrap();
        assert!(handle.join().unwrap());
    }

    #[test]
    fn the_longest_flat_marker_accepted_parses_on_a_tokio_sized_stack() {
        let mut flat = "six; python_version < '4'".to_string();
        while flat.len() + 30 < MAX_REQUIREMENT_LEN {
            flat.push_str(" and python_version < '4'");
        }
        let handle = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || parse_requirement(&flat).is_ok())
            .unwrap();
        assert!(handle.join().unwrap());
    }

    #[test]
    fn overlong_and_invalid_text_is_refused_with_the_reason() {
        let long = format!("six; {}", "python_version < '4' and ".repeat(1000));
        assert!(matches!(
            parse_requirement(&long),
            Err(BoundedParseError::TooLong { .. })
        ));
        assert!(matches!(
            parse_requirement("six ==="),
            Err(BoundedParseError::Invalid(_))
        ));
    }
}
