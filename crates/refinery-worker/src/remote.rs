//! A worker's view of a remote control plane (`refinery worker --server URL`): the worker
//! protocol of [`crate::api`] over HTTP, with the worker token.

use std::path::Path;
use std::time::Duration;

use refinery_build::packs::MirrorError;
use refinery_contract::{
    AttemptRequest, ClaimReply, ClaimRequest, CompleteRequest, ErrorBody, HistoryRequest, JobReply,
    LogRequest, PublishedReply, WORKER_TOKEN_HEADER,
};
use refinery_store::queue::{HeartbeatReply, Job, Outcome, PublishedFile, QueueError};
use refinery_store::{Attempt, Event};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::worker::{JobSource, SourceError};

/// The control plane at `base` (e.g. `http://10.0.0.5:8080`).
pub struct RemoteSource {
    base: String,
    token: Option<String>,
    client: reqwest::blocking::Client,
    lease_secs: u64,
    /// The last plan read: a plan's id is the sha256 of its content, and a queue's jobs
    /// mostly come from one plan, so each job does not fetch it again.
    last_plan: std::sync::Mutex<Option<(String, refinery_plan::Plan)>>,
}

/// Why the control plane could not be asked; the location is shown without credentials.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot make an HTTP client: {source}")]
    Client {
        #[source]
        source: reqwest::Error,
    },
    #[error("{location}: {source}")]
    Request {
        location: String,
        #[source]
        source: reqwest::Error,
    },
    /// The control plane answered `status` with the error `message` of its JSON body.
    #[error("{status}: {message}")]
    Status {
        status: reqwest::StatusCode,
        message: String,
    },
}

impl RemoteSource {
    pub fn new(
        base: &str,
        token: Option<String>,
        lease: Duration,
    ) -> Result<RemoteSource, RemoteError> {
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|source| RemoteError::Client { source })?;
        Ok(RemoteSource {
            base: base.trim_end_matches('/').to_string(),
            token,
            client,
            lease_secs: lease.as_secs().max(5),
            last_plan: std::sync::Mutex::new(None),
        })
    }

    /// `GET /api/plans/{id}`, read as a plan; `None` when it cannot be had.
    fn fetch_plan(&self, id: &str) -> Option<refinery_plan::Plan> {
        let path = format!(
            "/api/plans/{}",
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        );
        let body = self
            .send(self.request(reqwest::Method::GET, &path), None)
            .ok()??;
        let reply = reply::<refinery_contract::plans::PlanReply>(body).ok()?;
        crate::worker::plan_of(&reply.plan)
    }

    fn unavailable(&self, e: impl std::fmt::Display) -> QueueError {
        QueueError::Unavailable {
            location: refinery_index::redact_url(&self.base),
            message: e.to_string(),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::blocking::RequestBuilder {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header(WORKER_TOKEN_HEADER, token);
        }
        request
    }

    /// Sends the request; maps the JSON error bodies back to [`QueueError`]s. A 429 or
    /// 503 with `Retry-After` (the server's token throttle, a busy moment) is waited out
    /// and sent again, a few times, so a finished job is not lost to it.
    fn send(
        &self,
        request: reqwest::blocking::RequestBuilder,
        job: Option<&Job>,
    ) -> Result<Option<Value>, QueueError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let attempt = request.try_clone().ok_or_else(|| {
                QueueError::Invalid("a request with a streamed body cannot be sent again".into())
            })?;
            let response = attempt.send().map_err(|e| self.unavailable(e))?;
            if let Some(wait) = retry_after(&response).filter(|_| tries < 6) {
                std::thread::sleep(wait);
                continue;
            }
            return self.answer(response, job);
        }
    }

    /// The JSON body of a success, or the error it carries as a [`QueueError`].
    fn answer(
        &self,
        response: reqwest::blocking::Response,
        job: Option<&Job>,
    ) -> Result<Option<Value>, QueueError> {
        let status = response.status();
        if status == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let body: Value = response.json().unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(Some(body));
        }
        let error = serde_json::from_value::<ErrorBody>(body)
            .map(|b| b.error)
            .unwrap_or_else(|_| ErrorBody::new("", "no message").error);
        let (code, message) = (error.code.as_str(), error.message);
        Err(match (code, job) {
            ("lease_lost", Some(job)) => QueueError::LeaseLost {
                job: job.id,
                attempt: job.attempt,
            },
            (refinery_contract::worker::NAME_TAKEN, _) => QueueError::NameTaken(message),
            ("not_found", _) => QueueError::NotFound {
                what: "job",
                id: job.map(|j| j.id.to_string()).unwrap_or_default(),
            },
            _ if status.is_server_error() => self.unavailable(format!("{status}: {message}")),
            _ => QueueError::Invalid(format!("{status}: {message}")),
        })
    }
}

