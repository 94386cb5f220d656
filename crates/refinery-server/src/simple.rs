//! The pip-compatible index: `/simple/` and `/simple/<project>/` in PEP 503 HTML and
//! PEP 691 JSON (by the `Accept` header, or `?format=json|html`), with `#sha256=`
//! fragments, `data-requires-python` and PEP 658 metadata; the files come from the
//! content-addressed store at `/files/<sha256>/<filename>` (and `….metadata`).
//!
//! Pages are rendered ahead into an in-memory snapshot, rebuilt when the store's
//! published set changes (checked every 2 s and after every local publish), so a page
//! request is a map lookup. Wheels recorded in the history's artifact index (runs of
//! `refinery run` on the same cache) are imported into the index on the way.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use refinery_index::normalize_name;
use refinery_index::render::{
    render_project_page_html_files, render_project_page_json_files, render_root_index,
    render_root_index_json, RenderFile, CONTENT_TYPE_HTML_V1, CONTENT_TYPE_JSON,
};
use refinery_store::queue::PublishedFile;
use refinery_store::{Cas, QueueStore};
use serde::Deserialize;

use crate::error::ApiError;
use crate::AppState;

/// Rendered pages and the files they link to.
#[derive(Default)]
pub struct Snapshot {
    root_html: String,
    root_json: String,
    pages: HashMap<String, (String, String)>,
    /// sha256 → (filename, metadata sha256)
    files: HashMap<String, (String, Option<String>)>,
    pub projects: usize,
    pub wheels: usize,
}

/// The current snapshot and what it was built from.
#[derive(Default)]
pub struct IndexCache {
    snapshot: RwLock<Arc<Snapshot>>,
    generation: Mutex<Option<(i64, i64)>>,
    /// History artifacts already looked at (imported or not importable).
    seen_artifacts: Mutex<HashSet<String>>,
}

impl IndexCache {
    pub fn current(&self) -> Arc<Snapshot> {
        self.snapshot.read().expect("index snapshot").clone()
    }

    /// Forces the next refresh to rebuild.
    pub fn invalidate(&self) {
        *self.generation.lock().expect("index generation") = None;
    }
}

fn render_file(file: &PublishedFile) -> RenderFile {
    RenderFile {
        filename: file.filename.clone(),
        href: format!("../../files/{}/{}", file.sha256, file.filename),
        sha256: file.sha256.clone(),
        requires_python: file.requires_python.clone(),
        core_metadata_sha256: file.metadata_sha256.clone(),
        yanked: None,
    }
}

/// Groups published files by project.
fn by_project(files: &[PublishedFile]) -> BTreeMap<String, Vec<RenderFile>> {
    let mut projects: BTreeMap<String, Vec<RenderFile>> = BTreeMap::new();
    for file in files {
        projects
            .entry(normalize_name(&file.project))
            .or_default()
            .push(render_file(file));
    }
    projects
}

fn build_snapshot(files: &[PublishedFile]) -> Snapshot {
    let projects = by_project(files);
    let names: Vec<String> = projects.keys().cloned().collect();
    Snapshot {
        root_html: render_root_index(&names),
        root_json: render_root_index_json(&names),
        pages: projects
            .iter()
            .map(|(name, files)| {
                (
                    name.clone(),
                    (
                        render_project_page_html_files(name, files),
                        render_project_page_json_files(name, files),
                    ),
                )
            })
            .collect(),
        files: files
            .iter()
            .map(|f| {
                (
                    f.sha256.clone(),
                    (f.filename.clone(), f.metadata_sha256.clone()),
                )
            })
            .collect(),
        projects: projects.len(),
        wheels: files.len(),
    }
}

