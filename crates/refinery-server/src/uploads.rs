//! Uploads: requirements files and wheels from people (`POST /api/requirements/upload`,
//! `POST /api/wheels/upload`, multipart) and wheels from workers
//! (`PUT /api/jobs/{id}/wheel`, the raw body).
//!
//! An upload is never held whole in memory: it streams into a temp file in
//! `<cache>/tmp/uploads` while it is hashed and counted against its size limit. At most
//! [`ServerConfig::max_concurrent_uploads`](crate::ServerConfig) run at once; a request
//! that finds no slot within `upload_slot_wait` gets 503 `uploads_busy` with
//! `Retry-After`. A cut, refused or failed upload leaves nothing behind (the temp file is
//! removed when it drops); a full disk answers 507; an accepted input is renamed into its
//! folder in one step. Wheels declaring more than
//! [`MAX_WHEEL_MEMBERS`](refinery_plan::zip_members::MAX_WHEEL_MEMBERS) members are
//! refused before their central directory is parsed.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::{Stream, StreamExt};
use refinery_contract::{InputUploaded, ScanDecision};
use refinery_store::queue::{now_ms, NewInput};
use sha2::Digest;
use tokio::io::AsyncWriteExt;

use crate::error::{storage_error, ApiError};
use crate::validate::parse_id;
use crate::{blocking, planning, AppState};

type ApiResult<T> = Result<T, ApiError>;

/// Removes the spool files a killed server left in `<cache>/tmp/uploads` (one control
/// plane per cache: at its start no upload of its is running). Returns how many.
pub fn clean_spool(cache: &std::path::Path) -> usize {
    let dir = cache.join("tmp").join("uploads");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".upload."))
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// An upload on disk: its temp file (removed on drop unless persisted), sha256 and size.
pub struct Spooled {
    pub file: tempfile::NamedTempFile,
    pub sha256: String,
    pub size: u64,
}

/// Streams `chunks` into a temp file under `<cache>/tmp/uploads`, hashing as it goes.
/// More than `max` bytes: 413 naming `what`. A chunk error goes through `chunk_error`.
pub async fn spool<S, E>(
    state: &AppState,
    chunks: S,
    max: usize,
    what: &str,
    chunk_error: impl Fn(E) -> ApiError,
) -> ApiResult<Spooled>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    let context = format!("{what} cannot be stored");
    let dir = state.config.cache.join("tmp").join("uploads");
    let file = blocking({
        let context = context.clone();
        move || {
            fs_err::create_dir_all(&dir).map_err(|e| storage_error(&context, &e))?;
            tempfile::Builder::new()
                .prefix(".upload.")
                .suffix(".tmp")
                .tempfile_in(&dir)
                .map_err(|e| storage_error(&context, &e))
        }
    })
    .await?;
    let handle = file
        .as_file()
        .try_clone()
        .map_err(|e| storage_error(&context, &e))?;
    let mut out = tokio::fs::File::from_std(handle);
    let mut hasher = sha2::Sha256::new();
    let mut size: u64 = 0;
    futures_util::pin_mut!(chunks);
    // A client must keep up the minimum rate (after a grace period): a trickle of bytes
    // would otherwise hold an upload slot for as long as it likes.
    let started = tokio::time::Instant::now();
    let min_rate = state.config.min_upload_rate.max(1) as f64;
    loop {
        let due = started
            + state.config.upload_grace
            + std::time::Duration::from_secs_f64(size as f64 / min_rate);
        let next = match tokio::time::timeout_at(due, chunks.next()).await {
            Ok(next) => next,
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "upload_too_slow",
                    format!(
                        "{what} arrived slower than {} KiB/s after the first {} s; nothing \
                         was kept. Send it again over a faster link",
                        state.config.min_upload_rate / 1024,
                        state.config.upload_grace.as_secs_f64()
                    ),
                ))
            }
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(&chunk_error)?;
        size += chunk.len() as u64;
        if size > max as u64 {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("{what} may be at most {max} bytes"),
            ));
        }
        hasher.update(&chunk);
        out.write_all(&chunk)
            .await
            .map_err(|e| storage_error(&context, &e))?;
    }
    out.flush().await.map_err(|e| storage_error(&context, &e))?;
    out.sync_all()
        .await
        .map_err(|e| storage_error(&context, &e))?;
    Ok(Spooled {
        file,
        sha256: hex::encode(hasher.finalize()),
        size,
    })
}

