//! Cross-origin access for a dashboard served from another origin (`--cors-origin`):
//! the listed origins may call the API with credentials (the token cookie or header);
//! every other origin gets no CORS headers, so browsers keep it out.

use axum::http::{header, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The header the dashboard sends with every write; HTML forms cannot send it, and a
/// page on another origin cannot send it without a CORS preflight this server refuses.
pub const REQUEST_HEADER: &str = "x-refinery-request";

/// Why a `--cors-origin` value was refused; each names the value.
#[derive(Debug, thiserror::Error)]
pub enum CorsOriginError {
    #[error(
        "--cors-origin \"*\": the API is called with the token cookie, which browsers never send to a wildcard origin; list the dashboard's origin, e.g. https://refinery.example:8443"
    )]
    Wildcard,
    #[error(
        "--cors-origin {origin:?} is not an origin ({source}); write it as https://host[:port]"
    )]
    NotUrl {
        origin: String,
        #[source]
        source: url::ParseError,
    },
    #[error(
        "--cors-origin {origin:?} is not an origin: write only https://host[:port], without a path"
    )]
    NotPlain { origin: String },
    #[error("--cors-origin {origin:?}: {source}")]
    Header {
        origin: String,
        #[source]
        source: axum::http::header::InvalidHeaderValue,
    },
}

/// Check an origin as browsers send it: `scheme://host[:port]`, nothing more.
pub fn parse_origin(origin: &str) -> Result<HeaderValue, CorsOriginError> {
    let trimmed = origin.trim().trim_end_matches('/');
    if trimmed == "*" {
        return Err(CorsOriginError::Wildcard);
    }
    let url = reqwest::Url::parse(trimmed).map_err(|source| CorsOriginError::NotUrl {
        origin: origin.to_string(),
        source,
    })?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.path() == "/"
        && url.query().is_none()
        && url.username().is_empty();
    if !plain {
        return Err(CorsOriginError::NotPlain {
            origin: origin.to_string(),
        });
    }
    HeaderValue::from_str(&url.origin().ascii_serialization()).map_err(|source| {
        CorsOriginError::Header {
            origin: origin.to_string(),
            source,
        }
    })
}

/// The layer for `origins` (already checked by [`parse_origin`]).
pub fn layer(origins: Vec<HeaderValue>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::DELETE,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::ACCEPT,
            HeaderName::from_static("x-worker-token"),
            HeaderName::from_static(REQUEST_HEADER),
            HeaderName::from_static("last-event-id"),
        ])
        .max_age(std::time::Duration::from_secs(600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_plain_scheme_host_and_port() {
        assert_eq!(
            parse_origin("https://ui.example:8443").unwrap(),
            "https://ui.example:8443"
        );
        assert_eq!(
            parse_origin("http://localhost:5173").unwrap(),
            "http://localhost:5173"
        );
        // The default port is dropped, as browsers do.
        assert_eq!(
            parse_origin("https://ui.example:443").unwrap(),
            "https://ui.example"
        );
        assert!(parse_origin("*")
            .unwrap_err()
            .to_string()
            .contains("wildcard"));
        assert!(parse_origin("https://ui.example/app")
            .unwrap_err()
            .to_string()
            .contains("without a path"));
        assert!(parse_origin("ui.example").is_err());
        assert!(parse_origin("ftp://ui.example").is_err());
    }
}
