//! Every error the API returns is JSON: `{"error": {"code": "...", "message": "..."}}`.

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use refinery_store::{HistoryError, QueueError};

use refinery_worker::publish::PublishError;

/// An API error: HTTP status, a stable machine-readable code, and a message for people.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same error, telling the client when to come back (`Retry-After`).
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 507 `insufficient_storage`: the server's disk is full.
    pub fn disk_full(context: &str) -> Self {
        Self::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "insufficient_storage",
            format!(
                "{context}: the server's disk is full; nothing was kept. Free space in its \
                 cache folder and send it again"
            ),
        )
    }
}

/// True if `error` or any error it wraps is "no space left on device" or "disk quota
/// exceeded" (ENOSPC, EDQUOT).
pub fn is_disk_full(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::StorageFull
                || io.kind() == std::io::ErrorKind::QuotaExceeded
                || matches!(io.raw_os_error(), Some(28 | 122))
            {
                return true;
            }
        }
        current = e.source();
    }
    false
}

/// A failed write of the server's own files: 507 when the disk is full, else 500 (the
/// message's server paths are kept out of the answer by [`IntoResponse`]).
pub fn storage_error(context: &str, error: &(dyn std::error::Error + 'static)) -> ApiError {
    if is_disk_full(error) {
        tracing::error!("{context}: {error}");
        ApiError::disk_full(context)
    } else {
        ApiError::internal(format!("{context}: {error}"))
    }
}

/// `message` with every absolute file path replaced by `<server path>`: answers to
/// clients never tell where the server keeps its files (the server's log does). A path
/// starts with `/` at the start of the text or after a space, quote, bracket or `=`, and
/// ends at a space, quote, bracket, comma or colon; URLs (`://`) are left alone.
pub fn without_server_paths(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.char_indices().peekable();
    let mut previous: Option<char> = None;
    while let Some((_, c)) = chars.next() {
        let at_boundary = previous.is_none_or(|p| p.is_whitespace() || "'\"`([{<=".contains(p));
        if c == '/' && at_boundary {
            while let Some((_, next)) = chars.peek() {
                if next.is_whitespace() || "'\"`)]}>,:".contains(*next) {
                    break;
                }
                chars.next();
            }
            out.push_str("<server path>");
            previous = Some('>');
            continue;
        }
        out.push(c);
        previous = Some(c);
    }
    out
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.code, self.message)
    }
}

/// The JSON body of an error.
pub fn error_body(code: &str, message: &str) -> String {
    serde_json::to_string(&refinery_contract::ErrorBody::new(code, message))
        .expect("an error body serializes")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = if self.status.is_server_error() {
            // The operator reads the whole message in the log; the client gets no paths.
            tracing::error!(status = %self.status, code = self.code, "{}", self.message);
            without_server_paths(&self.message)
        } else {
            self.message
        };
        let mut response = (self.status, error_body(self.code, &message)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        let message = e.to_string();
        match e {
            QueueError::NotFound { .. } => ApiError::not_found(message),
            QueueError::LeaseLost { .. } => {
                ApiError::new(StatusCode::CONFLICT, "lease_lost", message)
            }
            QueueError::Conflict(_) => ApiError::conflict(message),
            // The one conflict a worker mends itself (the next build number).
            QueueError::NameTaken(_) => ApiError::new(StatusCode::CONFLICT, NAME_TAKEN, message),
            QueueError::Invalid(_) => ApiError::bad_request(message),
            QueueError::Unavailable { .. } => ApiError::unavailable(message),
            // The server's log names the file; the client learns what to do, not where.
            QueueError::Replaced { what, .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_replaced",
                format!(
                    "the queue database file {what} while the server was running; to keep \
                     the writes it acknowledges, the server refuses all work until it is \
                     restarted with the right file (its log says which)"
                ),
            ),
            QueueError::Database { .. }
            | QueueError::NotOurs { .. }
            | QueueError::TooNew { .. } => ApiError::internal(message),
        }
    }
}

impl From<HistoryError> for ApiError {
    fn from(e: HistoryError) -> Self {
        match e {
            // The server's log names the file; the client learns what to do, not where.
            HistoryError::Replaced { what, .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_replaced",
                format!(
                    "the history database file {what} while the server was running; to keep \
                     the events it records, the server refuses all work until it is \
                     restarted with the right file (its log says which)"
                ),
            ),
            HistoryError::Locked { .. }
            | HistoryError::Open { .. }
            | HistoryError::Unavailable { .. } => ApiError::unavailable(e.to_string()),
            _ => ApiError::internal(e.to_string()),
        }
    }
}

/// The error code of `409` when a wheel's file name is already published with other bytes.
pub const NAME_TAKEN: &str = refinery_contract::worker::NAME_TAKEN;

impl From<PublishError> for ApiError {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::Invalid(message) => ApiError::bad_request(message),
            PublishError::Metadata { .. } => ApiError::bad_request(e.to_string()),
            PublishError::NotTheJobs { .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, "wrong_wheel", e.to_string())
            }
            PublishError::Store(e) => e.into(),
            PublishError::Storage(e) => storage_error("the wheel cannot be stored", &e),
        }
    }
}

/// True if the request announces a body: a non-zero `Content-Length` or any
/// `Transfer-Encoding` (RFC 9112 §6.1).
fn request_has_body(req: &Request<Body>) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        StatusCode::INSUFFICIENT_STORAGE => "insufficient_storage",
        s if s.is_server_error() => "internal",
        _ => "error",
    }
}

/// Turns every non-JSON error response (framework rejections: bad JSON, bad paths, too
/// large bodies, wrong methods) into the JSON error shape.
///
/// An error answer to a request that carried a body also says `Connection: close`: the
/// handler may have stopped reading the body (a full disk, a size limit), hyper then
/// closes the connection, and a client that had put it back in its pool would send its
/// next request into a closed socket (RFC 9112 §9.6).
pub async fn json_errors(req: Request<Body>, next: Next) -> Response {
    let had_body = request_has_body(&req);
    let mut response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    if had_body {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_string()
    } else {
        text
    };
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(error_body(code_for(status), &message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_paths_stay_out_of_answers() {
        assert_eq!(
            without_server_paths(
                "cannot write /var/cache/refinery/tmp/x.tmp: No space left (os error 28)"
            ),
            "cannot write <server path>: No space left (os error 28)"
        );
        assert_eq!(
            without_server_paths("failed to rename `/a/b` to '/c d'"),
            "failed to rename `<server path>` to '<server path> d'"
        );
        // URLs, fractions and words with slashes stay.
        let kept = "index http://host/simple/ said 3/4 and/or";
        assert_eq!(without_server_paths(kept), kept);
        assert_eq!(without_server_paths("/etc/passwd"), "<server path>");
    }

    #[test]
    fn a_full_disk_is_found_through_wrappers() {
        let full = std::io::Error::from_raw_os_error(28);
        assert!(is_disk_full(&full));
        let wrapped = refinery_store::CasError::Write {
            path: "/x".into(),
            source: full,
        };
        assert!(is_disk_full(&wrapped));
        let error = storage_error("the wheel cannot be stored", &wrapped);
        assert_eq!(error.status, StatusCode::INSUFFICIENT_STORAGE);
        assert!(error.message.contains("disk is full"), "{}", error.message);
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(!is_disk_full(&denied));
        assert_eq!(
            storage_error("x", &denied).status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