/// Waits up to `upload_slot_wait` for one of the `max_concurrent_uploads` slots.
async fn upload_slot(state: &AppState) -> ApiResult<tokio::sync::SemaphorePermit<'_>> {
    match tokio::time::timeout(state.config.upload_slot_wait, state.uploads.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "uploads_busy",
            format!(
                "{} uploads are running, the most this server takes at once \
                 (--max-concurrent-uploads); send it again in a few seconds",
                state.config.max_concurrent_uploads
            ),
        )
        .retry_after(5)),
    }
}

/// What one of people's upload endpoints takes: the field `file` of a
/// `multipart/form-data` body, with one of `allowed_types` as that part's content type.
struct UploadForm {
    endpoint: &'static str,
    /// What the file is, for messages: `a requirements file`.
    what: &'static str,
    allowed_types: &'static [&'static str],
    /// A file name for the `curl` example.
    example: &'static str,
}

const REQUIREMENTS_FORM: UploadForm = UploadForm {
    endpoint: "/api/requirements/upload",
    what: "a requirements file",
    allowed_types: &[
        "text/plain",
        "application/octet-stream",
        "text/x-python-requirements",
    ],
    example: "requirements.txt",
};

const WHEEL_FORM: UploadForm = UploadForm {
    endpoint: "/api/wheels/upload",
    what: "a wheel",
    allowed_types: &[
        "application/octet-stream",
        "application/zip",
        "application/x-zip-compressed",
        "application/x-wheel+zip",
    ],
    example: "six-1.16.0-py3-none-any.whl",
};

impl UploadForm {
    /// The body as multipart, or why not: 415 `unsupported_media_type` naming what the
    /// endpoint takes when the request is not `multipart/form-data` at all (a JSON body, a
    /// raw file), 400 when it is but its boundary is missing or not valid.
    fn body(
        &self,
        headers: &HeaderMap,
        multipart: Result<Multipart, MultipartRejection>,
    ) -> ApiResult<Multipart> {
        let rejection = match multipart {
            Ok(multipart) => return Ok(multipart),
            Err(rejection) => rejection,
        };
        let sent = headers
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .filter(|v| !v.is_empty());
        let takes = format!(
            "{} takes multipart/form-data with {} in a field named `file` (that part's \
             content type one of: {}), e.g. `curl -F file=@{}`",
            self.endpoint,
            self.what,
            self.allowed_types.join(", "),
            self.example
        );
        match sent.as_deref() {
            Some("multipart/form-data") => Err(ApiError::bad_request(format!(
                "the multipart/form-data body cannot be read ({}); {takes}",
                rejection.body_text()
            ))),
            sent => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!(
                    "the request's content type is {}; {takes}",
                    sent.map_or_else(
                        || "not given".to_string(),
                        |ct| ct.chars().take(100).collect()
                    )
                ),
            )),
        }
    }
}

/// The multipart field `file`, spooled: its file name and content.
async fn read_upload(
    state: &AppState,
    mut multipart: Multipart,
    allowed_types: &[&str],
    max: usize,
    what: &str,
) -> ApiResult<(Option<String>, Spooled)> {
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("file") {
            continue;
        }
        if let Some(ct) = field.content_type() {
            let ct = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if !allowed_types.contains(&ct.as_str()) {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    format!(
                        "the file's content type is {ct}; expected one of: {}",
                        allowed_types.join(", ")
                    ),
                ));
            }
        }
        let filename = field.file_name().map(str::to_string);
        let spooled = spool(state, field, max, what, multipart_error).await?;
        return Ok((filename, spooled));
    }
    Err(ApiError::bad_request(
        "the upload needs a multipart/form-data field named `file`",
    ))
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    // A body cut off by the client is its fault, whatever status the parser gives it.
    let status = match e.status() {
        s if s.is_server_error() => StatusCode::BAD_REQUEST,
        s => s,
    };
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "payload_too_large"
    } else {
        "bad_request"
    };
    ApiError::new(
        status,
        code,
        format!("the upload cannot be read: {}", e.body_text()),
    )
}

fn body_error(e: axum::Error) -> ApiError {
    let text = e.to_string();
    if text.contains("length limit") {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the upload is too large: {text}"),
        )
    } else {
        ApiError::bad_request(format!("the upload was cut off: {text}"))
    }
}

