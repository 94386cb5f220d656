// One vocabulary and one definition per number (issue 21): the pure logic behind them.
import { describe, expect, it } from 'vitest';
import { attemptStatus, jobWorker, plural, ranBuild, STATUS_CLASS, STATUS_HELP, statusClass } from '../src/lib/format';
import { jobsByNode, nodeKey, representativeJob } from '../src/lib/plan';
import { timeline } from '../src/lib/timeline';
import { enqueuedText } from '../src/lib/actions';
import { inputState } from '../src/pages/Inputs';
import { describeFix } from '../src/pages/Hints';
import { runId } from '../src/pages/Builds';
import { attemptCounts } from '../src/pages/Dashboard';
import { JOB_STATUSES, type AttemptRow, type AttemptStatus, type EventRow, type Job, type JobStatus } from '../src/lib/types';

const job = (id: number, status: JobStatus, extra: Partial<Job> = {}): Job =>
  ({
    id,
    package: 'six',
    version: '1.16.0',
    status,
    started_ms: null,
    finished_ms: null,
    created_ms: 1000 + id,
    updated_ms: 2000 + id,
    plan_id: 'p1',
    recipe: {},
    result: null,
    detail: '',
    ...extra,
  }) as Job;

describe('the status glossary in the UI', () => {
  it('gives every job status a class and a meaning', () => {
    for (const s of JOB_STATUSES) {
      expect(STATUS_CLASS[s], s).toBeTruthy();
      expect(STATUS_HELP[s], s).toBeTruthy();
    }
    expect(statusClass('missing')).toBe('failed');
    expect(statusClass('cached')).toBe('reused');
    expect(statusClass('success')).toBeUndefined();
  });

  it('counts only real builds as builds: never a reuse, a cache hit or a missing package', () => {
    expect(ranBuild(job(1, 'built', { started_ms: 5 }))).toBe(true);
    expect(ranBuild(job(2, 'failed', { started_ms: 5 }))).toBe(true);
    expect(ranBuild(job(3, 'reused'))).toBe(false);
    expect(ranBuild(job(4, 'cached'))).toBe(false);
    expect(ranBuild(job(5, 'missing'))).toBe(false);
    expect(ranBuild(job(6, 'failed'))).toBe(false); // failed before a worker started it
    expect(ranBuild(job(7, 'pending'))).toBe(false);
  });

  it('names the worker of a finished job from its result, as the lease is cleared on completion', () => {
    expect(jobWorker(job(1, 'building', { lease_owner: 'w1' }))).toBe('w1');
    expect(jobWorker(job(2, 'built', { lease_owner: null, result: { worker: 'w2', run_id: 'job-2-attempt-1' } }))).toBe('w2');
    expect(jobWorker(job(3, 'failed', { lease_owner: null, result: { worker: 'w3' } }))).toBe('w3');
    // Back in the queue: the worker of the attempt before is not its worker.
    expect(jobWorker(job(4, 'retry', { lease_owner: null, result: { worker: 'w4' } }))).toBeNull();
    // Never ran on a worker: reused at planning, a CLI run.
    expect(jobWorker(job(5, 'reused', { lease_owner: null }))).toBeNull();
    expect(jobWorker(job(6, 'built', { lease_owner: null, result: { origin: 'cli' } }))).toBeNull();
  });

  it("speaks of attempts in the glossary's words", () => {
    expect(attemptStatus('success')).toBe('built');
    expect(attemptStatus('timeout')).toBe('failed');
    expect(attemptStatus('verify_failed')).toBe('failed');
    expect(attemptStatus('cancelled')).toBe('cancelled');
    // A lost attempt (its worker vanished) is neither built nor failed: back in the queue.
    expect(attemptStatus('lost')).toBe('retry');
  });

  it('counts attempts in the same words', () => {
    expect(attemptCounts({ success: 3, failed: 1, timeout: 2, cancelled: 1 })).toEqual({ built: 3, failed: 3, cancelled: 1 });
  });

  it('pluralizes', () => {
    expect(plural(1, 'job')).toBe('1 job');
    expect(plural(2, 'job')).toBe('2 jobs');
    expect(plural(0, 'job')).toBe('0 jobs');
    expect(plural(1200, 'line')).toBe('1,200 lines');
  });
});

describe('which job speaks for a package or a plan node', () => {
  it('does not let a cancelled re-run hide a build', () => {
    const jobs = [job(1, 'built'), job(2, 'cancelled')];
    expect(representativeJob(jobs)!.id).toBe(1);
    expect(jobsByNode(jobs).get(nodeKey({ name: 'six', version: '1.16.0' }))!.status).toBe('built');
  });

  it('prefers a waiting or running job, then the newest result', () => {
    expect(representativeJob([job(1, 'built'), job(3, 'pending'), job(2, 'failed')])!.id).toBe(3);
    expect(representativeJob([job(1, 'built'), job(2, 'failed')])!.id).toBe(2);
    expect(representativeJob([job(4, 'cancelled')])!.id).toBe(4);
    expect(representativeJob([])).toBeUndefined();
  });
});