/// A success body read as the contract's reply type `T`.
fn reply<T: DeserializeOwned>(body: Value) -> Result<T, QueueError> {
    serde_json::from_value(body).map_err(|e| {
        QueueError::Invalid(format!(
            "the server's answer does not match this worker's API version: {e}"
        ))
    })
}

/// How long to wait before sending again: a 429 or 503 answer's `Retry-After` seconds
/// (1 to 30), else `None`.
fn retry_after(response: &reqwest::blocking::Response) -> Option<Duration> {
    let waitable = matches!(
        response.status(),
        reqwest::StatusCode::TOO_MANY_REQUESTS | reqwest::StatusCode::SERVICE_UNAVAILABLE
    );
    let secs = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .parse::<u64>()
        .ok()?;
    waitable.then(|| Duration::from_secs(secs.clamp(1, 30)))
}

impl JobSource for RemoteSource {
    fn describe(&self) -> String {
        format!("control plane {}", refinery_index::redact_url(&self.base))
    }

    fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Job>, QueueError> {
        let body = self.send(
            self.request(reqwest::Method::POST, "/api/worker/claim")
                .json(&ClaimRequest {
                    worker: worker.to_string(),
                    host: crate::worker::hostname(),
                    lease_secs: Some(lease.as_secs().max(5)),
                }),
            None,
        )?;
        match body {
            None => Ok(None),
            Some(v) => reply::<ClaimReply>(v).map(|r| Some(r.job)),
        }
    }

    fn start(&self, job: &Job) -> Result<(), QueueError> {
        self.send(
            self.request(
                reqwest::Method::POST,
                &format!("/api/jobs/{}/start", job.id),
            )
            .json(&AttemptRequest {
                attempt: job.attempt,
                lease_secs: None,
            }),
            Some(job),
        )
        .map(|_| ())
    }

    fn heartbeat(&self, job: &Job, lease: Duration) -> Result<HeartbeatReply, QueueError> {
        let body = self
            .send(
                self.request(
                    reqwest::Method::POST,
                    &format!("/api/jobs/{}/heartbeat", job.id),
                )
                .json(&AttemptRequest {
                    attempt: job.attempt,
                    lease_secs: Some(lease.as_secs().max(5)),
                }),
                Some(job),
            )?
            .unwrap_or(Value::Null);
        let reply = reply::<refinery_contract::HeartbeatReply>(body)?;
        Ok(HeartbeatReply {
            cancel: reply.cancel,
            lease_expires_ms: reply.lease_expires_ms,
        })
    }

    fn append_log(&self, job: &Job, data: &str) -> Result<(), QueueError> {
        self.send(
            self.request(reqwest::Method::POST, &format!("/api/jobs/{}/logs", job.id))
                .json(&LogRequest {
                    attempt: job.attempt,
                    data: data.to_string(),
                }),
            Some(job),
        )
        .map(|_| ())
    }

