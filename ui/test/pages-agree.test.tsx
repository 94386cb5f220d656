// Pages that must agree: cleared jobs leave the Builds list only, a planned package that is
// not queued yet has a page, "Run worker now" is off where no worker can run, and the
// Builds and package pages show a job's duration as the same, named, wall time.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryClient } from '../src/lib/hooks';
import { listedCounts } from '../src/pages/Builds';
import type { Job, JobStatus, PackageDetail } from '../src/lib/types';
import { fetched, installFakes, mountAt, restoreFakes, serve, until, type Answer } from './page';
import { buttonByText, type Rendered } from './render';

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
    started_ms: 1_000,
    finished_ms: 45_000,
    cleared_ms: null,
    created_ms: 500,
    updated_ms: 45_000,
    plan_id: 'plan1',
    input_id: null,
    recipe: {},
    result: { seconds: 41.2 },
    detail: '',
    log_bytes: 0,
    ...extra,
  }) as Job;

const stats = (byStatus: Record<string, number>, cleared: Record<string, number> = {}) => ({
  depth: 0,
  active: 0,
  restarts: 0,
  total: Object.values(byStatus).reduce((a, n) => a + n, 0),
  by_status: byStatus,
  cleared_by_status: cleared,
});

const detail = (extra: Partial<PackageDetail>): PackageDetail => ({
  name: 'six',
  attempts: [],
  variants: [],
  events: [],
  failures: [],
  hints: [],
  average_duration_secs: null,
  jobs: [],
  plans: [],
  ...extra,
});

const text = (r: Rendered) => (r.container.textContent ?? '').replace(/\s+/g, ' ');

/** The cells of the column headed `label` in the table labelled `table`. */
function column(r: Rendered, table: string, label: string): string[] {
  const t = r.container.querySelector(`table[aria-label="${table}"]`);
  if (!t) return [];
  const heads = [...t.querySelectorAll('thead th')].map((th) => th.textContent?.replace(/[↕▲▼]/g, '').trim());
  const i = heads.indexOf(label);
  if (i < 0) return [];
  return [...t.querySelectorAll('tbody tr')].map((tr) => tr.querySelectorAll('td')[i]?.textContent ?? '');
}

describe('pages that must agree', () => {
  let r: Rendered | null = null;
  beforeEach(installFakes);
  afterEach(() => {
    r?.unmount();
    r = null;
    restoreFakes();
  });

  it('counts on the Builds list what it lists: cleared jobs only when shown', () => {
    const s = stats({ built: 3, failed: 1, pending: 1 }, { built: 2 });
    expect(listedCounts(s, false)).toEqual({ built: 1, failed: 1, pending: 1 });
    expect(listedCounts(s, true)).toEqual({ built: 3, failed: 1, pending: 1 });
  });

  it('leaves cleared jobs out of the Builds list and says how many it hides', async () => {
    serve((path): Answer =>
      path === '/api/queue?limit=1000&hide_cleared=true'
        ? { json: { jobs: [], stats: stats({ built: 1 }, { built: 1 }) } }
        : { status: 404 },
    );
    r = mountAt('/builds');
    await until(r, () => text(r!).includes('1 cleared job hidden'), 'the empty list');
    const chip = [...r.container.querySelectorAll('label.chip')].find((c) => c.textContent?.startsWith('built'));
    expect(chip?.textContent).toBe('built 0');
    expect(fetched).toContain('/api/queue?limit=1000&hide_cleared=true');
  });

  it('gives a planned package that is not queued yet a page that says so and offers to queue it', async () => {
    const planned = { plan_id: 'plan1', created_ms: 1, node: 'six==1.16.0', version: '1.16.0', action: 'build' as const, reason: 'only an sdist', queued: false };
    serve((path): Answer => (path === '/api/packages/six' ? { json: detail({ plans: [planned] }) } : { status: 404 }));
    r = mountAt('/packages/six');
    await until(r, () => text(r!).includes('not queued yet'), 'the planned package');
    expect(text(r)).toContain('Planned in plan plan1 (1.16.0, build');
    expect(r.container.querySelector('[aria-label="Enqueue six==1.16.0 from plan plan1"]')).not.toBeNull();
    expect(r.container.textContent).not.toContain('not found');
  });

  it('turns "Run worker now" off, saying why, on a server without a worker of its own', async () => {
    let trigger = 'none';
    serve((path): Answer =>
      path === '/api/queue/stats'
        ? { json: { ...stats({}), by_class: {}, workers: [], draining: false, cleared: 0, trigger } }
        : { status: 404 },
    );
    r = mountAt('/');
    await until(r, () => text(r!).includes('is off'), 'the reason');
    const button = buttonByText(r.container, 'Run worker now');
    expect(button.disabled).toBe(true);
    expect(text(r)).toContain('--local-worker');
    expect(button.getAttribute('aria-describedby')).toBe('trigger-why');
    r.unmount();
    queryClient.clear();
    trigger = 'local';
    r = mountAt('/');
    await until(r, () => text(r!).includes('seen in the last minute'), 'the workers card');
    expect(buttonByText(r.container, 'Run worker now').disabled).toBe(false);
    expect(text(r)).not.toContain('is off');
  });

  it('shows a job its wall time on the Builds and the package page alike, and an attempt its attempt time', async () => {
    const built = job(7, 'built');
    const attempt = { id: 1, timestamp: '2026-01-01T00:00:45Z', package: 'six', version: '1.16.0', python_tag: 'cp311', platform: 'manylinux2014_s390x', variant: 'default', attempt: 1, status: 'success', duration_secs: 38.9, log_path: null, hints: [], worker: 'w1', run_id: 'job-7-attempt-1', detail: 'ok' };
    serve((path): Answer => {
      if (path === '/api/queue?limit=1000&hide_cleared=true') return { json: { jobs: [built], stats: stats({ built: 1 }) } };
      if (path === '/api/packages/six') return { json: detail({ jobs: [built], attempts: [attempt] as unknown as PackageDetail['attempts'] }) };
      return { status: 404 };
    });
    r = mountAt('/builds');
    await until(r, () => column(r!, 'Build jobs', 'Wall time').length === 1, 'the builds table');
    const onBuilds = column(r, 'Build jobs', 'Wall time');
    r.unmount();
    r = mountAt('/packages/six');
    await until(r, () => column(r!, 'Queue jobs', 'Wall time').length === 1, 'the package page');
    expect(column(r, 'Queue jobs', 'Wall time')).toEqual(onBuilds);
    expect(onBuilds).toEqual(['41 s']);
    expect(column(r, 'Attempts', 'Attempt time')).toEqual(['39 s']);
    const header = [...r.container.querySelectorAll('th')].find((th) => th.textContent?.startsWith('Wall time'));
    expect(header?.getAttribute('title')).toContain('every build attempt');
  });
});
