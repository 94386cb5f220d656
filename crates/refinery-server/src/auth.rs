//! Token checks: `WORKER_TOKEN` guards every mutating endpoint and the worker endpoints;
//! `--read-token` (if set) guards the reads. A token comes as the `X-Worker-Token` header,
//! `Authorization: Bearer …`, the password of HTTP Basic auth (so pip can use
//! `http://user:TOKEN@host/simple`), `?token=`, or the `worker_token` cookie that
//! `POST /api/session/token` sets. Tokens are compared in constant time. Missing → 401,
//! wrong → 403.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::AppState;

/// Constant-time equality (both sides hashed first, so lengths do not leak either).
pub fn tokens_equal(a: &str, b: &str) -> bool {
    let ha = Sha256::digest(a.as_bytes());
    let hb = Sha256::digest(b.as_bytes());
    ha.iter()
        .zip(hb.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn base64_decode(input: &str) -> Option<Vec<u8>> {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in input.trim().bytes() {
        if c == b'=' {
            break;
        }
        let v = TABLE.iter().position(|t| *t == c)? as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The token a request carries, from wherever it is.
pub fn presented_token(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    header_or_query_token(headers, query).or_else(|| cookie_token(headers))
}

/// The token a client put in a header or the query on purpose (a browser adds a cookie
/// by itself, even to requests another page makes).
pub fn header_or_query_token(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(v) = headers.get("x-worker-token").and_then(|v| v.to_str().ok()) {
        return Some(v.to_string());
    }
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(bearer) = v.strip_prefix("Bearer ") {
            return Some(bearer.trim().to_string());
        }
        if let Some(basic) = v.strip_prefix("Basic ") {
            if let Some(decoded) = base64_decode(basic) {
                let text = String::from_utf8_lossy(&decoded).into_owned();
                if let Some((_, password)) = text.split_once(':') {
                    return Some(password.to_string());
                }
            }
        }
    }
    if let Some(query) = query {
        for pair in query.split('&') {
            if let Some(value) = pair.strip_prefix("token=") {
                return Some(percent_decode(value));
            }
        }
    }
    None
}

/// The `worker_token` cookie (`POST /api/session/token` sets it).
fn cookie_token(headers: &HeaderMap) -> Option<String> {
    for cookies in headers.get_all(header::COOKIE) {
        if let Ok(text) = cookies.to_str() {
            for cookie in text.split(';') {
                if let Some(value) = cookie.trim().strip_prefix("worker_token=") {
                    return Some(percent_decode(value));
                }
            }
        }
    }
    None
}

/// `%XX` and `+` decoding of a query value.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Nothing,
    Read,
    Write,
}

fn need(method: &Method, path: &str) -> Need {
    if path == "/healthz" || path == "/api/health" || path == "/api/session/token" {
        return Need::Nothing;
    }
    // The dashboard's files are public (they hold no data); it asks for the token when
    // the API answers 401.
    if matches!(*method, Method::GET | Method::HEAD) && !crate::ui::is_server_path(path) {
        return Need::Nothing;
    }
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        Need::Read
    } else {
        Need::Write
    }
}

/// What the tokens leave open, for the start-up line: `reads and writes need a token`, …
pub fn exposure(worker_token: Option<&str>, read_token: Option<&str>) -> &'static str {
    match (worker_token, read_token) {
        (Some(_), Some(_)) => "reads need the read or worker token, writes the worker token",
        (Some(_), None) => "writes need the worker token; reads are open",
        (None, Some(_)) => "reads and writes need the read token (set WORKER_TOKEN to keep writes apart)",
        (None, None) => "no token: anyone who reaches this address can read, upload and build (set WORKER_TOKEN)",
    }
}