/// Imports new history artifacts, then rebuilds the snapshot if the published set
/// changed. Blocking.
pub fn refresh(state: &AppState) {
    import_history_artifacts(state);
    let generation = match state.store.published_generation() {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!("index refresh: {e}");
            return;
        }
    };
    {
        let current = state.index.generation.lock().expect("index generation");
        if *current == Some(generation) {
            return;
        }
    }
    match state.store.published() {
        Ok(mut files) => {
            // A worker on the shared database with a store of its own (`--database-url`
            // without this server's `--cache`) publishes files this server cannot serve:
            // listed, pip would stop at their 404.
            files.retain(|file| {
                let served = state.cas.get(&file.sha256).is_some();
                if !served {
                    tracing::warn!(
                        "index: {} is published but not in this server's store ({}); left out of the index (a worker on the shared database needs this server's --cache folder, or --server)",
                        file.filename,
                        file.sha256
                    );
                }
                served
            });
            let snapshot = build_snapshot(&files);
            *state.index.snapshot.write().expect("index snapshot") = Arc::new(snapshot);
            *state.index.generation.lock().expect("index generation") = Some(generation);
        }
        Err(e) => tracing::warn!("index refresh: {e}"),
    }
}

fn import_history_artifacts(state: &AppState) {
    let Ok(artifacts) = state.history.with(refinery_store::History::artifacts) else {
        return;
    };
    let mut seen = state.index.seen_artifacts.lock().expect("seen artifacts");
    let fresh: Vec<_> = artifacts
        .into_iter()
        .filter(|(_, filename, sha)| !seen.contains(&format!("{sha}/{filename}")))
        .collect();
    if fresh.is_empty() {
        return;
    }
    let published: HashSet<(String, String)> = state
        .store
        .published()
        .map(|files| files.into_iter().map(|f| (f.filename, f.sha256)).collect())
        .unwrap_or_default();
    for (key, filename, sha) in fresh {
        seen.insert(format!("{sha}/{filename}"));
        if published.contains(&(filename.clone(), sha.to_ascii_lowercase())) {
            continue;
        }
        if let Some(path) = state.cas.get(&sha) {
            if let Err(e) = refinery_worker::publish::publish_wheel_named(
                &*state.store,
                &state.cas,
                &path,
                &filename,
                artifact_origin(&key),
                None,
            ) {
                tracing::warn!("cannot index {filename}: {e}");
            }
        }
    }
}

/// The origin of a history artifact in the index: `reused` for the reused wheels that
/// `refinery run` records (kept under their own names and bytes), else `cached` (built).
fn artifact_origin(key: &str) -> &'static str {
    if key.starts_with("reused|") {
        "reused"
    } else {
        "cached"
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct FormatQuery {
    pub format: Option<String>,
}

/// PEP 691 content negotiation: the best of JSON v1, HTML v1 and text/html by q-value.
fn wants_json(headers: &HeaderMap, query: &FormatQuery) -> Option<&'static str> {
    match query.format.as_deref() {
        Some("json") => return Some(CONTENT_TYPE_JSON),
        Some("html") => return None,
        _ => {}
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut best_json = -1.0f32;
    let mut best_html = -1.0f32;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "application/vnd.pypi.simple.v1+json" | "application/vnd.pypi.simple.latest+json" => {
                best_json = best_json.max(q);
            }
            "application/vnd.pypi.simple.v1+html"
            | "application/vnd.pypi.simple.latest+html"
            | "text/html"
            | "*/*" => best_html = best_html.max(q),
            _ => {}
        }
    }
    // On equal preference the richer format (PEP 691's recommendation for servers).
    (best_json > 0.0 && best_json >= best_html).then_some(CONTENT_TYPE_JSON)
}

fn html_type(headers: &HeaderMap) -> &'static str {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // PEP 691: a request for `latest` is answered with the version it got (v1).
    if accept.contains("application/vnd.pypi.simple.v1+html")
        || accept.contains("application/vnd.pypi.simple.latest+html")
    {
        CONTENT_TYPE_HTML_V1
    } else {
        "text/html; charset=utf-8"
    }
}

fn page(body: String, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=10, public"),
    );
    response
}

pub async fn root(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<FormatQuery>,
) -> Response {
    let snapshot = state.index.current();
    match wants_json(&headers, &query) {
        Some(ct) => page(snapshot.root_json.clone(), ct),
        None => page(snapshot.root_html.clone(), html_type(&headers)),
    }
}

/// `/simple` without its slash: PEP 503 pages end in `/` (the root's links are relative
/// to it), so the server redirects, keeping the query.
pub async fn root_no_slash(uri: axum::http::Uri) -> Response {
    let target = match uri.query() {
        Some(query) => format!("/simple/?{query}"),
        None => "/simple/".to_string(),
    };
    Redirect::permanent(&target).into_response()
}

