//! Minimal `.netrc` reader (`machine`/`default`, `login`, `password`; `account`
//! and `macdef` blocks are skipped).

#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct NetrcEntry {
    /// `None` for the `default` entry.
    pub machine: Option<String>,
    pub login: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for NetrcEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetrcEntry")
            .field("machine", &self.machine)
            .field("login", &self.login.as_ref().map(|_| "****"))
            .field("password", &self.password.as_ref().map(|_| "****"))
            .finish()
    }
}

pub(crate) fn parse(text: &str) -> Vec<NetrcEntry> {
    // Tokenise, dropping comment lines and macdef bodies (which run to the next blank line).
    let mut tokens: Vec<&str> = Vec::new();
    let mut in_macdef = false;
    for line in text.lines() {
        if in_macdef {
            if line.trim().is_empty() {
                in_macdef = false;
            }
            continue;
        }
        if line.trim_start().starts_with('#') {
            continue;
        }
        for word in line.split_whitespace() {
            if word == "macdef" {
                // The rest of this line is the macro name; the body follows.
                in_macdef = true;
                break;
            }
            tokens.push(word);
        }
    }

    let mut entries = Vec::new();
    let mut current: Option<NetrcEntry> = None;
    let mut it = tokens.into_iter();
    while let Some(tok) = it.next() {
        match tok {
            "machine" => {
                entries.extend(current.take());
                current = Some(NetrcEntry {
                    machine: it.next().map(str::to_ascii_lowercase),
                    ..NetrcEntry::default()
                });
            }
            "default" => {
                entries.extend(current.take());
                current = Some(NetrcEntry::default());
            }
            "login" => {
                let v = it.next().map(str::to_owned);
                if let Some(c) = current.as_mut() {
                    c.login = v;
                }
            }
            "password" => {
                let v = it.next().map(str::to_owned);
                if let Some(c) = current.as_mut() {
                    c.password = v;
                }
            }
            "account" => {
                it.next();
            }
            _ => {}
        }
    }
    entries.extend(current);
    entries
}

/// The entry for `host`, falling back to the `default` entry.
pub(crate) fn lookup<'a>(entries: &'a [NetrcEntry], host: &str) -> Option<&'a NetrcEntry> {
    let host = host.to_ascii_lowercase();
    entries
        .iter()
        .find(|e| e.machine.as_deref() == Some(host.as_str()))
        .or_else(|| entries.iter().find(|e| e.machine.is_none()))
        .filter(|e| e.login.is_some() || e.password.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_machines_default_and_macdef() {
        let text = "# comment\nmachine example.com login alice password s3cret\n\
                    macdef init\ncd /pub\n\nmachine other.org\n  login bob\n  account x\n  password pw\n\
                    default login anon password guest\n";
        let entries = parse(text);
        assert_eq!(entries.len(), 3);
        let e = lookup(&entries, "EXAMPLE.com").unwrap();
        assert_eq!(e.login.as_deref(), Some("alice"));
        assert_eq!(e.password.as_deref(), Some("s3cret"));
        let e = lookup(&entries, "other.org").unwrap();
        assert_eq!(e.login.as_deref(), Some("bob"));
        assert_eq!(e.password.as_deref(), Some("pw"));
        let e = lookup(&entries, "unknown").unwrap();
        assert_eq!(e.login.as_deref(), Some("anon"));
        assert!(!format!("{e:?}").contains("guest"));
    }

    #[test]
    fn single_line_file() {
        let entries = parse("machine 127.0.0.1 login u password p");
        assert_eq!(
            lookup(&entries, "127.0.0.1").unwrap().password.as_deref(),
            Some("p")
        );
        assert!(lookup(&entries, "localhost").is_none());
    }
}