/// A fresh folder for an input: `inputs/v1/<sha prefix>-<ms>`.
fn input_dir(state: &AppState, sha: &str) -> ApiResult<(PathBuf, String)> {
    let rel = format!("inputs/v1/{}-{}", &sha[..16], now_ms());
    let dir = state.config.cache.join(&rel);
    fs_err::create_dir_all(&dir).map_err(|e| storage_error("the input cannot be stored", &e))?;
    Ok((dir, rel))
}

/// Moves the spooled file to `<input folder>/<name>` (one rename on the cache's disk).
fn keep_input(state: &AppState, spooled: Spooled, name: &str) -> ApiResult<(PathBuf, String)> {
    let (dir, rel) = input_dir(state, &spooled.sha256)?;
    let path = dir.join(name);
    if let Err(e) = spooled.file.persist(&path) {
        let _ = fs_err::remove_dir(&dir);
        return Err(storage_error("the input cannot be stored", &e.error));
    }
    Ok((path, rel))
}

/// With `AUTO_PLAN` on, 503 `planner_busy` before anything is stored when the planner's
/// queue is full (the client sends the upload again later).
async fn check_planner_room(state: &Arc<AppState>) -> ApiResult<()> {
    let s = state.clone();
    let auto_plan = blocking(move || Ok(s.store.settings()?.auto_plan)).await?;
    if auto_plan {
        state.plan_queue.check_room(state.config.max_queued_plans)?;
    }
    Ok(())
}

/// Queues the input for the planner if `AUTO_PLAN` is on. Whether it was queued; when the
/// queue filled up since [`check_planner_room`], the input stays `pending` (plan it with
/// `POST /api/pending-inputs/{id}/enqueue-plan`) and the server's log says so.
fn maybe_auto_plan(state: &Arc<AppState>, id: i64) -> ApiResult<bool> {
    if !state.store.settings()?.auto_plan {
        return Ok(false);
    }
    match state.plan_queue.submit(id) {
        Ok(_) => Ok(true),
        Err(e) => {
            tracing::warn!("input {id} stays pending: {e}");
            Ok(false)
        }
    }
}

/// The common start of people's uploads: room at the planner (with `AUTO_PLAN`), a slot,
/// and the multipart field `file` spooled. The slot is held until the permit drops.
async fn receive<'a>(
    state: &'a Arc<AppState>,
    multipart: Multipart,
    allowed_types: &[&str],
    max: usize,
    what: &str,
) -> ApiResult<(Option<String>, Spooled, tokio::sync::SemaphorePermit<'a>)> {
    check_planner_room(state).await?;
    let slot = upload_slot(state).await?;
    let (filename, spooled) = read_upload(state, multipart, allowed_types, max, what).await?;
    Ok((filename, spooled, slot))
}

/// `POST /api/requirements/upload`.
pub async fn upload_requirements(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let form = REQUIREMENTS_FORM;
    let multipart = form.body(&headers, multipart)?;
    let (filename, spooled, _slot) = receive(
        &state,
        multipart,
        form.allowed_types,
        state.config.max_requirements_bytes,
        form.what,
    )
    .await?;
    let s = state.clone();
    blocking(move || {
        let bytes = fs_err::read(spooled.file.path())
            .map_err(|e| storage_error("the upload cannot be read back", &e))?;
        // Decoded as the planner will decode the stored file: as pip does (BOMs, UTF-16).
        let text = refinery_pep::decode_text(&bytes).map_err(|e| {
            ApiError::bad_request(format!("the requirements file is not text: {e}"))
        })?;
        // Errors name the file as it was uploaded (`badreq.txt:3: …`).
        let shown = filename
            .as_deref()
            .and_then(|f| f.rsplit(['/', '\\']).next())
            .filter(|f| !f.is_empty())
            .map(|f| {
                f.chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect::<String>()
            })
            .unwrap_or_else(|| "requirements.txt".into());
        planning::check_requirements(
            &shown,
            &text,
            s.config.allow_index_options,
            s.config.max_requirements,
        )?;
        let sha = spooled.sha256.clone();
        let size = spooled.size;
        let (_, rel) = keep_input(&s, spooled, "requirements.txt")?;
        let input = s.store.create_input(&NewInput {
            kind: "requirements".into(),
            filename: filename
                .map(|f| f.chars().filter(|c| !c.is_control()).take(200).collect())
                .unwrap_or_else(|| "requirements.txt".into()),
            path: format!("{rel}/requirements.txt"),
            size: size as i64,
            sha256: sha,
        })?;
        let planning = maybe_auto_plan(&s, input.id)?;
        Ok((
            StatusCode::CREATED,
            Json(InputUploaded {
                input,
                decision: None,
                reason: None,
                auto_plan: planning,
            }),
        )
            .into_response())
    })
    .await
}

