//! How an error reaches the terminal: `error:` with the top message, one `Caused by:` per
//! cause of its [`std::error::Error::source`] chain, then every `hint:` of the chain, last
//! (after the causes it explains). Each line appears once: a cause whose text a message
//! above already shows (a library error that writes `{source}` into its own message and
//! also returns it as its source) is not printed again, nor is a hint twice. Credentials in
//! URLs are redacted (DESIGN.md convention 9).

use std::error::Error;

/// The rendered text of `err` and its causes, ending in a newline.
pub fn render(err: &(dyn Error + 'static)) -> String {
    let mut shown: Vec<String> = Vec::new();
    let mut hints: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(error) = current {
        let text = refinery_index::redact_url(&error.to_string());
        let (body, hint_lines) = split_hints(&text);
        for hint in hint_lines {
            if !hints.contains(&hint) {
                hints.push(hint);
            }
        }
        let repeated = shown.iter().any(|above| above.contains(body.as_str()));
        if !body.is_empty() && !repeated {
            shown.push(body);
        }
        current = error.source();
    }
    let mut out = String::new();
    for (i, body) in shown.iter().enumerate() {
        let label = if i == 0 { "error: " } else { "  Caused by: " };
        out.push_str(label);
        out.push_str(body);
        out.push('\n');
    }
    for hint in hints {
        out.push_str(&hint);
        out.push('\n');
    }
    out
}

/// A message without its `hint:` lines, and those lines (trimmed).
fn split_hints(text: &str) -> (String, Vec<String>) {
    let mut body = Vec::new();
    let mut hints = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("hint:") {
            hints.push(line.trim().to_string());
        } else {
            body.push(line);
        }
    }
    (body.join("\n").trim_end().to_string(), hints)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{message}")]
    struct Layer {
        message: String,
        #[source]
        source: Option<Box<Layer>>,
    }

    fn chain(messages: &[&str]) -> Layer {
        messages
            .iter()
            .rev()
            .fold(None, |source, message| {
                Some(Layer {
                    message: (*message).to_string(),
                    source: source.map(Box::new),
                })
            })
            .unwrap()
    }

    #[test]
    fn causes_once_each_and_hints_last() {
        let err = chain(&[
            "cannot prepare the cross toolchain\nhint: set REFINERY_ZIG",
            "no Zig for glibc-targeted builds.\nhint: python3 -m pip install ziglang",
            "No such file or directory (os error 2)",
        ]);
        assert_eq!(
            render(&err),
            "error: cannot prepare the cross toolchain\n  \
             Caused by: no Zig for glibc-targeted builds.\n  \
             Caused by: No such file or directory (os error 2)\n\
             hint: set REFINERY_ZIG\n\
             hint: python3 -m pip install ziglang\n"
        );
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let err = chain(&[
            "cannot read /x/hints.toml: permission denied (os error 13)",
            "permission denied (os error 13)",
        ]);
        assert_eq!(
            render(&err),
            "error: cannot read /x/hints.toml: permission denied (os error 13)\n"
        );
        let err = chain(&["same\nhint: do it", "other\nhint: do it"]);
        assert_eq!(
            render(&err),
            "error: same\n  Caused by: other\nhint: do it\n"
        );
    }

    #[test]
    fn credentials_are_redacted() {
        let err = chain(&["cannot reach https://alice:s3cret@example.com/simple"]);
        let text = render(&err);
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("alice:****@"), "{text}");
    }
}
