//! Where requests may come from. Two attacks reach a server on loopback or on an intranet
//! through a victim's browser, and this middleware ([`guard`]) stops both:
//!
//! * **DNS rebinding.** A page at `http://evil.example:8080` has its name re-pointed at
//!   this server's address; the browser then treats the server as the page's own origin
//!   and lets the page read and write it. Its requests say `Host: evil.example:8080`, so
//!   every request must name a host this server answers to: `localhost`, `127.0.0.1` or
//!   `[::1]` with the bound port, the bound address (any IP literal with the bound port
//!   when bound to all interfaces), or a name given with `--allowed-host`
//!   (`REFINERY_ALLOWED_HOSTS`). Other hosts get 421. A request that carries a valid
//!   token in a header or the query is let through under any name: such a page cannot
//!   know the token, and workers, the CLI and pip keep working however they reach the
//!   server.
//! * **Cross-site request forgery.** A page elsewhere posts a form or a simple `fetch`;
//!   a page on another port of the same host is "same-site", so even a `SameSite=Strict`
//!   cookie goes along. Every write (any method but GET, HEAD and OPTIONS) is refused
//!   with 403 when `Sec-Fetch-Site` says `cross-site` or `same-site`, or `Origin` is not
//!   this server's own origin, unless that origin is listed with `--cors-origin`. A write
//!   from a browser (it sends `Origin`, `Sec-Fetch-Site` or a cookie) must also carry a
//!   header that HTML forms cannot send: `X-Refinery-Request: 1` (the dashboard sends
//!   it), a token header, or a JSON (non-form) content type. Clients that are not
//!   browsers send none of these and are not asked for them.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::{auth, AppState};

pub use crate::cors::REQUEST_HEADER;

/// Content types an HTML form can send (anything else needs a CORS preflight).
const FORM_CONTENT_TYPES: [&str; 3] = [
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
];

/// A host name this server answers to, from `--allowed-host`: `NAME` (any port) or
/// `NAME:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    host: String,
    port: Option<u16>,
}

/// Why an `--allowed-host` value was refused; `shown` is the value (its first 200
/// characters).
#[derive(Debug, thiserror::Error)]
pub enum AllowedHostError {
    #[error(
        "--allowed-host {shown:?} is not a host name; write NAME or NAME:PORT, e.g. \
         refinery.example or refinery.example:8443 (no scheme, no path)"
    )]
    NotAuthority { shown: String },
    #[error(
        "--allowed-host {shown:?} is not a host name; write NAME or NAME:PORT, e.g. \
         refinery.example (no scheme, no path, no wildcard)"
    )]
    NotPlain { shown: String },
}

/// Checks an `--allowed-host` value: a host name or IP address, optionally with `:PORT`,
/// without a scheme or a path.
pub fn parse_allowed_host(value: &str) -> Result<AllowedHost, AllowedHostError> {
    let shown = value.chars().take(200).collect::<String>();
    let (host, port) =
        split_authority(value.trim()).ok_or_else(|| AllowedHostError::NotAuthority {
            shown: shown.clone(),
        })?;
    let plain = host.parse::<IpAddr>().is_ok()
        || host.starts_with('[')
        || host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if host.is_empty() || !plain {
        return Err(AllowedHostError::NotPlain { shown });
    }
    Ok(AllowedHost { host, port })
}

