// Shapes of the control plane's JSON API (crates/refinery-server/src/api/).
//
// The answers and records come generated from the server's OpenAPI document (api-types.ts,
// `scripts/ui.sh types`), itself derived from crates/refinery-contract and the store's
// records, the plan's DAG included (`StoredPlan.body`, mirrored by the store's
// `queue::plan_body`).

import type { components } from './api-types';

type Schemas = components['schemas'];

/** `GET /api/settings`, the answer of `PUT /api/settings`. */
export type Settings = Schemas['Settings'];
/** The body of `PUT /api/settings`: the settings to change. */
export type SettingsPatch = Schemas['SettingsPatch'];
/** `GET /api/health`. */
export type Health = Schemas['Health'];
/** The body of `POST /api/hints` and `PUT /api/hints/{id}`. */
export type HintRequest = Schemas['HintRequest'];
/** The body of `POST /api/queue/retry` and `POST /api/queue/clear`. */
export type IdsRequest = Schemas['IdsRequest'];
/** The body of `POST /api/plans/{id}/enqueue-build`. */
export type NodeRequest = Schemas['NodeRequest'];
/** The body of `POST /api/queue/enqueue`. */
export type EnqueueRequest = Schemas['EnqueueRequest'];
/** Every error answer: `{error: {code, message}}`. */
export type ErrorBody = Schemas['ErrorBody'];

/** A job's status (Rust `JobStatus`). */
export type JobStatus = Schemas['JobStatus'];

export const JOB_STATUSES: JobStatus[] = [
  'pending',
  'leased',
  'building',
  'retry',
  'built',
  'failed',
  'cached',
  'reused',
  'missing',
  'skipped_known_failure',
  'system_recipe_failed',
  'cancelled',
  'broken',
];

/** The glossary's classes (crates/refinery-store/src/glossary.rs). */
export type StatusClass = Schemas['StatusClass'];

/** What a job may change about the build; sent as `EnqueueRequest.recipe`. */
export type Recipe = Schemas['Recipe'];

/** A queue job (`GET /api/jobs/{id}`, the `jobs` of the listings). */
export type Job = Schemas['Job'];
/** `GET /api/jobs/{id}`, `POST /api/jobs/{id}/cancel`. */
export type JobReply = Schemas['JobReply'];

/** `GET /api/queue`. */
export type QueueList = Schemas['QueueList'];
/** The answer of `POST /api/queue/enqueue`. */
export type EnqueueReply = Schemas['EnqueueReply'];
/** The answer of `POST /api/queue/retry`. */
export type Retried = Schemas['Retried'];
/** The answer of `POST /api/queue/clear`. */
export type Cleared = Schemas['Cleared'];
/** The answer of `POST /api/worker/trigger`. */
export type DrainTriggered = Schemas['DrainTriggered'];
/** `GET /api/logs/{name}/{version}/chunks`, `GET /api/jobs/{id}/logs/chunks`. */
export type LogChunks = Schemas['LogChunks'];
/** The data of a live log's SSE `end` event: the job's final status (or `gone`) and detail. */
export type LogEnd = Schemas['LogEnd'];
/** `GET /api/queue/stats`. */
export type QueueStats = Schemas['QueueStatsReply'];

/**
 * Decided by the server (crates/refinery-server/src/liveness.rs): `offline` when not seen
 * within the liveness window (60 s), `building` when seen and holding an active lease
 * (`job`), `idle` otherwise.
 */
export type WorkerState = Schemas['WorkerState'];

/** A worker with its state (`GET /api/workers`, `QueueStats.workers`). */
export type WorkerInfo = Schemas['WorkerView'];

/** `GET /api/status-counts`. */
export type StatusCounts = Schemas['StatusCounts'];
/** `GET /api/events`. */
export type EventsPage = Schemas['EventsPage'];
export type EventRow = Schemas['EventRow'];

/** How a build attempt ended (the history's `attempts.status`, Rust `AttemptStatus`). */
export type AttemptStatus = Schemas['AttemptStatus'];
export type AttemptRow = Schemas['AttemptRow'];
export type VariantStats = Schemas['VariantStats'];

/** `GET /api/packages/{name}`. */
export type PackageDetail = Schemas['PackageDetail'];
/** `GET /api/packages`. */
export type PackagesReply = Schemas['PackagesReply'];
/** A row of `GET /api/packages` (crates/refinery-server/src/package_status.rs). */
export type PackageSummary = Schemas['PackageRow'];
/** Verification in two words (crates/refinery-server/src/package_status.rs). */
export type VerificationBadge = Schemas['VerificationBadge'];

/** `GET /api/top-failures`. */
export type TopFailures = Schemas['TopFailures'];
export type FailureSummary = Schemas['FailureSummary'];
/** `GET /api/top-slowest`. */
export type TopSlowest = Schemas['TopSlowest'];
export type SlowSummary = Schemas['SlowSummary'];

export type CatalogHint = Schemas['CatalogHint'];
export type UserHint = Schemas['UserHint'];
/** `GET /api/hints`. */
export type HintsResponse = Schemas['HintsReply'];
/** `GET /api/hints/validate`. */
export type HintValidation = Schemas['HintValidation'];

export type InputStatus = Schemas['InputStatus'];
export type PendingInput = Schemas['PendingInput'];
/** The answer of `POST /api/pending-inputs/{id}/enqueue-plan`. */
export type InputPlanReply = Schemas['InputPlanReply'];
/** The answer of `POST /api/plans/{id}/enqueue-build(s)`. */
export type PlanEnqueued = Schemas['PlanEnqueued'];
/** `GET /api/pending-inputs`. */
export type InputsReply = Schemas['InputsReply'];
/** The answer of `POST /api/requirements/upload` and `POST /api/wheels/upload`. */
export type InputUploaded = Schemas['InputUploaded'];
/** `GET /api/session/token`. */
export type SessionState = Schemas['SessionState'];

/** What happens to a plan node (Rust `Action`). */
export type PlanAction = Schemas['PlanAction'];
/** One package of a plan's DAG. */
export type PlanNode = Schemas['PlanNode'];
/** A dependency edge of a plan's DAG: `from` needs `to`. */
export type PlanEdge = Schemas['PlanEdge'];
/** A plan's DAG (`StoredPlan.body`; `null` in listings). */
export type PlanBody = Schemas['PlanBody'];
/** A plan's node counts (`StoredPlan.summary`). */
export type PlanSummary = Schemas['PlanSummary'];
/** A stored plan (`GET /api/plans`, `GET /api/plans/{id}`). */
export type StoredPlan = Schemas['StoredPlan'];
/** `GET /api/plans`. */
export type PlansReply = Schemas['PlansReply'];
/** `GET /api/plans/{id}`. */
export type PlanReply = Schemas['PlanReply'];
