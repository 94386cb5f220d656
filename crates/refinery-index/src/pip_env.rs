//! The index settings as pip's environment variables, for the build environments.

use crate::IndexConfig;

impl IndexConfig {
    /// `PIP_INDEX_URL`, `PIP_EXTRA_INDEX_URL` (space-separated) and `PIP_TRUSTED_HOST`
    /// (space-separated), as pip reads them (pip's "Environment Variables" configuration),
    /// for the build environments. `username`/`password` go into the URLs that carry no
    /// userinfo of their own, so the values may hold credentials: pass them in the
    /// environment only, never on a command line or in a log.
    pub fn pip_env(&self) -> Vec<(String, String)> {
        let with_auth = |url: &str| -> String {
            match (&self.username, url::Url::parse(url)) {
                (Some(user), Ok(mut parsed)) if parsed.username().is_empty() => {
                    // Only URLs that cannot carry userinfo (e.g. `file:`) refuse it: kept as is.
                    let _ = parsed.set_username(user);
                    let _ = parsed.set_password(self.password.as_deref());
                    parsed.to_string()
                }
                _ => url.to_string(),
            }
        };
        let mut env = vec![("PIP_INDEX_URL".to_string(), with_auth(&self.index_url))];
        if !self.extra_index_urls.is_empty() {
            let extras: Vec<String> = self.extra_index_urls.iter().map(|u| with_auth(u)).collect();
            env.push(("PIP_EXTRA_INDEX_URL".to_string(), extras.join(" ")));
        }
        if !self.trusted_hosts.is_empty() {
            env.push(("PIP_TRUSTED_HOST".to_string(), self.trusted_hosts.join(" ")));
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use crate::IndexConfig;

    #[test]
    fn credentials_go_into_urls_without_their_own_userinfo() {
        let config = IndexConfig {
            index_url: "https://pypi.example/simple".into(),
            extra_index_urls: vec![
                "https://other.example/simple".into(),
                "https://bob:pw@mine.example/simple".into(),
            ],
            trusted_hosts: vec!["a.example".into(), "b.example:8080".into()],
            username: Some("alice".into()),
            password: Some("s3cret".into()),
            ..IndexConfig::default()
        };
        assert_eq!(
            config.pip_env(),
            vec![
                (
                    "PIP_INDEX_URL".to_string(),
                    "https://alice:s3cret@pypi.example/simple".to_string()
                ),
                (
                    "PIP_EXTRA_INDEX_URL".to_string(),
                    "https://alice:s3cret@other.example/simple https://bob:pw@mine.example/simple"
                        .to_string()
                ),
                (
                    "PIP_TRUSTED_HOST".to_string(),
                    "a.example b.example:8080".to_string()
                ),
            ]
        );
    }

    #[test]
    fn without_extras_or_trusted_hosts_only_the_index_url() {
        let config = IndexConfig::default();
        assert_eq!(
            config.pip_env(),
            vec![("PIP_INDEX_URL".to_string(), config.index_url.clone())]
        );
    }
}