pub async fn project(
    State(state): State<Arc<AppState>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    Query(query): Query<FormatQuery>,
) -> Result<Response, ApiError> {
    crate::validate::check_name(&name)?;
    let normalized = normalize_name(&name);
    if normalized != name {
        return Ok(Redirect::permanent(&format!("/simple/{normalized}/")).into_response());
    }
    let snapshot = state.index.current();
    let (html, json) = snapshot.pages.get(&normalized).ok_or_else(|| {
        ApiError::not_found(format!(
            "no s390x wheels of `{normalized}` in this index yet"
        ))
    })?;
    Ok(match wants_json(&headers, &query) {
        Some(ct) => page(json.clone(), ct),
        None => page(html.clone(), html_type(&headers)),
    })
}

pub async fn project_no_slash(UrlPath(name): UrlPath<String>) -> Result<Response, ApiError> {
    crate::validate::check_name(&name)?;
    Ok(Redirect::permanent(&format!("/simple/{}/", normalize_name(&name))).into_response())
}

/// `/files/<sha256>/<filename>` and `/files/<sha256>/<filename>.metadata`.
pub async fn file(
    State(state): State<Arc<AppState>>,
    UrlPath((sha, filename)): UrlPath<(String, String)>,
) -> Result<Response, ApiError> {
    if !refinery_store::cas::is_valid_digest(&sha)
        || filename.contains('/')
        || filename.contains("..")
    {
        return Err(ApiError::bad_request(
            "a file URL is /files/<sha256>/<wheel file name>",
        ));
    }
    let snapshot = state.index.current();
    let sha = sha.to_ascii_lowercase();
    let (name, metadata) = snapshot
        .files
        .get(&sha)
        .ok_or_else(|| ApiError::not_found(format!("no file with sha256 {sha} in this index")))?;
    let (object, content_type) = if filename == *name {
        (sha.clone(), "application/octet-stream")
    } else if filename == format!("{name}.metadata") && metadata.is_some() {
        (
            metadata.clone().unwrap_or_default(),
            "text/plain; charset=utf-8",
        )
    } else {
        return Err(ApiError::not_found(format!(
            "{sha} is {name}, not {filename}"
        )));
    };
    let path = state.cas.get(&object).ok_or_else(|| {
        ApiError::not_found(format!("{filename} is listed but missing from the store"))
    })?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ApiError::internal(format!("cannot open {}: {e}", path.display())))?;
    let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let stream = tokio_util::io::ReaderStream::new(file);
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=31536000, immutable"),
    );
    *response.status_mut() = StatusCode::OK;
    Ok(response)
}

