import type { JobStatus, StatusClass } from './types';

export function fmtTime(ms: number | null | undefined): string {
  if (!ms) return '—';
  const d = new Date(ms);
  return d.toLocaleString(undefined, {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

export function fmtIso(ts: string | null | undefined): string {
  if (!ts) return '—';
  const ms = Date.parse(ts);
  return Number.isNaN(ms) ? ts : fmtTime(ms);
}

export function ago(ms: number | null | undefined, now = Date.now()): string {
  if (!ms) return 'never';
  const s = Math.round((now - ms) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} days ago`;
}

export function fmtDuration(secs: number | null | undefined): string {
  if (secs === null || secs === undefined || Number.isNaN(secs)) return '—';
  if (secs < 1) return `${Math.round(secs * 1000)} ms`;
  if (secs < 60) return `${secs.toFixed(secs < 10 ? 1 : 0)} s`;
  const m = Math.floor(secs / 60);
  const s = Math.round(secs % 60);
  if (m < 60) return `${m} min ${s} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function fmtBytes(n: number | null | undefined): string {
  if (!n) return '0 B';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** The two durations the pages show, named and explained the same way everywhere. */
export const WALL_TIME = {
  label: 'Wall time',
  help: 'The whole job, as its worker timed it: download, set-up, every build attempt, repair and verification.',
};
export const ATTEMPT_TIME = {
  label: 'Attempt time',
  help: 'One build attempt alone (build, repair, verification); a job’s wall time adds the download, set-up and any other attempts.',
};

/** A job's wall time ([`WALL_TIME`]): what the worker reported (`result.seconds`), else start to finish. */
export function jobDurationSecs(job: { started_ms: number | null; finished_ms: number | null; result?: unknown }): number | null {
  const reported = (job.result as { seconds?: unknown } | null | undefined)?.seconds;
  if (typeof reported === 'number' && Number.isFinite(reported)) return reported;
  if (!job.started_ms || !job.finished_ms) return null;
  return Math.max(0, (job.finished_ms - job.started_ms) / 1000);
}

/**
 * How a job's wheel was built, from the worker's result: the environment
 * (`rootfs:bookworm emulated+cross`, `podman:IMAGE`...), the variant, and what ran natively.
 */
export function builtWith(result: unknown): string | null {
  const meta = (result as { metadata?: { built_with?: unknown; variant?: unknown } } | null | undefined)?.metadata;
  if (typeof meta?.built_with !== 'string' || !meta.built_with) return null;
  const how = meta.built_with.endsWith('+cross')
    ? ' (compilers native, Python emulated)'
    : / emulated$/.test(meta.built_with)
      ? ' (fully emulated)'
      : '';
  const variant = typeof meta.variant === 'string' && meta.variant ? ` · variant ${meta.variant}` : '';
  return `${meta.built_with}${variant}${how}`;
}

/**
 * What verification found on s390x, from the worker's result (`metadata.verification`):
 * one line per check that ran, e.g. `smoke:orjson failed — exit status 1: AssertionError…`.
 */
export function verificationSummary(result: unknown): string[] {
  const v = (result as { metadata?: { verification?: unknown } } | null | undefined)?.metadata?.verification as
    | { checks?: { name?: unknown; outcome?: unknown; detail?: unknown }[] }
    | null
    | undefined;
  if (!v || !Array.isArray(v.checks)) return [];
  return v.checks
    .filter((c) => typeof c.name === 'string' && typeof c.outcome === 'string' && c.outcome !== 'skipped')
    .map((c) => (typeof c.detail === 'string' && c.detail ? `${c.name} ${c.outcome} — ${c.detail}` : `${c.name} ${c.outcome}`));
}

/** One verification check as a job result or a `verified` event carries it. */
export interface VerificationCheck {
  /** `install`, `import`, `smoke`, `smoke:<catalog id>`, `tests`, `tests:pytest`… */
  name: string;
  /** `passed`, `failed`, `timed_out`, `crashed`, `needs_network` or `skipped`. */
  outcome: string;
  detail?: string;
}

/** The checks of a job result or a manifest entry (`metadata.verification.checks`); null when it has none. */
export function verificationChecks(result: unknown): VerificationCheck[] | null {
  const v = (result as { metadata?: { verification?: unknown } } | null | undefined)?.metadata?.verification as
    | { checks?: unknown }
    | null
    | undefined;
  if (!v || !Array.isArray(v.checks)) return null;
  const checks = (v.checks as { name?: unknown; outcome?: unknown; detail?: unknown }[])
    .filter((c) => c && typeof c.name === 'string' && typeof c.outcome === 'string')
    .map((c) => ({ name: c.name as string, outcome: c.outcome as string, ...(typeof c.detail === 'string' && c.detail ? { detail: c.detail } : {}) }));
  return checks.length ? checks : null;
}

/** The verification levels, lowest first; a check's level is its name up to the `:`. */
const LEVELS = ['import', 'smoke', 'tests'];

/**
 * A package row's verification as the Packages page shows it: text, tone and tooltip.
 * `checks` (from the row's job result or `verified` event, when the page has them) say
 * which checks ran: a check that was `skipped` (nothing in the smoke-test catalog, no
 * sdist tests) or gave no verdict (`needs_network`) is named as such, never counted as
 * passed (`import · passed; smoke skipped`). Without them the badge only says that no
 * check failed.
 */
export function verificationBadge(
  v: { level: string; outcome: string; failed_check?: string } | null | undefined,
  checks?: readonly VerificationCheck[] | null,
): {
  text: string;
  tone: 'ok' | 'bad' | 'warn';
  title: string;
} | null {
  if (!v) return null;
  const passed = v.outcome === 'passed';
  const outcome = v.outcome.replace(/_/g, ' ');
  if (!passed) {
    return {
      text: `${v.level} · ${outcome}`,
      tone: 'bad',
      title: `verification at level ${v.level}: ${v.failed_check ?? 'a check'} ${outcome}`,
    };
  }
  if (!checks?.length) {
    return { text: `${v.level} · passed`, tone: 'ok', title: `verified on s390x at level ${v.level}: no check failed` };
  }
  const levelOf = (c: VerificationCheck) => c.name.split(':')[0];
  const notRun = checks.filter((c) => c.outcome !== 'passed');
  // The highest level at which a check passed (the level asked for when none says).
  const reached = [...LEVELS].reverse().find((l) => checks.some((c) => levelOf(c) === l && c.outcome === 'passed')) ?? v.level;
  const words = (c: VerificationCheck) => `${c.name} ${c.outcome.replace(/_/g, ' ')}`;
  if (!notRun.length) {
    return { text: `${reached} · passed`, tone: 'ok', title: `verified on s390x at level ${v.level}: every check passed (${checks.map((c) => c.name).join(', ')})` };
  }
  return {
    text: [`${reached} · passed`, ...notRun.map(words)].join('; '),
    tone: 'warn',
    title: [
      `verification at level ${v.level}: ${checks.filter((c) => c.outcome === 'passed').map((c) => c.name).join(', ') || 'no check'} passed`,
      ...notRun.map((c) => (c.detail ? `${words(c)} — ${c.detail}` : words(c))),
    ].join('; '),
  };
}

export function shortId(id: string, n = 12): string {
  return id.length > n ? id.slice(0, n) : id;
}

/** System packages named by a hint summary like `libffi: ... (dnf: a b | apt: c d)`. */
export function packagesFromHint(hint: string): { apt: string[]; dnf: string[] } {
  const m = /\(dnf:\s*([^|)]*)\|\s*apt:\s*([^)]*)\)/.exec(hint);
  if (!m) return { apt: [], dnf: [] };
  const split = (s: string) => s.trim().split(/\s+/).filter(Boolean);
  return { dnf: split(m[1]), apt: split(m[2]) };
}

/**
 * What a status means: for the job statuses, the status glossary of the server
 * (`GET /api/statuses`, crates/refinery-store/src/glossary.rs), word for word (the browser
 * tests compare them); then the words of inputs and plan nodes.
 */
export const STATUS_HELP: Record<string, string> = {
  pending: 'in the queue, waiting for a worker',
  leased: 'claimed by a worker, about to start',
  building: 'a worker is building it now',
  retry: 'back in the queue for another try',
  built: 'built from source, repaired and verified for s390x',
  failed: 'the build failed; see the log and hints',
  cached: 'a wheel built earlier from the same sdist was taken from the cache',
  reused: 'an existing wheel already works on s390x and was kept as is',
  missing: 'no source or usable wheel was found',
  skipped_known_failure: 'skipped: this version failed before and nothing changed',
  system_recipe_failed: 'installing the suggested system packages failed',
  cancelled: 'cancelled before it finished',
  broken: 'it installs but does not work on s390x: its imports, smoke test or self-test failed under emulation',
  planning: 'the planner is resolving it',
  planned: 'a plan exists; enqueue its builds',
  build_queued: 'its builds are waiting or running',
  builds_done: 'the builds queued from its plan have all finished',
  reuse: 'an existing wheel will be reused',
  build: 'will be built from source',
};

/** The class of each job status (the glossary's `class`; the browser tests compare them). */
export const STATUS_CLASS: Record<JobStatus, StatusClass> = {
  pending: 'waiting',
  retry: 'waiting',
  leased: 'running',
  building: 'running',
  built: 'built',
  reused: 'reused',
  cached: 'reused',
  failed: 'failed',
  missing: 'failed',
  system_recipe_failed: 'failed',
  broken: 'failed',
  skipped_known_failure: 'skipped',
  cancelled: 'cancelled',
};

export function statusClass(status: string): StatusClass | undefined {
  return (STATUS_CLASS as Record<string, StatusClass>)[status];
}

/**
 * A job that ran a build: `built`, or a failure after a worker started it. Reuses, cache
 * hits and missing packages are not builds ("Builds over time", "Build durations").
 */
export function ranBuild(job: { status: string; started_ms: number | null }): boolean {
  const c = statusClass(job.status);
  return c === 'built' || (c === 'failed' && job.started_ms !== null && job.status !== 'missing');
}

/**
 * The worker of a job: the one holding its lease while it waits to start or runs, else,
 * once it ended, the one that reported its result (`result.worker`; the store clears the
 * lease on completion). `null` for a job no worker ran (waiting, reused at planning, a CLI run).
 */
export function jobWorker(job: { status: string; lease_owner: string | null; result?: unknown }): string | null {
  if (job.lease_owner) return job.lease_owner;
  const c = statusClass(job.status);
  if (c === undefined || c === 'waiting' || c === 'running') return null;
  const worker = (job.result as { worker?: unknown } | null | undefined)?.worker;
  return typeof worker === 'string' && worker ? worker : null;
}

/** A history attempt's status (see `AttemptStatus`) in the glossary's words. */
export function attemptStatus(status: string): JobStatus {
  if (status === 'success') return 'built';
  if (status === 'cancelled') return 'cancelled';
  // Its worker vanished (the lease expired): the job went back to the queue.
  if (status === 'lost') return 'retry';
  return 'failed';
}

/** Singular or plural: `plural(1, 'job')` is `1 job`, `plural(2, 'job')` is `2 jobs`. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? word : many}`;
}

/** What a worker's state means (decided by the server, see types.ts WorkerState). */
export const WORKER_STATE_HELP: Record<'building' | 'idle' | 'offline', string> = {
  building: 'seen in the last minute and holding the lease of a running job',
  idle: 'seen in the last minute, waiting for work',
  offline: 'not seen for more than a minute: stopped, or cannot reach the server',
};

export type Tone = 'ok' | 'bad' | 'warn' | 'busy' | 'idle';

export function statusTone(status: string): Tone {
  switch (status) {
    case 'built':
    case 'cached':
    case 'reused':
    case 'reuse':
    case 'success':
    case 'planned':
    case 'build_queued':
    case 'builds_done':
    case 'ok':
      return 'ok';
    case 'failed':
    case 'missing':
    case 'system_recipe_failed':
    case 'broken':
    case 'failure':
    case 'timeout':
    case 'error':
      return 'bad';
    case 'retry':
    case 'offline':
    case 'skipped_known_failure':
    case 'cancelled':
    case 'build':
      return 'warn';
    case 'leased':
    case 'building':
    case 'planning':
      return 'busy';
    default:
      return 'idle';
  }
}
