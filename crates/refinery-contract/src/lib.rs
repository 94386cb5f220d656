//! The HTTP contract of the control plane (`refinery serve`): the JSON bodies its
//! endpoints take and give, shared by the server (`refinery-server`), the remote worker
//! (`refinery-worker`) and, through the OpenAPI 3.1 document derived from these types
//! ([`utoipa::ToSchema`]), the web dashboard's TypeScript types (`ui/src/lib/api-types.ts`).
//!
//! The JSON of every type is the wire format: field names and optionality are the API.
//! Domain records the store owns (jobs, events, attempts, inputs, plans, published files)
//! travel as the store's own types ([`refinery_store`], whose `schema` feature derives
//! their schemas), so the OpenAPI document describes them field by field.
//!
//! * [`worker`]: the worker protocol (claim, start, heartbeat, log, complete, history,
//!   wheel upload, drain trigger), every call fenced by the job's attempt.
//! * [`requests`]: the bodies of the dashboard's writes (enqueue, retry/clear, hints,
//!   plan nodes, settings, the session token).
//! * [`replies`]: small answers shared by several endpoints (errors, health, `ok`).
//! * [`history`]: events, status counts, the status glossary, packages, top lists.
//! * [`queue`]: the queue's jobs and counts, workers, enqueue/retry/clear.
//! * [`hints`]: the hint catalog and the hints added through the API.
//! * [`plans`]: pending inputs and plans.
//! * [`logs`]: log chunks and the `end` event of a live log.
//! * [`session`]: what the browser's token cookie gives.

pub mod hints;
pub mod history;
pub mod logs;
pub mod plans;
pub mod queue;
pub mod replies;
pub mod requests;
pub mod session;
pub mod worker;

pub use hints::{CatalogHint, HintCatalog, HintReply, HintValidation, HintsReply};
pub use history::{
    EventsPage, PackageDetail, PackageRow, PackagesReply, StatusCounts, StatusGlossary,
    TopFailures, TopSlowest, VerificationBadge,
};
pub use logs::{JobGone, LogChunks, LogEnd, LogEndStatus};
pub use plans::{
    InputPlanReply, InputReply, InputUploaded, InputsReply, PlanEnqueued, PlanReply, PlannedIn,
    PlansReply, ScanDecision,
};
pub use queue::{
    Cleared, DrainTrigger, EnqueueReply, QueueList, QueueStatsReply, Retried, WorkerState,
    WorkerView, WorkersReply,
};
pub use replies::{Done, ErrorBody, ErrorDetail, Health};
pub use requests::{
    EnqueueRequest, HintRequest, IdsRequest, NodeRequest, Settings, SettingsPatch, TokenRequest,
};
pub use session::{Access, SessionSet, SessionState};
pub use worker::{
    AttemptRequest, ClaimReply, ClaimRequest, CompleteRequest, DrainTriggered, HeartbeatReply,
    HistoryRecorded, HistoryRequest, JobReply, LogAppended, LogRequest, PublishedReply, WheelQuery,
};

/// The header that carries the worker token (also accepted: `Authorization: Bearer`,
/// `?token=`, the `worker_token` cookie).
pub const WORKER_TOKEN_HEADER: &str = "X-Worker-Token";

/// The header of `GET /api/packs/{key}` that carries the sha256 (hex) of the pack archive
/// in its body; the worker refuses an archive with another one.
pub const PACK_SHA256_HEADER: &str = "X-Refinery-Pack-Sha256";