/// Why the static index (`refinery index`) could not be written.
#[derive(Debug, thiserror::Error)]
pub enum StaticIndexError {
    #[error(transparent)]
    History(#[from] refinery_store::HistoryError),
    #[error(transparent)]
    Queue(#[from] refinery_store::QueueError),
    #[error(transparent)]
    Publish(#[from] refinery_worker::publish::PublishError),
    #[error("{filename} is listed but missing from the store")]
    Missing { filename: String },
    #[error("{}: {source}", path.display())]
    Write {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl StaticIndexError {
    fn write(path: &Path) -> impl FnOnce(std::io::Error) -> StaticIndexError + '_ {
        move |source| StaticIndexError::Write {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What [`write_static_index`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticIndex {
    pub projects: usize,
    pub wheels: usize,
    /// Published files whose bytes are not in the store (a worker on the shared database
    /// with a store of its own published them): left out.
    pub not_in_store: Vec<String>,
}

/// Writes the index as static files: `<out>/simple/index.html`,
/// `<out>/simple/<project>/index.html` (and `index.json`), and the wheels and their
/// metadata under `<out>/files/<sha256>/`.
///
/// # Errors
/// [`StaticIndexError`]: the history, the queue or the store failed, or a file could not be written.
pub fn write_static_index(
    store: &dyn QueueStore,
    cas: &Cas,
    history: Option<&Path>,
    out: &Path,
) -> Result<StaticIndex, StaticIndexError> {
    // An SQLite file that exists, or a PostgreSQL history URL.
    if let Some(history) = history.filter(|p| {
        p.is_file()
            || p.to_str()
                .is_some_and(refinery_store::history::is_postgres_url)
    }) {
        let h = refinery_store::History::open(history)?;
        let known: HashSet<String> = store.published()?.into_iter().map(|f| f.filename).collect();
        for (key, filename, sha) in h.artifacts()? {
            if known.contains(&filename) {
                continue;
            }
            if let Some(path) = cas.get(&sha) {
                refinery_worker::publish::publish_wheel_named(
                    store,
                    cas,
                    &path,
                    &filename,
                    artifact_origin(&key),
                    None,
                )?;
            }
        }
    }
    // As the live index: a file published through the shared database into another
    // store cannot be copied here, and is left out rather than listed without its bytes.
    let (files, not_in_store): (Vec<_>, Vec<_>) = store
        .published()?
        .into_iter()
        .partition(|f| cas.get(&f.sha256).is_some());
    let not_in_store = not_in_store.into_iter().map(|f| f.filename).collect();
    let projects = by_project(&files);
    let names: Vec<String> = projects.keys().cloned().collect();
    let simple = out.join("simple");
    let before = refinery_index::static_pages::listed_projects(&simple);
    let write = |path: &Path, bytes: &[u8]| {
        refinery_store::write_atomic(path, bytes).map_err(StaticIndexError::write(path))
    };
    write(
        &simple.join("index.html"),
        render_root_index(&names).as_bytes(),
    )?;
    write(
        &simple.join("index.json"),
        render_root_index_json(&names).as_bytes(),
    )?;
    for (name, pages) in &projects {
        write(
            &simple.join(name).join("index.html"),
            render_project_page_html_files(name, pages).as_bytes(),
        )?;
        write(
            &simple.join(name).join("index.json"),
            render_project_page_json_files(name, pages).as_bytes(),
        )?;
    }
    // A folder indexed before: projects no longer published lose their pages.
    let listed = projects.keys().cloned().collect();
    refinery_index::static_pages::prune_project_pages(&simple, &before, &listed)
        .map_err(StaticIndexError::write(&simple))?;
    let mut copied = 0;
    for file in &files {
        let dir = out.join("files").join(&file.sha256);
        let dest = dir.join(&file.filename);
        let source = cas
            .get(&file.sha256)
            .ok_or_else(|| StaticIndexError::Missing {
                filename: file.filename.clone(),
            })?;
        if !dest.is_file() {
            refinery_store::copy_atomic(&source, &dest).map_err(StaticIndexError::write(&dest))?;
        }
        if let Some(meta) = file.metadata_sha256.as_deref().and_then(|m| cas.get(m)) {
            let dest = dir.join(format!("{}.metadata", file.filename));
            if !dest.is_file() {
                refinery_store::copy_atomic(&meta, &dest)
                    .map_err(StaticIndexError::write(&dest))?;
            }
        }
        copied += 1;
    }
    Ok(StaticIndex {
        projects: projects.len(),
        wheels: copied,
        not_in_store,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        let mut headers = HeaderMap::new();
        let q = FormatQuery::default();
        assert_eq!(wants_json(&headers, &q), None);
        headers.insert(
            header::ACCEPT,
            "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
                .parse()
                .unwrap(),
        );
        assert_eq!(wants_json(&headers, &q), Some(CONTENT_TYPE_JSON));
        headers.insert(
            header::ACCEPT,
            "application/vnd.pypi.simple.v1+json;q=0.5, text/html"
                .parse()
                .unwrap(),
        );
        assert_eq!(wants_json(&headers, &q), None);
        let json = FormatQuery {
            format: Some("json".into()),
        };
        assert_eq!(wants_json(&headers, &json), Some(CONTENT_TYPE_JSON));
        // Equal preference: the richer format.
        headers.insert(
            header::ACCEPT,
            "application/vnd.pypi.simple.v1+json, */*".parse().unwrap(),
        );
        assert_eq!(wants_json(&headers, &q), Some(CONTENT_TYPE_JSON));
        // Asked for the latest HTML: answered as the version it is.
        headers.insert(
            header::ACCEPT,
            "application/vnd.pypi.simple.latest+html".parse().unwrap(),
        );
        assert_eq!(wants_json(&headers, &q), None);
        assert_eq!(html_type(&headers), CONTENT_TYPE_HTML_V1);
    }
}