/// The middleware.
pub async fn guard(State(state): State<Arc<AppState>>, req: Request<Body>, next: Next) -> Response {
    let required = need(req.method(), req.uri().path());
    let expected: Vec<&str> = match required {
        Need::Nothing => Vec::new(),
        // Writes need at least what reads need: with only a read token, it guards both.
        Need::Write => state
            .config
            .worker_token
            .as_deref()
            .or(state.config.read_token.as_deref())
            .into_iter()
            .collect(),
        Need::Read => match &state.config.read_token {
            // A worker token also reads.
            Some(read) => [Some(read.as_str()), state.config.worker_token.as_deref()]
                .into_iter()
                .flatten()
                .collect(),
            None => Vec::new(),
        },
    };
    if expected.is_empty() {
        return next.run(req).await;
    }
    let peer = peer_ip(req.extensions());
    match presented_token(req.headers(), req.uri().query()) {
        None => {
            let mut response = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this endpoint needs a token: send it as the X-Worker-Token header, \
                 `Authorization: Bearer`, ?token=, or the worker_token cookie \
                 (POST /api/session/token sets it)",
            )
            .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"refinery\""),
            );
            response
        }
        Some(token) => match check_token(&state, peer, &token, &expected) {
            Ok(Some(_)) => next.run(req).await,
            Ok(None) => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the token is not valid for this endpoint",
            )
            .into_response(),
            Err(wait) => too_many_failures(wait),
        },
    }
}

/// The client's address, when the server's accept loop recorded it.
pub fn peer_ip(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}

/// Compares `token` with each of `expected` (constant time) under the guessing throttle
/// ([`crate::token_throttle`]): `Ok(Some(i))` when it is `expected[i]`, `Ok(None)` when it
/// is none of them (the failure is counted), `Err(wait)` while `peer` has to wait (answer
/// it with [`too_many_failures`]).
pub fn check_token(
    state: &AppState,
    peer: Option<IpAddr>,
    token: &str,
    expected: &[&str],
) -> Result<Option<usize>, std::time::Duration> {
    let now = Instant::now();
    if let Some(ip) = peer {
        state.token_throttle.check(ip, now)?;
    }
    let matched = expected.iter().position(|e| tokens_equal(e, token));
    if let Some(ip) = peer {
        match matched {
            Some(_) => state.token_throttle.succeeded(ip),
            None => {
                state.token_throttle.failed(ip, token, now);
            }
        }
    }
    Ok(matched)
}

/// 429 `too_many_failures` with `Retry-After`.
pub fn too_many_failures(wait: std::time::Duration) -> Response {
    too_many_failures_error(wait).into_response()
}

/// The error behind [`too_many_failures`].
pub fn too_many_failures_error(wait: std::time::Duration) -> ApiError {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_failures",
        format!("too many wrong tokens from this address; send the right token again in {secs} s"),
    )
    .retry_after(secs)
}

/// Shortest token the server takes without a warning.
pub const MIN_TOKEN_CHARS: usize = 16;

/// Warnings for the start-up lines: tokens short enough to guess.
pub fn token_warnings(worker_token: Option<&str>, read_token: Option<&str>) -> Vec<String> {
    [
        ("WORKER_TOKEN", worker_token),
        ("the read token", read_token),
    ]
    .into_iter()
    .filter_map(|(name, token)| {
        let chars = token?.chars().count();
        (chars < MIN_TOKEN_CHARS).then(|| {
            format!(
                "warning: {name} has only {chars} characters; use at least \
                     {MIN_TOKEN_CHARS} random ones (e.g. `openssl rand -hex 32`)"
            )
        })
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_sources() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented_token(&headers, None), None);
        assert_eq!(
            presented_token(&headers, Some("a=1&token=s%20x")).as_deref(),
            Some("s x")
        );
        headers.insert(
            header::COOKIE,
            "other=1; worker_token=c00kie".parse().unwrap(),
        );
        assert_eq!(presented_token(&headers, None).as_deref(), Some("c00kie"));
        // user:secret
        headers.insert(
            header::AUTHORIZATION,
            "Basic dXNlcjpzZWNyZXQ=".parse().unwrap(),
        );
        assert_eq!(presented_token(&headers, None).as_deref(), Some("secret"));
        headers.insert("x-worker-token", "hdr".parse().unwrap());
        assert_eq!(presented_token(&headers, None).as_deref(), Some("hdr"));
    }

    #[test]
    fn constant_time_compare() {
        assert!(tokens_equal("abc", "abc"));
        assert!(!tokens_equal("abc", "abd"));
        assert!(!tokens_equal("abc", "abcd"));
        assert!(!tokens_equal("", "x"));
    }

    #[test]
    fn short_tokens_are_warned_about() {
        assert!(token_warnings(None, None).is_empty());
        assert!(token_warnings(Some("0123456789abcdef"), None).is_empty());
        let warnings = token_warnings(Some("secret"), Some("r"));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("WORKER_TOKEN has only 6 characters"));
        assert!(warnings[1].contains("read token has only 1 characters"));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb+c%"), "a/b c%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
