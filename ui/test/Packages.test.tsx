// The Packages page's "Verified" column: what the checks behind a "passed" did.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Job } from '../src/lib/types';
import { fetched, installFakes, mountAt, restoreFakes, serve, until, type Answer } from './page';
import type { Rendered } from './render';

const verification = (checks: { name: string; outcome: string; detail?: string }[]) => ({
  metadata: { verification: { level: 'smoke', duration_secs: 3.1, checks: checks.map((c) => ({ duration_secs: 0.5, ...c })) } },
});

const docopt = verification([
  { name: 'install', outcome: 'passed' },
  { name: 'import', outcome: 'passed' },
  { name: 'smoke', outcome: 'skipped', detail: 'the smoke-test catalog has nothing for docopt 0.6.2' },
]);

const row = (name: string, job: number | null, level = 'smoke') => ({
  package: name,
  version: '0.6.2',
  status: job ? 'built' : 'reused',
  job,
  attempts: job ? 1 : 0,
  successes: job ? 1 : 0,
  failures: 0,
  last_timestamp: '2026-01-01T00:00:00.000Z',
  verification: { level, outcome: 'passed' },
});

describe('the Verified column', () => {
  let r: Rendered | null = null;
  beforeEach(installFakes);
  afterEach(() => {
    r?.unmount();
    r = null;
    restoreFakes();
  });

  const badge = (name: string) => {
    const tr = [...r!.container.querySelectorAll('tr')].find((t) => t.querySelector('a')?.textContent === name);
    return tr?.querySelectorAll('td')[3]?.querySelector('.badge') as HTMLElement | undefined;
  };
  const text = (name: string) => badge(name)?.firstChild?.textContent ?? '';

  it("shows a skipped check as skipped, from the row's job or its verified event", async () => {
    serve((path): Answer => {
      if (path === '/api/packages?limit=1000')
        return { json: { packages: [row('docopt', 7), row('reusedpkg', null), row('markupsafe', 8), row('plain', 9, 'import')] } };
      if (path === '/api/queue?limit=1000')
        return {
          json: {
            jobs: [
              { id: 7, package: 'docopt', version: '0.6.2', status: 'built', result: docopt } as unknown as Job,
              { id: 8, package: 'markupsafe', version: '0.6.2', status: 'built', result: verification([{ name: 'import', outcome: 'passed' }, { name: 'smoke:markupsafe', outcome: 'passed' }]) } as unknown as Job,
            ],
            stats: { depth: 0, active: 0, total: 2, restarts: 0, by_status: {} },
          },
        };
      if (path === '/api/events?kind=verified&limit=1000')
        return { json: { events: [{ id: 3, kind: 'verified', package: 'reusedpkg', version: '0.6.2', run_id: null, detail: '', timestamp: '', data: docopt }], next_before: null } };
      return { status: 404 };
    });
    r = mountAt('/packages');
    await until(r, () => text('docopt') === 'import · passed; smoke skipped' && text('reusedpkg') === 'import · passed; smoke skipped', 'the checks');
    expect(badge('docopt')!.className).toContain('tone-warn');
    expect(badge('docopt')!.title).toContain('smoke skipped — the smoke-test catalog has nothing for docopt 0.6.2');
    expect(badge('docopt')!.title).not.toContain('every check passed');
    expect(text('markupsafe')).toBe('smoke · passed');
    expect(text('plain')).toBe('import · passed');
  });

  it('asks for no job or event when no row passed above import', async () => {
    serve((path): Answer => (path === '/api/packages?limit=1000' ? { json: { packages: [row('plain', 9, 'import')] } } : { status: 404 }));
    r = mountAt('/packages');
    await until(r, () => text('plain') === 'import · passed', 'the badge');
    expect(fetched).toEqual(['/api/packages?limit=1000']);
  });
});
