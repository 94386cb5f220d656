// The log page against a fetch and an EventSource the tests drive: the header follows the
// job to its end, a job without a version has a log page, and a missing log is looked for
// less and less often.
import { act } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FIRST_POLL_MS, MAX_POLL_MS, jobLine, nextPollMs } from '../src/pages/LogPage';
import type { Job, JobStatus } from '../src/lib/types';
import { FakeEventSource, fetched, installFakes, mountAt, restoreFakes, serve, settle, until, type Answer } from './page';
import type { Rendered } from './render';

const job = (id: number, status: JobStatus, extra: Partial<Job> = {}): Job =>
  ({
    id,
    package: 'six',
    version: '1.16.0',
    python: '3.11',
    platform_tag: 'manylinux2014_s390x',
    status,
    attempt: 1,
    restarts: 0,
    priority: 0,
    cancel_requested: false,
    lease_owner: null,
    lease_expires_ms: null,
    heartbeat_ms: null,
    started_ms: null,
    finished_ms: null,
    created_ms: 1000,
    updated_ms: 2000,
    plan_id: null,
    input_id: null,
    recipe: {},
    result: null,
    detail: '',
    log_bytes: 0,
    ...extra,
  }) as Job;

const chunks = (id: number, status: JobStatus) => ({ json: { job_id: id, status, done: false, chunks: [], next_after: 0 } });

/** The header: the job line and, once the job ended, how it finished. */
const head = (r: Rendered) => r.container.querySelector('.page-head') as HTMLElement;
const jobLede = (r: Rendered) => (head(r)?.querySelector('.lede')?.textContent ?? '').replace(/\s+/g, ' ').trim();
const occurrences = (text: string, part: string) => text.split(part).length - 1;
const stream = () => FakeEventSource.instances[FakeEventSource.instances.length - 1];

describe('the log page header', () => {
  let r: Rendered | null = null;
  beforeEach(installFakes);
  afterEach(() => {
    r?.unmount();
    r = null;
    restoreFakes();
  });

  it("follows the job while it streams and shows its final status, attempt and worker when it ends, the detail once", async () => {
    let current = job(12, 'pending', { attempt: 0 });
    serve((path): Answer => {
      if (path === '/api/jobs/12/logs/chunks?limit=1') return chunks(12, current.status);
      if (path === '/api/jobs/12') return { json: { job: current } };
      return { status: 404 };
    });
    r = mountAt('/logs/six/1.16.0?job=12');
    await until(r, () => /Job 12 pending/.test(jobLede(r!)), 'the pending job');
    expect(stream().url).toBe('/api/jobs/12/logs/stream');
    stream().emit('open');
    // A worker takes it; the page looks the job up while the log streams.
    current = job(12, 'building', { lease_owner: 'w2', started_ms: 3000 });
    stream().emit('log', 'Collecting six\n');
    await until(r, () => jobLede(r!) === 'Job 12 building: a worker is building it now attempt 1 on w2', 'the building job');
    // Cancelled: the worker vanished, so the job ends without a result naming it.
    current = job(12, 'cancelled', { detail: 'cancelled during the build step', finished_ms: 5000 });
    stream().emit('end', JSON.stringify({ job_id: 12, status: 'cancelled', detail: 'cancelled during the build step' }));
    // At once from the end event, and after the job is fetched again.
    expect(jobLede(r)).toMatch(/^Job 12 cancelled/);
    await until(r, () => fetched.filter((p) => p === '/api/jobs/12').length >= 3, 'the job fetched again at the end');
    await settle(20);
    expect(jobLede(r)).toBe('Job 12 cancelled: cancelled before it finished attempt 1 on w2');
    const text = head(r).textContent ?? '';
    expect(text).toContain('Finished: cancelled during the build step');
    expect(occurrences(text, 'cancelled during the build step')).toBe(1);
    expect(r.container.querySelector('.log-viewer .badge')?.textContent).toMatch(/^cancelled/);
  }, 10_000);

  it('says how the job ended even when the job cannot be fetched again', async () => {
    let fail = false;
    serve((path): Answer => {
      if (path === '/api/jobs/7/logs/chunks?limit=1') return chunks(7, 'building');
      if (path === '/api/jobs/7') return fail ? { status: 500 } : { json: { job: job(7, 'building', { lease_owner: 'w1' }) } };
      return { status: 404 };
    });
    r = mountAt('/logs/six/1.16.0?job=7');
    await until(r, () => /Job 7 building/.test(jobLede(r!)), 'the building job');
    stream().emit('open');
    fail = true;
    stream().emit('end', JSON.stringify({ job_id: 7, status: 'failed', detail: 'the build failed: exit status 1' }));
    await settle(30);
    expect(jobLede(r)).toBe('Job 7 failed: the build failed; see the log and hints attempt 1 on w1');
    expect(occurrences(head(r).textContent ?? '', 'exit status 1')).toBe(1);
  });

  it("streams the job whose log the version's probe found", async () => {
    serve((path): Answer => {
      if (path === '/api/logs/six/1.16.0/chunks?limit=1') return chunks(3, 'built');
      if (path === '/api/jobs/3') return { json: { job: job(3, 'built', { result: { worker: 'w9' } }) } };
      return { status: 404 };
    });
    r = mountAt('/logs/six/1.16.0');
    await until(r, () => FakeEventSource.instances.length > 0, 'the stream');
    expect(stream().url).toBe('/api/jobs/3/logs/stream');
  });

  it('builds the job line from the job and the end event', () => {
    const building = job(4, 'building', { lease_owner: 'w3', detail: 'lease of worker w1 expired; re-queued' });
    expect(jobLine(building, null, null)).toEqual({ id: 4, status: 'building', attempt: 1, worker: 'w3', detail: 'lease of worker w1 expired; re-queued', finished: false });
    const end = { jobId: 4, status: 'cancelled', detail: 'cancelled during the build step' };
    // The end event wins over a job fetched before it; the worker seen holding the attempt stays.
    expect(jobLine(building, end, null)).toMatchObject({ status: 'cancelled', worker: 'w3', detail: 'cancelled during the build step', finished: true });
    expect(jobLine(job(4, 'cancelled'), end, { id: 4, attempt: 1, worker: 'w3' })).toMatchObject({ worker: 'w3' });
    expect(jobLine(job(4, 'cancelled', { attempt: 2 }), end, { id: 4, attempt: 1, worker: 'w3' })).toMatchObject({ worker: null });
    expect(jobLine(null, end, null)).toEqual({ id: 4, status: 'cancelled', attempt: null, worker: null, detail: 'cancelled during the build step', finished: true });
    expect(jobLine(null, null, null)).toBeNull();
  });
});

