// Shapes of the control plane's JSON API (crates/refinery-server/src/api/).
//
// The types of crates/refinery-contract come generated from the server's OpenAPI document
// (api-types.ts, `scripts/ui.sh types`); the answers still built from store records are
// described by hand below until their types move into the contract.

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

export type JobStatus =
  | 'pending'
  | 'leased'
  | 'building'
  | 'retry'
  | 'built'
  | 'failed'
  | 'cached'
  | 'reused'
  | 'missing'
  | 'skipped_known_failure'
  | 'system_recipe_failed'
  | 'cancelled'
  | 'broken';

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
export type StatusClass = 'waiting' | 'running' | 'built' | 'reused' | 'failed' | 'skipped' | 'cancelled';

// A type, not an interface: it is sent as `EnqueueRequest.recipe`, a JSON object.
export type Recipe = {
  steps?: string[];
  variant?: string | null;
  system_packages?: string[];
  env?: Record<string, string>;
};

export interface Job {
  id: number;
  package: string;
  version: string;
  python: string;
  platform_tag: string;
  recipe: Recipe;
  status: JobStatus;
  priority: number;
  attempt: number;
  restarts: number;
  lease_owner: string | null;
  lease_expires_ms: number | null;
  heartbeat_ms: number | null;
  cancel_requested: boolean;
  plan_id: string | null;
  input_id: number | null;
  detail: string;
  result: unknown;
  log_bytes: number;
  created_ms: number;
  updated_ms: number;
  started_ms: number | null;
  finished_ms: number | null;
}

export interface QueueStats {
  /** Jobs per glossary class, every class present. */
  by_class: Record<StatusClass, number>;
  depth: number;
  active: number;
  by_status: Record<string, number>;
  restarts: number;
  total: number;
  workers: WorkerInfo[];
  draining: boolean;
}

/**
 * Decided by the server (crates/refinery-server/src/liveness.rs): `offline` when not seen
 * within the liveness window (60 s), `building` when seen and holding an active lease
 * (`job`), `idle` otherwise.
 */
export type WorkerState = 'building' | 'idle' | 'offline';

export interface WorkerInfo {
  id: string;
  host: string;
  last_seen_ms: number;
  /** The last job the worker reported; may be long finished: use `state` and `job`. */
  current_job: number | null;
  state: WorkerState;
  /** The job it is building now (only when `state` is `building`). */
  job: number | null;
}

export interface EventRow {
  id: number;
  timestamp: string;
  kind: string;
  package: string | null;
  version: string | null;
  run_id: string | null;
  detail: string;
  data: unknown;
}

/** How a build attempt ended (the history's `attempts.status`, Rust `AttemptStatus`). */
export type AttemptStatus = 'success' | 'failed' | 'timeout' | 'cancelled';

export interface AttemptRow {
  id: number;
  timestamp: string;
  package: string;
  version: string;
  python_tag: string;
  platform: string;
  variant: string;
  attempt: number;
  status: AttemptStatus;
  duration_secs: number;
  log_path: string | null;
  hints: string[];
  worker: string | null;
  run_id: string | null;
  detail: string;
}

export interface VariantStats {
  variant: string;
  successes: number;
  failures: number;
}

export interface PackageDetail {
  name: string;
  attempts: AttemptRow[];
  variants: VariantStats[];
  events: EventRow[];
  failures: AttemptRow[];
  hints: string[];
  average_duration_secs: number | null;
  jobs: Job[];
}

/** A row of `GET /api/packages` (crates/refinery-server/src/package_status.rs). */
export interface PackageSummary {
  package: string;
  version: string;
  /** A job status word: from its queue jobs, else its attempts, else reuse/missing events. */
  status: JobStatus;
  job: number | null;
  attempts: number;
  successes: number;
  failures: number;
  last_timestamp: string;
  /** What verification did for this version: the level and how it ended; null when unknown. */
  verification?: VerificationBadge | null;
}

/** Verification in two words (crates/refinery-server/src/package_status.rs). */
export interface VerificationBadge {
  /** import, smoke or tests */
  level: string;
  /** passed, or the first failing check's outcome (failed, timed_out, crashed) */
  outcome: string;
  /** the first failing check, e.g. smoke:orjson */
  failed_check?: string;
}

export interface FailureSummary {
  package: string;
  failures: number;
  last_version: string;
  last_detail: string;
  last_hints: string[];
}

export interface SlowSummary {
  package: string;
  average_secs: number;
  max_secs: number;
  successes: number;
  failures: number;
}

export interface CatalogHint {
  id: string;
  pattern: string;
  message: string;
  apt?: string[];
  dnf?: string[];
  env?: Record<string, string>;
  build_constraints?: string[];
  toolchain?: string;
  pack?: string;
  variant?: string;
  no_retry?: boolean;
}

export interface UserHint {
  id: number;
  pattern: string;
  packages: string[];
  note: string;
  created_ms: number;
}

export interface HintsResponse {
  catalog: { origin: string; hints: CatalogHint[] };
  user: UserHint[];
}

export type InputStatus = 'pending' | 'planning' | 'planned' | 'build_queued' | 'failed';

export interface PendingInput {
  id: number;
  kind: string;
  filename: string;
  path: string;
  size: number;
  sha256: string;
  status: InputStatus;
  plan_id: string | null;
  error: string;
  created_ms: number;
  updated_ms: number;
}

export type PlanAction = 'reuse' | 'build' | 'missing';

export interface PlanNode {
  id: string;
  name: string;
  version: string;
  action: PlanAction;
  reason: string;
  source?: { kind: string; filename: string; url?: string; path?: string; sha256?: string };
  steps?: string[];
  build_requires?: string[];
  direct: boolean;
  overrides?: unknown;
}

export interface PlanEdge {
  from: string;
  to: string;
  kind: 'runtime' | 'build';
}

export interface PlanBody {
  schema: number;
  id: string;
  python: string;
  platform_tag: string;
  strategy: string;
  nodes: PlanNode[];
  edges: PlanEdge[];
  rejected: { input: string; reason: string }[];
  skipped: { name: string; version?: string; reason: string }[];
  notes: string[];
}

export interface StoredPlan {
  id: string;
  input_id: number | null;
  python: string;
  platform_tag: string;
  summary: Record<string, number>;
  body: PlanBody | null;
  created_ms: number;
}