/// The scan's decision in the contract's words.
fn scan_decision(decision: refinery_plan::Decision) -> ScanDecision {
    match decision {
        refinery_plan::Decision::Reuse => ScanDecision::Reuse,
        refinery_plan::Decision::Rebuild => ScanDecision::Rebuild,
        refinery_plan::Decision::Invalid => ScanDecision::Invalid,
    }
}

/// `POST /api/wheels/upload`.
pub async fn upload_wheel(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let form = WHEEL_FORM;
    let multipart = form.body(&headers, multipart)?;
    let (filename, spooled, _slot) = receive(
        &state,
        multipart,
        form.allowed_types,
        state.config.max_wheel_bytes,
        form.what,
    )
    .await?;
    let name =
        filename.ok_or_else(|| ApiError::bad_request("the wheel upload needs its file name"))?;
    parse_wheel_name(&name)?;
    let s = state.clone();
    blocking(move || {
        let target = s.config.target()?;
        let sha = spooled.sha256.clone();
        let size = spooled.size;
        let (path, rel) = keep_input(&s, spooled, &name)?;
        let scanned = refinery_plan::scan_file(&path, &target);
        if scanned.decision == refinery_plan::Decision::Invalid {
            if let Some(dir) = path.parent() {
                let _ = fs_err::remove_dir_all(dir);
            }
            return Err(ApiError::bad_request(format!(
                "{name} is not a usable wheel: {}",
                scanned.reason
            )));
        }
        let input = s.store.create_input(&NewInput {
            kind: "wheel".into(),
            filename: name.clone(),
            path: format!("{rel}/{name}"),
            size: size as i64,
            sha256: sha,
        })?;
        let planning = maybe_auto_plan(&s, input.id)?;
        Ok((
            StatusCode::CREATED,
            Json(InputUploaded {
                input,
                decision: Some(scan_decision(scanned.decision)),
                reason: Some(scanned.reason),
                auto_plan: planning,
            }),
        )
            .into_response())
    })
    .await
}

/// `PUT /api/jobs/{id}/wheel?attempt=&filename=&origin=`: a worker publishes its job's
/// wheel (the raw body).
pub async fn job_wheel(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<refinery_contract::WheelQuery>,
    body: Body,
) -> ApiResult<Response> {
    let id = parse_id(&id, "job")?;
    let wheel = parse_wheel_name(&q.filename)?;
    let origin = q.origin.unwrap_or_else(|| "built".into());
    if !matches!(origin.as_str(), "built" | "cached" | "reused") {
        return Err(ApiError::bad_request("origin is built, cached or reused"));
    }
    // Refuse another package's wheel, or a lost lease, before reading the body.
    let s = state.clone();
    let attempt = q.attempt;
    let job = blocking(move || {
        let job = refinery_worker::worker::leased_job(&*s.store, id, attempt)?;
        refinery_worker::publish::check_job_wheel(&job, &wheel)?;
        Ok(job)
    })
    .await?;
    let _slot = upload_slot(&state).await?;
    let spooled = spool(
        &state,
        body.into_data_stream(),
        state.config.max_wheel_bytes,
        "a wheel",
        body_error,
    )
    .await?;
    let filename = q.filename;
    let s = state.clone();
    blocking(move || {
        let file = refinery_worker::publish::publish_job_wheel(
            &*s.store,
            &s.cas,
            &job,
            spooled.file.path(),
            &filename,
            &origin,
        )?;
        s.index.invalidate();
        crate::simple::refresh(&s);
        Ok(Json(refinery_contract::PublishedReply { published: file }).into_response())
    })
    .await
}

/// A plain wheel file name (no folders, no dots in front), parsed.
pub fn parse_wheel_name(name: &str) -> ApiResult<refinery_pep::WheelFilename> {
    if name.contains('/') || name.contains('\\') || name.contains("..") || name.starts_with('.') {
        return Err(ApiError::bad_request(format!(
            "`{name}` is not a plain file name"
        )));
    }
    name.parse::<refinery_pep::WheelFilename>()
        .map_err(|e| ApiError::bad_request(format!("`{name}` is not a wheel file name: {e}")))
}