describe('wording', () => {
  it('says how many jobs a plan enqueue created, and nothing when none', () => {
    expect(enqueuedText({ jobs: [job(1, 'pending')], created: 1 })).toBe('1 job queued.');
    expect(enqueuedText({ jobs: [job(1, 'pending'), job(2, 'pending'), job(3, 'built')], created: 2 })).toBe('2 jobs queued, 1 already there.');
    expect(enqueuedText({ jobs: [job(1, 'pending')], created: 0 })).toBe('nothing new to queue: 1 job already queued or finished.');
  });

  it('ends "build queued" when the builds of the plan have ended', () => {
    const input = { status: 'build_queued' as const, plan_id: 'p1' };
    expect(inputState(input, [job(1, 'built'), job(2, 'building')])).toBe('build_queued');
    expect(inputState(input, [job(1, 'built'), job(2, 'failed')])).toBe('builds_done');
    expect(inputState(input, [job(1, 'built', { plan_id: 'other' })])).toBe('build_queued');
    expect(inputState({ status: 'pending', plan_id: null }, [])).toBe('pending');
  });

  it('describes a learned fix', () => {
    expect(describeFix({ packages: ['libffi-dev'], env: { CFLAGS: '-O1' }, variant: 'emulated' })).toBe(
      'system packages libffi-dev; env CFLAGS=-O1; variant emulated',
    );
    expect(describeFix({})).toBe('');
  });

  it('shows the run id a worker reported', () => {
    expect(runId(job(1, 'built', { result: { run_id: 'job-1-attempt-1' } }))).toBe('job-1-attempt-1');
    expect(runId(job(1, 'pending'))).toBeNull();
  });
});

describe('the automation timeline', () => {
  it('puts plan, queue, attempts, hints, recipes, retries and verification in order', () => {
    const ev = (id: number, kind: EventRow['kind'], t: string, detail: string = kind): EventRow => ({
      id,
      timestamp: `2026-01-01T00:00:${t}.000Z`,
      kind,
      package: 'cffi',
      version: '1.17.1',
      run_id: null,
      detail,
      data: null,
    });
    const attempt = (id: number, n: number, status: AttemptStatus, t: string): AttemptRow => ({
      id,
      timestamp: `2026-01-01T00:00:${t}.000Z`,
      package: 'cffi',
      version: '1.17.1',
      python_tag: 'cp311',
      platform: 'manylinux2014_s390x',
      variant: n === 1 ? 'default' : 'hinted',
      attempt: n,
      status,
      duration_secs: 3,
      log_path: null,
      hints: n === 1 ? ['libffi: headers missing'] : [],
      worker: 'w1',
      run_id: null,
      detail: '',
      environment: null,
    });
    const steps = timeline(
      [ev(1, 'plan', '01'), ev(3, 'hint', '04'), ev(4, 'hint_actions', '05'), ev(5, 'learned_fix', '08')],
      [attempt(10, 1, 'failed', '03'), attempt(11, 2, 'success', '07')],
      [
        job(20, 'built', {
          created_ms: Date.parse('2026-01-01T00:00:01.500Z'),
          finished_ms: Date.parse('2026-01-01T00:00:07.500Z'),
          started_ms: 1,
          result: { metadata: { verification: { checks: [{ name: 'smoke:cffi', outcome: 'passed' }] } } },
        }),
      ],
    );
    expect(steps.map((s) => s.kind)).toEqual(['plan', 'queued', 'attempt', 'hint', 'recipe', 'retry', 'verification', 'learned']);
    expect(steps[2].status).toBe('failed');
    expect(steps[5].status).toBe('built');
    expect(steps[2].text).toContain('hints: libffi: headers missing');
  });

  it('puts an attempt before the result recorded in the same millisecond, and says its hints once', () => {
    const at = '2026-01-01T00:00:05.000Z';
    const steps = timeline(
      [{ id: 1, timestamp: at, kind: 'failure', package: 'x', version: '1', run_id: null, detail: 'failed; hints: h1', data: null }],
      [{ id: 2, timestamp: at, package: 'x', version: '1', python_tag: 'cp311', platform: 'p', variant: 'default', attempt: 1, status: 'failed', duration_secs: 1, log_path: null, hints: ['h1'], worker: null, run_id: null, detail: 'failed; hints: h1', environment: null }],
      [],
    );
    expect(steps.map((s) => s.kind)).toEqual(['attempt', 'result']);
    expect(steps[0].text.match(/h1/g)!.length).toBe(1);
  });

  it('shows a stopped build as a cancelled result, not a failure', () => {
    const at = '2026-01-01T00:00:05.000Z';
    const steps = timeline(
      [{ id: 1, timestamp: at, kind: 'cancelled', package: 'x', version: '1', run_id: null, detail: 'cancelled during the build step', data: null }],
      [],
      [],
    );
    expect(steps.map((s) => [s.kind, s.status])).toEqual([['result', 'cancelled']]);
  });

  it('shows a plan decision that needed no build', () => {
    const steps = timeline([], [], [job(3, 'reused', { finished_ms: 5000, detail: 'an uploaded wheel works' })]);
    expect(steps.map((s) => [s.kind, s.status])).toEqual([
      ['queued', undefined],
      ['result', 'reused'],
    ]);
  });
});
