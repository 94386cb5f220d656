//! The answers of `/api/session/token`: what the browser's `worker_token` cookie gives.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a presented token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// No token was presented.
    None,
    /// The read token (`READ_TOKEN`): reads only.
    Read,
    /// The worker token, or any token when the server has no `WORKER_TOKEN`.
    Write,
    /// A token that is neither.
    Invalid,
}

/// `GET /api/session/token`, always `200`: which tokens the server has and what the
/// cookie (or header) gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionState {
    /// The server has a `WORKER_TOKEN` (writes need it).
    pub worker_token: bool,
    /// The server has a `READ_TOKEN` (reads need a token).
    pub read_token: bool,
    pub access: Access,
}

/// The answer of `POST /api/session/token`: the cookie is set, and what it gives
/// (`read` or `write`; a wrong token is a `401`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionSet {
    pub ok: bool,
    pub access: Access,
}
