//! The token cookie of the dashboard's session.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::ApiResult;
use refinery_contract::{Access, Done, SessionSet, SessionState, TokenRequest};

use crate::error::ApiError;
use crate::{auth, AppState};

pub(super) async fn session_token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    extensions: axum::http::Extensions,
    body: Option<Json<TokenRequest>>,
) -> ApiResult<Response> {
    let (worker, read) = (
        state.config.worker_token.clone(),
        state.config.read_token.clone(),
    );
    if worker.is_none() && read.is_none() {
        return Err(ApiError::bad_request(
            "this server has no WORKER_TOKEN and no read token: there is nothing to log in to",
        ));
    }
    let presented = body
        .and_then(|b| b.0.token)
        .or_else(|| auth::presented_token(&headers, uri.query()));
    let Some(token) = presented else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send the token as ?token=, the X-Worker-Token header or {\"token\": …}",
        ));
    };
    // The worker token acts; a read token (--read-token) only reads.
    let tokens: Vec<(&str, Access)> = [
        (worker.as_deref(), Access::Write),
        (read.as_deref(), Access::Read),
    ]
    .into_iter()
    .filter_map(|(token, access)| Some((token?, access)))
    .collect();
    let expected: Vec<&str> = tokens.iter().map(|(token, _)| *token).collect();
    let access = match auth::check_token(&state, auth::peer_ip(&extensions), &token, &expected) {
        Ok(Some(i)) => tokens[i].1,
        Ok(None) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the token is not valid",
            ))
        }
        Err(wait) => return Ok(auth::too_many_failures(wait)),
    };
    let cookie: String = token
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    // Without a WORKER_TOKEN every action is open: a read token still acts.
    let access = if worker.is_none() {
        Access::Write
    } else {
        access
    };
    let mut response = Json(SessionSet { ok: true, access }).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!(
            "worker_token={cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000"
        ))
        .map_err(|e| ApiError::internal(e.to_string()))?,
    );
    Ok(response)
}

/// `GET /api/session/token`: what this server asks for and what the browser's cookie (or
/// header) gives, always 200 so a page load logs no error: `{worker_token, read_token}`
/// (which tokens the server has) and `access`: `none` (no token presented), `write`,
/// `read` or `invalid`. A wrong token counts as a failed guess, as everywhere.
pub(super) async fn session_state(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    extensions: axum::http::Extensions,
) -> Response {
    let (worker, read) = (
        state.config.worker_token.as_deref(),
        state.config.read_token.as_deref(),
    );
    let access = match auth::presented_token(&headers, uri.query()) {
        None => Access::None,
        Some(_) if worker.is_none() && read.is_none() => Access::Write,
        Some(token) => {
            let tokens: Vec<(&str, Access)> = [(worker, Access::Write), (read, Access::Read)]
                .into_iter()
                .filter_map(|(token, access)| Some((token?, access)))
                .collect();
            let expected: Vec<&str> = tokens.iter().map(|(token, _)| *token).collect();
            match auth::check_token(&state, auth::peer_ip(&extensions), &token, &expected) {
                // Without a WORKER_TOKEN every action is open: a read token still acts.
                Ok(Some(_)) if worker.is_none() => Access::Write,
                Ok(Some(i)) => tokens[i].1,
                Ok(None) => Access::Invalid,
                Err(wait) => return auth::too_many_failures(wait),
            }
        }
    };
    Json(SessionState {
        worker_token: worker.is_some(),
        read_token: read.is_some(),
        access,
    })
    .into_response()
}

/// `DELETE /api/session/token`: drops the `worker_token` cookie (the UI cannot: it is
/// HttpOnly).
pub(super) async fn session_logout() -> Response {
    let mut response = Json(Done::default()).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("worker_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}