    fn complete(&self, job: &Job, outcome: &Outcome) -> Result<Job, QueueError> {
        let body = self
            .send(
                self.request(
                    reqwest::Method::POST,
                    &format!("/api/jobs/{}/complete", job.id),
                )
                .json(&CompleteRequest {
                    attempt: job.attempt,
                    status: outcome.status,
                    detail: outcome.detail.clone(),
                    result: outcome.result.clone(),
                }),
                Some(job),
            )?
            .unwrap_or(Value::Null);
        reply::<JobReply>(body).map(|r| r.job)
    }

    fn publish(&self, job: &Job, wheel: &Path, origin: &str) -> Result<PublishedFile, SourceError> {
        let filename = wheel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // The server takes a few uploads at once and answers 503 `uploads_busy` with
        // Retry-After beyond: wait and send again, a few times.
        let mut tries = 0;
        loop {
            tries += 1;
            // Streamed from the file, never read whole into memory.
            let file = fs_err::File::open(wheel)?;
            let len = file.metadata()?.len();
            let request = self
                .request(reqwest::Method::PUT, &format!("/api/jobs/{}/wheel", job.id))
                .query(&[
                    ("attempt", job.attempt.to_string()),
                    ("filename", filename.clone()),
                    ("origin", origin.to_string()),
                ])
                .header("content-type", "application/octet-stream")
                .body(reqwest::blocking::Body::sized(file.into_parts().0, len));
            let response = request.send().map_err(|e| self.unavailable(e))?;
            let busy = response.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE
                && response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .is_some();
            if busy && tries < 6 {
                let wait = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(5)
                    .clamp(1, 30);
                std::thread::sleep(Duration::from_secs(wait));
                continue;
            }
            let body = self.answer(response, Some(job))?.unwrap_or(Value::Null);
            return Ok(reply::<PublishedReply>(body).map(|r| r.published)?);
        }
    }

    fn record_history(
        &self,
        job: &Job,
        events: &[Event],
        attempts: &[Attempt],
    ) -> Result<(), SourceError> {
        self.send(
            self.request(
                reqwest::Method::POST,
                &format!("/api/jobs/{}/history", job.id),
            )
            .json(&HistoryRequest {
                attempt: job.attempt,
                events: events.to_vec(),
                attempts: attempts.to_vec(),
            }),
            Some(job),
        )
        .map(|_| ())
        .map_err(SourceError::from)
    }

    fn reap(
        &self,
        _max_restarts: i64,
    ) -> Result<Vec<refinery_store::queue::ReapedJob>, QueueError> {
        Ok(Vec::new())
    }

    fn shares_history(&self) -> bool {
        false
    }

    fn plan(&self, id: &str) -> Option<refinery_plan::Plan> {
        let mut last = self
            .last_plan
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((last_id, plan)) = last.as_ref() {
            if last_id == id {
                return Some(plan.clone());
            }
        }
        let plan = self.fetch_plan(id)?;
        *last = Some((id.to_string(), plan.clone()));
        Some(plan)
    }

    fn pack_mirror(&self) -> Option<std::sync::Arc<dyn refinery_build::packs::PackMirror>> {
        RemotePacks::new(&self.base, self.token.clone())
            .ok()
            .map(|m| std::sync::Arc::new(m) as _)
    }
}

/// The control plane's native library packs (`GET /api/packs/{key}`), asked by the
/// builds of a remote worker before they make a pack themselves.
pub struct RemotePacks {
    base: String,
    token: Option<String>,
    client: reqwest::blocking::Client,
}

impl RemotePacks {
    /// The packs of the control plane at `base`, asked with the worker token `token`.
    ///
    /// # Errors
    /// [`RemoteError::Client`] when no HTTP client can be made.
    pub fn new(base: &str, token: Option<String>) -> Result<RemotePacks, RemoteError> {
        // A pack (OpenBLAS: tens of MB) may take longer than a protocol call.
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(1800))
            .build()
            .map_err(|source| RemoteError::Client { source })?;
        Ok(RemotePacks {
            base: base.trim_end_matches('/').to_string(),
            token,
            client,
        })
    }
}

