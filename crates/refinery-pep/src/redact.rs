//! Hiding credentials embedded in URLs: the one implementation the requirements parser, the
//! index client, the store and the binary share (like pip's `redact_auth_from_url`).

/// Replaces the credentials of every URL inside `text` with `****`.
///
/// `https://user:secret@host/simple` becomes `https://user:****@host/simple`;
/// a lone token (`https://token@host/`) becomes `https://****@host/`. Works on
/// any text that may contain URLs (error messages, log lines), not only on a
/// single URL; text without `scheme://` passes unchanged.
#[must_use]
pub fn redact_url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (before, after) = rest.split_at(pos + 3);
        out.push_str(before);
        // The authority ends at the first path/query/fragment delimiter or at
        // anything that cannot be part of a URL in running text.
        let end = after
            .find(|c: char| {
                matches!(
                    c,
                    '/' | '?' | '#' | '"' | '\'' | '<' | '>' | '`' | ')' | ']'
                ) || c.is_whitespace()
            })
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..colon]);
                        out.push_str(":****");
                    }
                    None => out.push_str("****"),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_password() {
        assert_eq!(
            redact_url("https://alice:s3cret@example.com/simple/"),
            "https://alice:****@example.com/simple/"
        );
    }

    #[test]
    fn redacts_token_only_userinfo() {
        assert_eq!(
            redact_url("https://ghp_token@example.com:8443/simple"),
            "https://****@example.com:8443/simple"
        );
    }

    #[test]
    fn leaves_plain_urls_and_text() {
        assert_eq!(
            redact_url("https://pypi.org/simple"),
            "https://pypi.org/simple"
        );
        assert_eq!(redact_url("no url here"), "no url here");
        assert_eq!(
            redact_url("mail me at bob@example.com"),
            "mail me at bob@example.com"
        );
    }

    #[test]
    fn redacts_several_urls_in_text() {
        let text = "error sending request for url (http://u:p%40ss@h:1/x) after \
                    'https://a:b@c/' and https://d:e@f";
        let red = redact_url(text);
        assert!(!red.contains("p%40ss"));
        assert!(!red.contains(":b@"));
        assert!(!red.contains(":e@"));
        assert!(red.contains("http://u:****@h:1/x"));
        assert!(red.contains("https://a:****@c/"));
        assert!(red.contains("https://d:****@f"));
    }

    #[test]
    fn at_sign_in_password() {
        assert_eq!(
            redact_url("https://u:p@ss@host/simple"),
            "https://u:****@host/simple"
        );
    }
}
