//! HTTP: credentials, trust, TLS clients, retries and failure classification.

use std::collections::HashMap;
use std::io::Read;
use std::sync::MutexGuard;
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use tracing::{debug, info};
use url::Url;

use crate::{netrc, redact_url};

use super::error::{status_hint, IndexError};
use super::urls::{display_url, host_key, is_loopback};
use super::{Cred, Failure, HostKey, IndexClient};

/// The tracing target of the code before it moved here, so that log lines and
/// `RUST_LOG` filters stay the same.
const LOG_TARGET: &str = "refinery_index::client";

pub(super) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64 << attempt.min(6)).min(Duration::from_secs(30))
}

/// The error and its sources, without reqwest's "error sending request for url
/// (…)" wrapper and hyper's "client error (Connect)" (the URL is shown anyway).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = current {
        let text = err.to_string();
        let noise =
            text.starts_with("error sending request for url") || text.starts_with("client error (");
        if !noise && !parts.last().is_some_and(|l| l.contains(&text)) {
            parts.push(text);
        }
        current = err.source();
    }
    if parts.is_empty() {
        parts.push(e.to_string());
    }
    parts.join(": ")
}

impl IndexClient {
    // ---------------------------------------------------------------------
    // HTTP

    pub(super) fn creds(&self) -> MutexGuard<'_, HashMap<HostKey, Cred>> {
        self.inner
            .creds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn creds_for(&self, url: &Url) -> Option<Cred> {
        let key = host_key(url)?;
        if let Some(c) = self.creds().get(&key) {
            return Some(c.clone());
        }
        let entry = netrc::lookup(&self.inner.netrc, &key.0)?;
        Some(Cred {
            user: entry.login.clone().unwrap_or_default(),
            pass: entry.password.clone(),
        })
    }

    /// Redacts URLs and removes every known secret from `text`.
    pub(super) fn scrub(&self, text: &str) -> String {
        let mut out = redact_url(text);
        let mut secrets: Vec<String> = self
            .creds()
            .values()
            .filter_map(|c| c.pass.clone())
            .collect();
        secrets.extend(self.inner.netrc.iter().filter_map(|e| e.password.clone()));
        for s in secrets.iter().filter(|s| s.len() >= 3) {
            out = out.replace(s.as_str(), "****");
        }
        out
    }

    fn is_trusted(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = url.port_or_known_default();
        self.inner
            .trusted
            .iter()
            .any(|(h, p)| *h == host && (p.is_none() || *p == port))
    }

    pub(super) fn check_secure(&self, url: &Url) -> Result<(), IndexError> {
        if url.scheme() == "http" && !is_loopback(url) && !self.is_trusted(url) {
            return Err(IndexError::Insecure {
                url: display_url(url),
                host: url.host_str().unwrap_or_default().to_owned(),
            });
        }
        Ok(())
    }

    pub(super) fn client_for(&self, url: &Url) -> Result<&Client, IndexError> {
        let insecure = self.is_trusted(url);
        let local = is_loopback(url);
        let idx = usize::from(insecure) | (usize::from(local) << 1);
        self.inner.clients[idx]
            .get_or_init(|| self.build_client(insecure, local))
            .as_ref()
            .map_err(|m| IndexError::Config {
                message: format!(
                    "cannot create the HTTP client: {m}; check SSL_CERT_FILE / PIP_CERT"
                ),
            })
    }