/// `host[:port]` → (lower-case host without a trailing dot, port). IPv6 literals keep
/// their brackets (`[::1]`). `None` when it is not an authority.
fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    if authority.is_empty() || authority.contains(['/', '@', ' ', '?', '#']) {
        return None;
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']')?;
        let host = format!("[{}]", &rest[..end]);
        match &rest[end + 1..] {
            "" => (host, None),
            tail => (host, Some(tail.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host.to_string(), Some(port)),
            None => (authority.to_string(), None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok()?),
        None => None,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    Some((host, port))
}

/// The IP address a host names, if it is an IP literal (`127.0.0.1`, `[::1]`).
fn ip_literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Whether `host:port` (from the request) is this server: see the module documentation.
fn host_allowed(
    host: &str,
    port: Option<u16>,
    bound: Option<SocketAddr>,
    allowed: &[AllowedHost],
) -> bool {
    if allowed
        .iter()
        .any(|a| a.host == host && (a.port.is_none() || a.port == port))
    {
        return true;
    }
    // No port in Host means the scheme's default port.
    let bound_port = bound.map(|b| b.port());
    let port_ok = bound_port.is_none() || port.or(Some(80)) == bound_port;
    if !port_ok {
        return false;
    }
    if host == "localhost" {
        return true;
    }
    match (ip_literal(host), bound) {
        (Some(ip), _) if ip.is_loopback() => true,
        (Some(ip), Some(bound)) => bound.ip().is_unspecified() || bound.ip() == ip,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// For the start-up line: which `Host` names the server answers to.
pub fn describe_hosts(bound: SocketAddr, allowed: &[String]) -> String {
    let port = bound.port();
    let mut names = vec![format!("localhost:{port}"), format!("127.0.0.1:{port}")];
    names.push(format!("[::1]:{port}"));
    if bound.ip().is_unspecified() {
        names.push(format!("any IP address of this machine with :{port}"));
    } else if !bound.ip().is_loopback() {
        names.push(bound.to_string());
    }
    names.extend(allowed.iter().cloned());
    format!(
        "answers to the hosts {}; other names need --allowed-host NAME (or a token in a \
         header)",
        names.join(", ")
    )
}

/// The authority the request was sent to: the URI's (HTTP/2) or the `Host` header.
fn request_authority(req: &Request<Body>) -> Option<String> {
    if let Some(authority) = req.uri().authority() {
        return Some(authority.as_str().to_string());
    }
    req.headers()
        .get(header::HOST)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// A valid token in a header or the query (not a cookie, which a browser adds by itself),
/// checked under the guessing throttle like every other token: `Err` (429) while the
/// client's address has to wait, so a forged `Host` is no way around it.
fn has_valid_token(state: &AppState, req: &Request<Body>) -> Result<bool, ApiError> {
    let Some(token) = auth::header_or_query_token(req.headers(), req.uri().query()) else {
        return Ok(false);
    };
    let expected: Vec<&str> = [&state.config.worker_token, &state.config.read_token]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    if expected.is_empty() {
        return Ok(false);
    }
    auth::check_token(state, auth::peer_ip(req.extensions()), &token, &expected)
        .map(|matched| matched.is_some())
        .map_err(auth::too_many_failures_error)
}

/// 421 unless the request names a host this server answers to.
fn check_host(state: &AppState, req: &Request<Body>) -> Result<(), ApiError> {
    let Some(authority) = request_authority(req) else {
        // Only HTTP/1.0 clients leave it out; browsers always send it.
        return Ok(());
    };
    let allowed = state
        .config
        .allowed_hosts
        .iter()
        .filter_map(|h| parse_allowed_host(h).ok())
        .collect::<Vec<_>>();
    let ok = split_authority(&authority).is_some_and(|(host, port)| {
        host_allowed(&host, port, state.bound.get().copied(), &allowed)
    });
    if ok || has_valid_token(state, req)? {
        return Ok(());
    }
    let shown: String = authority
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    let name = split_authority(&authority).map_or_else(|| shown.clone(), |(host, _)| host);
    Err(ApiError::new(
        StatusCode::MISDIRECTED_REQUEST,
        "unknown_host",
        format!(
            "this server does not answer to the host `{shown}` (a page whose name points at \
             this address must not reach it); if that is its name, e.g. behind a reverse \
             proxy, start it with --allowed-host {name} (or REFINERY_ALLOWED_HOSTS)"
        ),
    ))
}

/// The origins listed with `--cors-origin`, as browsers write them.
fn listed_origins(state: &AppState) -> Vec<String> {
    state
        .config
        .cors_origins
        .iter()
        .filter_map(|o| crate::cors::parse_origin(o).ok())
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect()
}

/// Whether `origin` (`scheme://host[:port]`) is the origin the request was sent to.
fn is_same_origin(origin: &str, authority: Option<&str>) -> bool {
    let (Ok(url), Some((host, port))) =
        (url::Url::parse(origin), authority.and_then(split_authority))
    else {
        return false;
    };
    let Some(origin_host) = url.host_str() else {
        return false;
    };
    let origin_host = origin_host.trim_end_matches('.').to_ascii_lowercase();
    // `Host` without a port is the scheme's default, as an origin without one.
    origin_host == host && (url.port() == port || port == url.port_or_known_default())
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// 403 for a write another site's page sends: `Sec-Fetch-Site` says so, or `Origin` is
/// neither this server nor a `--cors-origin`.
fn check_origin(state: &AppState, req: &Request<Body>) -> Result<(), ApiError> {
    let headers = req.headers();
    let origin = header_str(headers, header::ORIGIN);
    let listed = || {
        origin.is_some_and(|o| {
            listed_origins(state)
                .iter()
                .any(|l| l.eq_ignore_ascii_case(o.trim_end_matches('/')))
        })
    };
    let site = header_str(headers, "sec-fetch-site").map(str::to_ascii_lowercase);
    if matches!(site.as_deref(), Some("cross-site" | "same-site")) && !listed() {
        return Err(cross_origin(origin.unwrap_or("another site")));
    }
    if let Some(origin) = origin {
        let authority = request_authority(req);
        if !is_same_origin(origin, authority.as_deref()) && !listed() {
            return Err(cross_origin(origin));
        }
    }
    Ok(())
}

fn cross_origin(origin: &str) -> ApiError {
    let shown: String = origin
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    ApiError::new(
        StatusCode::FORBIDDEN,
        "cross_origin",
        format!(
            "refused a write from a page of {shown}: only this server's own pages and origins \
             listed with --cors-origin may change it"
        ),
    )
}

/// Whether the request carries something an HTML form cannot send.
fn is_form_proof(headers: &HeaderMap) -> bool {
    let content_type = header_str(headers, header::CONTENT_TYPE).map(|ct| {
        ct.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    headers.contains_key(REQUEST_HEADER)
        || headers.contains_key("x-worker-token")
        || headers.contains_key(header::AUTHORIZATION)
        || content_type.is_some_and(|ct| !FORM_CONTENT_TYPES.contains(&ct.as_str()))
}

/// 403 for a browser's write without a header that forms cannot send.
fn check_form_proof(req: &Request<Body>) -> Result<(), ApiError> {
    let headers = req.headers();
    let from_browser = headers.contains_key(header::ORIGIN)
        || headers.contains_key("sec-fetch-site")
        || headers.contains_key(header::COOKIE);
    if !from_browser || is_form_proof(headers) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "request_header_missing",
        "a write from a browser needs the header `X-Refinery-Request: 1` (or a JSON body); \
         HTML forms cannot send it, so a page elsewhere cannot forge the request",
    ))
}

/// The middleware: the host check on every request, the origin checks on writes.
pub async fn guard(State(state): State<Arc<AppState>>, req: Request<Body>, next: Next) -> Response {
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let checked = check_host(&state, &req).and_then(|()| {
        if write {
            check_origin(&state, &req)?;
            check_form_proof(&req)?;
        }
        Ok(())
    });
    match checked {
        Ok(()) => next.run(req).await,
        Err(e) => {
            // Info, not warn: a hostile page could otherwise flood the log.
            tracing::info!(
                method = %req.method(),
                path = req.uri().path(),
                "refused: {}",
                e.message
            );
            e.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(addr: &str) -> Option<SocketAddr> {
        Some(addr.parse().unwrap())
    }

    #[test]
    fn authorities() {
        assert_eq!(
            split_authority("LocalHost.:8080"),
            Some(("localhost".into(), Some(8080)))
        );
        assert_eq!(
            split_authority("[::1]:80"),
            Some(("[::1]".into(), Some(80)))
        );
        assert_eq!(split_authority("[::1]"), Some(("[::1]".into(), None)));
        assert_eq!(
            split_authority("a.example"),
            Some(("a.example".into(), None))
        );
        assert_eq!(split_authority("a.example:x"), None);
        assert_eq!(split_authority("[::1]x"), None);
        assert_eq!(split_authority("a/b"), None);
        assert_eq!(split_authority(""), None);
    }

    #[test]
    fn hosts_this_server_answers_to() {
        let loopback = bound("127.0.0.1:8080");
        let none: &[AllowedHost] = &[];
        for ok in ["localhost", "127.0.0.1", "[::1]", "127.0.0.2"] {
            assert!(host_allowed(ok, Some(8080), loopback, none), "{ok}");
            assert!(!host_allowed(ok, Some(3000), loopback, none), "{ok}:3000");
        }
        assert!(!host_allowed("evil.example", Some(8080), loopback, none));
        assert!(!host_allowed("10.0.0.5", Some(8080), loopback, none));
        // Bound to all interfaces: any address of the machine, by IP.
        let all = bound("0.0.0.0:8080");
        assert!(host_allowed("10.0.0.5", Some(8080), all, none));
        assert!(!host_allowed("evil.example", Some(8080), all, none));
        // Named hosts, with or without a port; no port in Host is port 80.
        let named = [
            parse_allowed_host("Refinery.Example").unwrap(),
            parse_allowed_host("build.example:8443").unwrap(),
        ];
        assert!(host_allowed("refinery.example", None, loopback, &named));
        assert!(host_allowed("refinery.example", Some(9), loopback, &named));
        assert!(host_allowed("build.example", Some(8443), loopback, &named));
        assert!(!host_allowed("build.example", Some(8080), loopback, &named));
        assert!(host_allowed("localhost", None, bound("127.0.0.1:80"), none));
    }

    #[test]
    fn allowed_host_values() {
        assert!(parse_allowed_host("refinery.example:8443").is_ok());
        assert!(parse_allowed_host("10.1.2.3").is_ok());
        for bad in ["https://refinery.example", "*.example", "a b", "", "host:x"] {
            let e = parse_allowed_host(bad).unwrap_err().to_string();
            assert!(e.contains("--allowed-host"), "{e}");
        }
    }

    #[test]
    fn same_origin() {
        assert!(is_same_origin(
            "http://127.0.0.1:8080",
            Some("127.0.0.1:8080")
        ));
        assert!(is_same_origin(
            "https://refinery.example",
            Some("refinery.example")
        ));
        assert!(!is_same_origin(
            "http://127.0.0.1:3000",
            Some("127.0.0.1:8080")
        ));
        assert!(!is_same_origin("null", Some("127.0.0.1:8080")));
        assert!(!is_same_origin("http://127.0.0.1:8080", None));
    }

    #[test]
    fn what_forms_cannot_send() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_form_proof(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            "multipart/form-data; boundary=x".parse().unwrap(),
        );
        assert!(!is_form_proof(&headers));
        headers.insert(REQUEST_HEADER, "1".parse().unwrap());
        assert!(is_form_proof(&headers));
        let mut json = HeaderMap::new();
        json.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(is_form_proof(&json));
        assert!(!is_form_proof(&HeaderMap::new()));
    }
}