describe('the log of a job without a version', () => {
  let r: Rendered | null = null;
  beforeEach(installFakes);
  afterEach(() => {
    r?.unmount();
    r = null;
    restoreFakes();
  });

  it('opens at /logs/<name>?job=<id> with the job, its status and why it is missing', async () => {
    const missing = job(5, 'missing', { package: 'no-such-pkg', version: '', attempt: 0, detail: 'no-such-pkg==1.0: no version of no-such-pkg was found' });
    serve((path): Answer => {
      if (path === '/api/jobs/5/logs/chunks?limit=1') return { json: { job_id: 5, status: 'missing', done: true, chunks: [], next_after: 0 } };
      if (path === '/api/jobs/5') return { json: { job: missing } };
      return { status: 404 };
    });
    r = mountAt('/logs/no-such-pkg?job=5');
    await until(r, () => FakeEventSource.instances.length > 0, 'the stream');
    expect(r.container.textContent).not.toContain('Not found');
    expect(stream().url).toBe('/api/jobs/5/logs/stream');
    stream().emit('open');
    stream().emit('end', JSON.stringify({ job_id: 5, status: 'missing', detail: missing.detail }));
    await until(r, () => /Job 5 missing/.test(jobLede(r!)), 'the missing job');
    expect(head(r).querySelector('h1')?.textContent).toBe('Log of no-such-pkg — job 5');
    expect(occurrences(head(r).textContent ?? '', 'no version of no-such-pkg was found')).toBe(1);
    expect(r.container.textContent).toContain('Job 5 wrote no log: nothing was found to build.');
    // Nothing asked for a version's log.
    expect(fetched.some((p) => p.startsWith('/api/logs/'))).toBe(false);
  });

  const missing = job(5, 'missing', { package: 'no-such-pkg', version: '', attempt: 0, detail: 'no version of no-such-pkg was found' });
  const api = (path: string): Answer => {
    if (path.startsWith('/api/queue?')) return { json: { jobs: [missing], stats: { depth: 0, active: 0, total: 1, restarts: 0, by_status: { missing: 1 } } } };
    if (path === '/api/plans/p1') {
      const node = { id: 'no-such-pkg', name: 'no-such-pkg', version: '', action: 'missing', reason: 'no version of no-such-pkg was found', direct: true };
      const body = { schema: 1, id: 'p1', python: '3.11', platform_tag: 'manylinux2014_s390x', strategy: 'prefer-reuse', nodes: [node], edges: [], rejected: [], skipped: [], notes: [] };
      return { json: { plan: { id: 'p1', input_id: null, python: '3.11', platform_tag: 'manylinux2014_s390x', summary: { missing: 1 }, body, created_ms: 1000 }, jobs: [missing] } };
    }
    if (path === '/api/packages/no-such-pkg')
      return { json: { name: 'no-such-pkg', attempts: [], variants: [], events: [], failures: [], hints: [], average_duration_secs: null, jobs: [missing], plans: [] } };
    if (path === '/api/jobs/5/logs/chunks?limit=1') return { json: { job_id: 5, status: 'missing', done: true, chunks: [], next_after: 0 } };
    if (path === '/api/jobs/5') return { json: { job: missing } };
    return { status: 404 };
  };
  const opensTheLog = async (from: string, link: () => HTMLAnchorElement | undefined) => {
    serve(api);
    r = mountAt(from);
    await until(r, () => link() !== undefined, `the log link on ${from}`);
    expect(link()!.getAttribute('href')).toBe('/logs/no-such-pkg?job=5');
    act(() => link()!.click());
    await until(r, () => FakeEventSource.instances.length > 0, 'the log page');
    expect(r.container.textContent).not.toContain('Not found');
    expect(head(r).querySelector('h1')?.textContent).toBe('Log of no-such-pkg — job 5');
  };

  it("is what Builds' Log button opens", async () => {
    await opensTheLog('/builds', () => r!.container.querySelector<HTMLAnchorElement>('a[aria-label="Log of job 5"]') ?? undefined);
  });

  it("is what the package page's “open its log” opens", async () => {
    await opensTheLog('/packages/no-such-pkg', () => [...r!.container.querySelectorAll<HTMLAnchorElement>('a')].find((a) => a.textContent === 'open its log'));
  });

  it("is what the plan's graph and jobs table link as “log”", async () => {
    await opensTheLog('/plans/p1', () => r!.container.querySelector<HTMLAnchorElement>('.tree-node a.small') ?? undefined);
    r!.unmount();
    FakeEventSource.instances = [];
    await opensTheLog('/plans/p1', () => [...r!.container.querySelectorAll<HTMLAnchorElement>('table a')].find((a) => a.textContent === 'log'));
  });

  it('says there is nothing to show at /logs/<name> without a job, and asks the API nothing', async () => {
    serve(() => ({ status: 404 }));
    r = mountAt('/logs/no-such-pkg');
    await until(r, () => /no version of no-such-pkg and no job/.test(r!.container.textContent ?? ''), 'the explanation');
    expect(r.container.textContent).not.toContain('Not found');
    expect(fetched).toEqual([]);
    expect(FakeEventSource.instances).toEqual([]);
  });

  it('stops at a job that was removed instead of polling for it', async () => {
    serve(() => ({ status: 404 }));
    r = mountAt('/logs/no-such-pkg?job=9');
    await until(r, () => /There is no job 9/.test(r!.container.textContent ?? ''), 'the removed job');
    const asked = fetched.length;
    await settle(50);
    expect(fetched.length).toBe(asked);
  });
});

