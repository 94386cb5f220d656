//! `GET /api/packs/{key}`: a finished native library pack of the server's store (see
//! [`refinery_build::packs`]) for remote workers, which ask before building one.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use refinery_build::packs::{is_pack_key, PackStore};
use refinery_contract::PACK_SHA256_HEADER;

use super::ApiResult;
use crate::error::ApiError;
use crate::{blocking, AppState};

/// The pack `key` as `.tar.gz` (made once, then served from `<packs>/.archives`), its
/// sha256 in the [`PACK_SHA256_HEADER`] header. 400 for a name that is no pack key, 404
/// when the store has no finished pack of that key.
pub(super) async fn pack(
    State(state): State<Arc<AppState>>,
    UrlPath(key): UrlPath<String>,
) -> ApiResult<Response> {
    if !is_pack_key(&key) {
        return Err(ApiError::bad_request(
            "a pack key is <name>-<version>-glibc<X.Y>-<hash> (letters, digits, . + _ -)",
        ));
    }
    let store = PackStore::at(state.config.packs_dir.clone());
    let name = key.clone();
    let (path, sha256) = blocking(move || {
        store
            .archive(&name)
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("this server has no finished pack {key}")))?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ApiError::internal(format!("cannot open {}: {e}", path.display())))?;
    let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let mut response = Response::new(Body::from_stream(tokio_util::io::ReaderStream::new(file)));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/gzip"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    headers.insert(
        PACK_SHA256_HEADER,
        HeaderValue::from_str(&sha256).map_err(|e| ApiError::internal(e.to_string()))?,
    );
    *response.status_mut() = StatusCode::OK;
    Ok(response)
}