impl refinery_build::packs::PackMirror for RemotePacks {
    /// Streams the archive into `<dir>/<key>.tar.gz`; 404 is `Ok(None)`, any other
    /// failure a [`MirrorError`] naming the URL (without credentials; reqwest's own copy
    /// of the URL is dropped from its errors).
    fn fetch(
        &self,
        key: &str,
        dir: &Path,
    ) -> Result<Option<refinery_build::packs::MirroredPack>, MirrorError> {
        let url = format!("{}/api/packs/{key}", self.base);
        let shown = refinery_index::redact_url(&url);
        let mut request = self.client.get(&url);
        if let Some(token) = &self.token {
            request = request.header(WORKER_TOKEN_HEADER, token);
        }
        let mut response = request.send().map_err(|e| MirrorError::Request {
            url: shown.clone(),
            source: Box::new(e.without_url()),
        })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(MirrorError::Status {
                url: shown,
                status: status.as_u16(),
            });
        }
        let sha256 = response
            .headers()
            .get(refinery_contract::PACK_SHA256_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| MirrorError::NoChecksum {
                url: shown.clone(),
                header: refinery_contract::PACK_SHA256_HEADER,
            })?;
        let archive = dir.join(format!("{key}.tar.gz"));
        let mut file =
            fs_err::File::create(&archive).map_err(|source| MirrorError::Save { source })?;
        response
            .copy_to(&mut file)
            .map_err(|e| MirrorError::Transfer {
                url: shown.clone(),
                source: Box::new(e.without_url()),
            })?;
        Ok(Some(refinery_build::packs::MirroredPack {
            archive,
            sha256,
            url: shown,
        }))
    }
}

impl RemoteSource {
    /// The lease this source asks for.
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }
}

/// `GET /api/queue/stats` (and `/api/queue` with `list`) of a running control plane.
///
/// # Errors
/// [`RemoteError`]: no HTTP client, the control plane unreachable, or its error status and message.
pub fn remote_queue(base: &str, token: Option<&str>, list: bool) -> Result<Value, RemoteError> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|source| RemoteError::Client { source })?;
    let get = |path: &str| -> Result<Value, RemoteError> {
        let mut request = client.get(format!("{}{path}", base.trim_end_matches('/')));
        if let Some(token) = token {
            request = request.header("X-Worker-Token", token);
        }
        let response = request.send().map_err(|source| RemoteError::Request {
            location: refinery_index::redact_url(base),
            source,
        })?;
        let status = response.status();
        let body: Value = response.json().unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(RemoteError::Status {
                status,
                message: body["error"]["message"]
                    .as_str()
                    .unwrap_or("request failed")
                    .to_string(),
            });
        }
        Ok(body)
    };
    let mut stats = get("/api/queue/stats")?;
    if list {
        stats["jobs"] = get("/api/queue?limit=1000")?["jobs"].clone();
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use refinery_build::packs::PackMirror;

    use super::*;

    #[test]
    fn an_unreachable_mirror_is_an_error_naming_the_url_without_credentials() {
        // Nothing listens on a port that was just free.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let packs =
            RemotePacks::new(&format!("http://user:pa55word@127.0.0.1:{port}/"), None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let err = packs
            .fetch("tiny-1.0-glibc2.17-abc", dir.path())
            .unwrap_err();
        assert!(
            matches!(&err, MirrorError::Request { url, .. } if url.ends_with(&format!("127.0.0.1:{port}/api/packs/tiny-1.0-glibc2.17-abc"))),
            "{err:?}"
        );
        let chain = {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(e) = source {
                text.push_str(" / ");
                text.push_str(&e.to_string());
                source = e.source();
            }
            text
        };
        assert!(!chain.contains("pa55word"), "{chain}");
        assert!(
            dir.path().read_dir().unwrap().next().is_none(),
            "nothing saved"
        );
    }
}