describe('waiting for a log', () => {
  let r: Rendered | null = null;
  beforeEach(installFakes);
  afterEach(() => {
    r?.unmount();
    r = null;
    vi.useRealTimers();
    restoreFakes();
  });

  it('doubles the wait up to 30 s', () => {
    const waits = [FIRST_POLL_MS];
    for (let i = 0; i < 6; i++) waits.push(nextPollMs(waits[waits.length - 1]));
    expect(waits).toEqual([3000, 6000, 12000, 24000, 30000, 30000, 30000]);
    expect(MAX_POLL_MS).toBe(30000);
  });

  it('looks again after 3 s, then 6 s, 12 s… up to 30 s, and says so', async () => {
    vi.useFakeTimers();
    const wait = async (ms: number) => {
      await act(async () => {
        await vi.advanceTimersByTimeAsync(ms);
      });
    };
    serve(() => ({ status: 404 }));
    r = mountAt('/logs/ghost/9.9');
    await wait(50);
    expect(r.container.textContent).toContain('looks again 3 s after its last look');
    // Two requests a look: the job's chunks, then a CLI log file.
    expect(fetched).toEqual(['/api/logs/ghost/9.9/chunks?limit=1', '/api/logs/ghost/9.9']);
    const looks = () => fetched.length / 2;
    await wait(FIRST_POLL_MS);
    expect(looks()).toBe(2);
    expect(r.container.textContent).toContain('looks again 6 s after its last look');
    await wait(FIRST_POLL_MS);
    expect(looks()).toBe(2);
    await wait(FIRST_POLL_MS);
    expect(looks()).toBe(3);
    await wait(12000);
    expect(looks()).toBe(4);
    await wait(24000 + 30000 + 30000);
    expect(looks()).toBe(7);
    expect(r.container.textContent).toContain('looks again 30 s after its last look');
  });
});