    fn build_client(&self, insecure: bool, no_proxy: bool) -> Result<Client, String> {
        let timeout = Duration::from_secs(self.inner.timeout_secs);
        let mut builder = Client::builder()
            .user_agent(concat!("s390x-wheel-refinery/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(30)));
        for cert in &self.inner.certs {
            builder = builder.add_root_certificate(cert.clone());
        }
        if insecure {
            builder = builder.danger_accept_invalid_certs(true);
        }
        if no_proxy {
            builder = builder.no_proxy();
        }
        builder.build().map_err(|e| self.scrub(&error_chain(&e)))
    }

    pub(super) fn with_retries<T>(
        &self,
        url: &Url,
        mut op: impl FnMut() -> Result<T, Failure>,
    ) -> Result<T, IndexError> {
        let mut attempt = 0u32;
        loop {
            match op() {
                Ok(v) => return Ok(v),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry(e)) => {
                    if attempt >= self.inner.retries {
                        return Err(e);
                    }
                    let delay = backoff(attempt);
                    // A retry that works needs no warning; one that does not ends in an
                    // error (or a warning of its source) that says it. `-v` shows them.
                    info!(target: LOG_TARGET, url = %display_url(url), attempt = attempt + 1, error = %e, ?delay, "retrying");
                    std::thread::sleep(delay);
                    attempt += 1;
                }
            }
        }
    }

    pub(super) fn send_once(&self, url: &Url, headers: HeaderMap) -> Result<Response, Failure> {
        self.check_secure(url).map_err(Failure::Fatal)?;
        let client = self.client_for(url).map_err(Failure::Fatal)?;
        let mut request = client.get(url.clone()).headers(headers);
        if let Some(c) = self.creds_for(url) {
            request = request.basic_auth(c.user, c.pass);
        }
        debug!(target: LOG_TARGET, url = %display_url(url), "GET");
        match request.send() {
            Err(e) => Err(self.classify(url, &e)),
            Ok(resp) => {
                let status = resp.status();
                if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                    Err(Failure::Retry(self.status_error(url, status)))
                } else {
                    Ok(resp)
                }
            }
        }
    }

    pub(super) fn status_error(&self, url: &Url, status: StatusCode) -> IndexError {
        if status == StatusCode::NOT_FOUND {
            return IndexError::NotFound {
                url: display_url(url),
            };
        }
        IndexError::Status {
            url: display_url(url),
            status: status.as_u16(),
            hint: status_hint(status.as_u16(), self.inner.retries + 1),
        }
    }

    fn classify(&self, url: &Url, e: &reqwest::Error) -> Failure {
        let message = self.scrub(&error_chain(e));
        let lower = message.to_ascii_lowercase();
        let shown = display_url(url);
        if [
            "certificate",
            "unknownissuer",
            "tls handshake",
            "invalid peer",
            "handshake failure",
        ]
        .iter()
        .any(|m| lower.contains(m))
        {
            Failure::Fatal(IndexError::Tls {
                url: shown,
                host: url.host_str().unwrap_or_default().to_owned(),
                message,
            })
        } else if e.is_timeout() || lower.contains("timed out") {
            Failure::Retry(IndexError::Timeout {
                url: shown,
                secs: self.inner.timeout_secs,
            })
        } else if e.is_builder() {
            Failure::Fatal(IndexError::InvalidUrl {
                url: shown,
                reason: message,
            })
        } else {
            Failure::Retry(IndexError::Connect {
                url: shown,
                message,
            })
        }
    }

    pub(super) fn read_failure(&self, url: &Url, e: &std::io::Error) -> Failure {
        if e.kind() == std::io::ErrorKind::TimedOut {
            return Failure::Retry(IndexError::Timeout {
                url: display_url(url),
                secs: self.inner.timeout_secs,
            });
        }
        Failure::Retry(IndexError::Connect {
            url: display_url(url),
            message: format!(
                "the connection broke while reading the body: {}",
                self.scrub(&e.to_string())
            ),
        })
    }

    /// GET with retries; 404 -> [`IndexError::NotFound`].
    pub(super) fn get_url(&self, url: &Url) -> Result<Vec<u8>, IndexError> {
        if self.inner.offline {
            return Err(IndexError::Offline {
                url: display_url(url),
            });
        }
        self.with_retries(url, || {
            let mut resp = self.send_once(url, HeaderMap::new())?;
            let status = resp.status();
            if !status.is_success() {
                return Err(Failure::Fatal(self.status_error(url, status)));
            }
            let mut body = Vec::new();
            resp.read_to_end(&mut body)
                .map_err(|e| self.read_failure(url, &e))?;
            Ok(body)
        })
    }
}
