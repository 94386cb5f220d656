// The automation timeline of a package: what the refinery decided and did for it, in
// order, from what `GET /api/packages/{name}` already returns (history events, build
// attempts, queue jobs).
import { attemptStatus, fmtDuration, verificationSummary } from './format';
import type { AttemptRow, EventRow, Job } from './types';

export type StepKind = 'plan' | 'queued' | 'attempt' | 'retry' | 'hint' | 'recipe' | 'learned' | 'verification' | 'result' | 'event';

export interface Step {
  /** Unix milliseconds. */
  ms: number;
  kind: StepKind;
  /** A status word of the glossary, when the step has one. */
  status?: string;
  version: string;
  text: string;
  /** Stable order for equal times: the source's order. */
  seq: number;
}

/** What kind of step a history event is. */
export function eventKind(kind: string): StepKind {
  switch (kind) {
    case 'plan':
    case 'scan':
    case 'reuse':
    case 'cached':
    case 'missing':
    case 'skipped':
    case 'skipped_known_failure':
    case 'rejected':
    case 'dependency_expansion':
      return 'plan';
    case 'hint':
      return 'hint';
    case 'hint_actions':
    case 'system_recipe':
      return 'recipe';
    case 'learned_fix':
      return 'learned';
    case 'built':
    case 'failure':
    case 'cancelled':
    case 'build_end':
      return 'result';
    default:
      return kind.startsWith('verif') ? 'verification' : 'event';
  }
}

const RESULT_STATUS: Record<string, string> = { reuse: 'reused', cached: 'cached', missing: 'missing', skipped_known_failure: 'skipped_known_failure', built: 'built', failure: 'failed', cancelled: 'cancelled' };

/** At the same millisecond: the order things happen in. */
const RANK: Record<StepKind, number> = { plan: 0, queued: 1, attempt: 2, retry: 2, hint: 3, recipe: 4, verification: 5, result: 6, learned: 7, event: 8 };

/** The steps, oldest first. */
export function timeline(events: readonly EventRow[], attempts: readonly AttemptRow[], jobs: readonly Job[]): Step[] {
  const steps: Step[] = [];
  let seq = 0;
  for (const e of [...events].sort((a, b) => a.id - b.id)) {
    const ms = Date.parse(e.timestamp);
    if (Number.isNaN(ms)) continue;
    steps.push({ ms, kind: eventKind(e.kind), status: RESULT_STATUS[e.kind], version: e.version ?? '', text: e.detail || e.kind, seq: seq++ });
  }
  for (const a of [...attempts].sort((x, y) => x.id - y.id)) {
    const ms = Date.parse(a.timestamp);
    if (Number.isNaN(ms)) continue;
    // The detail often quotes the hints already.
    const unsaid = a.hints.filter((h) => !a.detail.includes(h));
    const hints = unsaid.length ? `; hints: ${unsaid.join('; ')}` : '';
    steps.push({
      ms,
      kind: a.attempt > 1 ? 'retry' : 'attempt',
      status: attemptStatus(a.status),
      version: a.version,
      text: `attempt ${a.attempt} (${a.variant}) ${a.status} in ${fmtDuration(a.duration_secs)}${a.worker ? ` on ${a.worker}` : ''}${a.detail ? `: ${a.detail}` : ''}${hints}`,
      seq: seq++,
    });
  }
  for (const j of [...jobs].sort((x, y) => x.id - y.id)) {
    const recipe = j.recipe ?? {};
    const extra = [recipe.variant ? `variant ${recipe.variant}` : '', recipe.system_packages?.length ? `system packages ${recipe.system_packages.join(' ')}` : '']
      .filter(Boolean)
      .join(', ');
    steps.push({ ms: j.created_ms, kind: 'queued', version: j.version, text: `job ${j.id} queued${extra ? ` with ${extra}` : ''}`, seq: seq++ });
    // Decided without a build (reused, missing, cancelled before a worker took it).
    if (j.started_ms === null && !['pending', 'retry', 'leased', 'building'].includes(j.status)) {
      steps.push({ ms: j.finished_ms ?? j.updated_ms, kind: 'result', status: j.status, version: j.version, text: `job ${j.id}: ${j.status.replace(/_/g, ' ')}${j.detail ? ` — ${j.detail}` : ''}`, seq: seq++ });
    }
    for (const line of verificationSummary(j.result)) {
      steps.push({ ms: j.finished_ms ?? j.updated_ms, kind: 'verification', version: j.version, text: `job ${j.id}: ${line}`, seq: seq++ });
    }
  }
  return steps.sort((a, b) => a.ms - b.ms || RANK[a.kind] - RANK[b.kind] || a.seq - b.seq);
}
