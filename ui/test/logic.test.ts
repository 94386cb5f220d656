import { afterEach, describe, expect, it, vi } from 'vitest';
import { planTree, jobsByNode, nodeKey } from '../src/lib/plan';
import { bucketize, histogram } from '../src/lib/charts';
import { builtWith, packagesFromHint, fmtDuration, jobDurationSecs, statusTone, verificationBadge, verificationChecks, verificationSummary } from '../src/lib/format';
import { api, ApiError, onApiHealth, clearUnauthorized, probeToken, type ApiHealth } from '../src/lib/api';
import { rowChecks, suggestedRecipe } from '../src/pages/Packages';
import { uploadEndpoint } from '../src/pages/Inputs';
import { hintRows } from '../src/pages/Hints';
import type { EventRow, Job, PlanNode } from '../src/lib/types';

const node = (name: string, version: string, action: PlanNode['action'], direct = false): PlanNode => ({
  id: `${name}==${version}`,
  name,
  version,
  action,
  reason: '',
  direct,
});

describe('plan tree', () => {
  it('puts requested packages on top and dependencies below, once', () => {
    const nodes = [node('app', '1', 'build', true), node('lib', '2', 'reuse'), node('shared', '3', 'reuse'), node('cli', '1', 'build', true), node('orphan', '1', 'missing')];
    const edges = [
      { from: 'app==1', to: 'lib==2', kind: 'runtime' as const },
      { from: 'app==1', to: 'shared==3', kind: 'build' as const },
      { from: 'cli==1', to: 'shared==3', kind: 'runtime' as const },
      { from: 'lib==2', to: 'app==1', kind: 'runtime' as const }, // a cycle
    ];
    const tree = planTree({ nodes, edges });
    expect(tree.map((t) => t.node.name)).toEqual(['app', 'cli', 'orphan']);
    const app = tree[0];
    expect(app.children.map((c) => `${c.node.name}:${c.via}`)).toEqual(['shared:build', 'lib:runtime']);
    // The cycle back to app is listed, not expanded.
    expect(app.children[1].children[0]).toMatchObject({ repeat: true, children: [] });
    // shared was expanded under app; under cli it is a repeat.
    expect(tree[1].children[0]).toMatchObject({ repeat: true });
  });

  it('uses nodes without parents as roots when nothing is marked direct', () => {
    const tree = planTree({ nodes: [node('b', '1', 'build'), node('a', '1', 'build')], edges: [{ from: 'b==1', to: 'a==1', kind: 'runtime' }] });
    expect(tree.map((t) => t.node.name)).toEqual(['b']);
    expect(tree[0].children[0].node.name).toBe('a');
  });

  it('matches jobs to nodes by normalized name and version, newest first', () => {
    const jobs = [
      { id: 1, package: 'Zope.Interface', version: '6.0', status: 'failed' },
      { id: 5, package: 'zope-interface', version: '6.0', status: 'pending' },
    ] as Job[];
    expect(jobsByNode(jobs).get(nodeKey({ name: 'zope_interface', version: '6.0' }))!.id).toBe(5);
  });
});

describe('charts', () => {
  it('buckets by hour over the last day', () => {
    const now = Date.UTC(2026, 0, 2, 12, 30);
    const b = bucketize(
      [
        { ms: now - 10 * 60_000, ok: true },
        { ms: now - 15 * 60_000, ok: false },
        { ms: now - 5 * 3600_000, ok: true },
      ],
      now,
    );
    expect(b.length).toBe(24);
    expect(b[b.length - 1]).toMatchObject({ ok: 1, bad: 1 });
    expect(b.reduce((n, x) => n + x.ok + x.bad, 0)).toBe(3);
    expect(bucketize([], now)).toEqual([]);
  });

  it('buckets by day over longer spans, at most 30', () => {
    const now = Date.UTC(2026, 0, 31);
    const b = bucketize([{ ms: now - 90 * 86400_000, ok: true }, { ms: now - 1000, ok: true }], now);
    expect(b.length).toBe(30);
    expect(b.reduce((n, x) => n + x.ok, 0)).toBe(1);
  });

  it('bins durations', () => {
    const h = histogram([1, 10, 11, 59, 3600]);
    expect(h[0]).toEqual({ label: '≤10s', count: 2 });
    expect(h[1].count).toBe(1);
    expect(h[2].count).toBe(1);
    expect(h[h.length - 1]).toEqual({ label: '>30m', count: 1 });
  });
});

describe('routing and formatting', () => {

  it('reads the packages of a hint and turns them into a retry recipe', () => {
    const hint = 'libffi: the libffi development headers are missing (dnf: libffi-devel | apt: libffi-dev)';
    expect(packagesFromHint(hint)).toEqual({ dnf: ['libffi-devel'], apt: ['libffi-dev'] });
    expect(packagesFromHint('rust: needs a Rust compiler')).toEqual({ apt: [], dnf: [] });
    expect(suggestedRecipe([hint, hint])).toEqual({ packages: ['libffi-dev'], steps: [hint, hint] });
  });

  it('picks the upload endpoint by file name', () => {
    expect(uploadEndpoint('numpy-2.0-cp311-cp311-manylinux2014_x86_64.WHL')).toBe('/api/wheels/upload');
    expect(uploadEndpoint('requirements.txt')).toBe('/api/requirements/upload');
  });

  it('takes a job duration from what the worker reported, else from its times', () => {
    expect(jobDurationSecs({ started_ms: 1000, finished_ms: 4000, result: { seconds: 12.5 } })).toBe(12.5);
    expect(jobDurationSecs({ started_ms: 1000, finished_ms: 4000, result: null })).toBe(3);
    expect(jobDurationSecs({ started_ms: null, finished_ms: 4000 })).toBeNull();
  });

  it('says how a wheel was built', () => {
    expect(builtWith({ metadata: { built_with: 'rootfs:bookworm emulated+cross', variant: 'default' } })).toBe(
      'rootfs:bookworm emulated+cross · variant default (compilers native, Python emulated)',
    );
    expect(builtWith({ metadata: { built_with: 'rootfs:bookworm emulated', variant: 'emulated' } })).toBe(
      'rootfs:bookworm emulated · variant emulated (fully emulated)',
    );
    expect(builtWith({ metadata: { built_with: 'host:s390x' } })).toBe('host:s390x');
    expect(builtWith({ wheel: 'x.whl' })).toBeNull();
    expect(builtWith(null)).toBeNull();
  });

  it('summarises verification checks, leaving out skipped ones', () => {
    const result = {
      metadata: {
        verification: {
          level: 'smoke',
          checks: [
            { name: 'import', outcome: 'passed', duration_secs: 0.5 },
            { name: 'smoke:orjson', outcome: 'failed', detail: 'exit status 1: AssertionError', duration_secs: 0.9 },
            { name: 'tests', outcome: 'skipped', detail: 'none known', duration_secs: 0 },
          ],
        },
      },
    };
    expect(verificationSummary(result)).toEqual(['import passed', 'smoke:orjson failed — exit status 1: AssertionError']);
    expect(verificationSummary({ metadata: {} })).toEqual([]);
    expect(verificationSummary(null)).toEqual([]);
    expect(statusTone('broken')).toBe('bad');
  });

  it('formats durations and tones', () => {
    expect(fmtDuration(0.25)).toBe('250 ms');
    expect(fmtDuration(75)).toBe('1 min 15 s');
    expect(fmtDuration(null)).toBe('—');
    expect(statusTone('failed')).toBe('bad');
    expect(statusTone('built')).toBe('ok');
    expect(statusTone('building')).toBe('busy');
  });
});

describe('hints', () => {
  it('lists added hints first, editable in place by their id; catalog hints are not', () => {
    const rows = hintRows({
      catalog: { origin: 'built-in', hints: [{ id: 'libffi', pattern: 'ffi\\.h', message: 'libffi headers', apt: ['libffi-dev'], dnf: ['libffi-devel'] }] },
      user: [{ id: 7, pattern: 'gdbm\\.h', packages: ['libgdbm-dev'], note: 'gdbm', created_ms: 1 }],
    });
    expect(rows.map((r) => [r.id, r.source, r.userId])).toEqual([
      ['user-7', 'added', 7],
      ['libffi', 'catalog', undefined],
    ]);
    expect(rows[1].packages).toBe('apt: libffi-dev · dnf: libffi-devel');
    expect(rows[1].actions).toBe('');
    expect(hintRows(undefined)).toEqual([]);
  });

  it('says what a catalog hint does besides system packages', () => {
    const [row] = hintRows({
      catalog: {
        origin: 'built-in',
        hints: [
          {
            id: 'old-setuptools',
            pattern: 'x',
            message: 'm',
            pack: 'libffi',
            env: { CRYPTOGRAPHY_DONT_BUILD_RUST: '1' },
            build_constraints: ['setuptools<58'],
            toolchain: 'rust-newest',
            variant: 'emulated',
            no_retry: true,
          },
        ],
      },
      user: [],
    });
    expect(row.packages).toBe('');
    expect(row.actions).toBe(
      'pack libffi; env CRYPTOGRAPHY_DONT_BUILD_RUST=1; build constraints setuptools<58; toolchain rust-newest; variant emulated; no retry (no variant can change it)',
    );
  });
});

describe('api client', () => {
  const original = globalThis.fetch;
  afterEach(() => {
    globalThis.fetch = original;
    clearUnauthorized();
  });

  function respond(status: number, body: unknown) {
    globalThis.fetch = vi.fn(async () => new Response(typeof body === 'string' ? body : JSON.stringify(body), { status })) as typeof fetch;
  }

  it('returns JSON and reports the API as up', async () => {
    const seen: ApiHealth[] = [];
    const off = onApiHealth((h) => seen.push(h));
    respond(200, { ok: 1 });
    expect(await api('/api/x')).toEqual({ ok: 1 });
    expect(seen[seen.length - 1].state).toBe('ok');
    off();
  });

  it('throws the JSON error message and code', async () => {
    respond(409, { error: { code: 'conflict', message: 'input 3 is planned' } });
    await expect(api('/api/x')).rejects.toMatchObject({ status: 409, code: 'conflict', message: 'input 3 is planned' });
  });

  it('reports a 401 so the app asks for the token', async () => {
    const seen: ApiHealth[] = [];
    const off = onApiHealth((h) => seen.push(h));
    respond(401, { error: { code: 'unauthorized', message: 'needs a token' } });
    await expect(api('/api/settings', { method: 'PUT', body: {} })).rejects.toBeInstanceOf(ApiError);
    expect(seen[seen.length - 1]).toEqual({ state: 'unauthorized', message: 'needs a token', need: 'write' });
    off();
  });

  it('reports the API as down when it cannot be reached', async () => {
    const seen: ApiHealth[] = [];
    const off = onApiHealth((h) => seen.push(h));
    globalThis.fetch = vi.fn(async () => {
      throw new TypeError('Failed to fetch');
    }) as typeof fetch;
    await expect(api('/api/x')).rejects.toMatchObject({ status: 0, code: 'network' });
    expect(seen[seen.length - 1].state).toBe('down');
    off();
  });

  it('gives up on a slow API after the timeout', async () => {
    globalThis.fetch = vi.fn(
      (_url: RequestInfo | URL, init?: RequestInit) =>
        new Promise<Response>((_, reject) => {
          init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        }),
    ) as typeof fetch;
    await expect(api('/api/x', { timeoutMs: 20 })).rejects.toMatchObject({ code: 'timeout' });
  });

  it('marks every write with the header forms cannot send, and no read', async () => {
    const sent: Array<[string, Record<string, string>]> = [];
    globalThis.fetch = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
      sent.push([init?.method ?? 'GET', (init?.headers ?? {}) as Record<string, string>]);
      return new Response('{}', { status: 200 });
    }) as typeof fetch;
    await api('/api/queue');
    await api('/api/queue/clear', { method: 'POST' });
    await api('/api/queue/retry', { body: { ids: [1] } });
    await api('/api/wheels/upload', { form: new FormData() });
    await api('/api/hints/1', { method: 'DELETE' });
    expect(sent.map(([method, headers]) => [method, headers['X-Refinery-Request']])).toEqual([
      ['GET', undefined],
      ['POST', '1'],
      ['POST', '1'],
      ['POST', '1'],
      ['DELETE', '1'],
    ]);
  });

  it('probes the token cookie with a GET that always answers 200', async () => {
    const methods: string[] = [];
    const answer = (body: unknown) => {
      globalThis.fetch = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
        methods.push(init?.method ?? 'GET');
        return new Response(JSON.stringify(body), { status: 200 });
      }) as typeof fetch;
    };
    answer({ worker_token: false, read_token: false, access: 'none' });
    expect(await probeToken()).toBe('not-required');
    answer({ worker_token: true, read_token: false, access: 'none' });
    expect(await probeToken()).toBe('missing');
    answer({ worker_token: true, read_token: true, access: 'invalid' });
    expect(await probeToken()).toBe('invalid');
    answer({ worker_token: true, read_token: false, access: 'write' });
    expect(await probeToken()).toBe('valid');
    answer({ worker_token: true, read_token: true, access: 'read' });
    expect(await probeToken()).toBe('read-only');
    expect(new Set(methods)).toEqual(new Set(['GET']));
    respond(500, { error: { code: 'internal', message: 'x' } });
    expect(await probeToken()).toBe('unknown');
  });
});

describe('verification badge', () => {
  it('says the level and the outcome, and names the failing check', () => {
    // Without the checks behind it, "passed" only means that no check failed.
    expect(verificationBadge({ level: 'smoke', outcome: 'passed' })).toEqual({
      text: 'smoke · passed',
      tone: 'ok',
      title: 'verified on s390x at level smoke: no check failed',
    });
    expect(verificationBadge({ level: 'tests', outcome: 'timed_out', failed_check: 'tests:pytest' })).toEqual({
      text: 'tests · timed out',
      tone: 'bad',
      title: 'verification at level tests: tests:pytest timed out',
    });
    expect(verificationBadge(null)).toBeNull();
    expect(verificationBadge(undefined)).toBeNull();
  });
});

describe('verification badge with its checks', () => {
  const docopt = {
    metadata: {
      verification: {
        level: 'smoke',
        duration_secs: 3.1,
        checks: [
          { name: 'install', outcome: 'passed', duration_secs: 1.2 },
          { name: 'import', outcome: 'passed', duration_secs: 0.8 },
          { name: 'smoke', outcome: 'skipped', detail: 'the smoke-test catalog has nothing for docopt 0.6.2', duration_secs: 0 },
        ],
      },
    },
  };

  it('reads the checks of a job result or a manifest entry', () => {
    expect(verificationChecks(docopt)).toEqual([
      { name: 'install', outcome: 'passed' },
      { name: 'import', outcome: 'passed' },
      { name: 'smoke', outcome: 'skipped', detail: 'the smoke-test catalog has nothing for docopt 0.6.2' },
    ]);
    expect(verificationChecks({ metadata: {} })).toBeNull();
    expect(verificationChecks(null)).toBeNull();
  });

  it('shows a skipped check as skipped, never as passed', () => {
    const b = verificationBadge({ level: 'smoke', outcome: 'passed' }, verificationChecks(docopt))!;
    expect(b.text).toBe('import · passed; smoke skipped');
    expect(b.tone).toBe('warn');
    expect(b.title).toBe('verification at level smoke: install, import passed; smoke skipped — the smoke-test catalog has nothing for docopt 0.6.2');
    expect(b.text).not.toMatch(/smoke · passed/);
    expect(b.title).not.toMatch(/every check passed/);
    // The sdist's tests gave no verdict; a check that needs the network neither.
    const tests = verificationBadge({ level: 'tests', outcome: 'passed' }, [
      { name: 'import', outcome: 'passed' },
      { name: 'smoke:lxml', outcome: 'passed' },
      { name: 'tests:install-pytest', outcome: 'passed' },
      { name: 'tests:pytest', outcome: 'skipped', detail: '3 errors: no verdict' },
      { name: 'smoke:net', outcome: 'needs_network' },
    ])!;
    expect(tests.text).toBe('tests · passed; tests:pytest skipped; smoke:net needs network');
  });

  it('says passed at the level reached when every check passed, and leaves failures as they were', () => {
    const all = [
      { name: 'install', outcome: 'passed' },
      { name: 'import', outcome: 'passed' },
      { name: 'smoke:markupsafe', outcome: 'passed' },
      { name: 'tests:pytest', outcome: 'passed', detail: '212 passed in 14.20s' },
    ];
    expect(verificationBadge({ level: 'tests', outcome: 'passed' }, all)).toEqual({
      text: 'tests · passed',
      tone: 'ok',
      title: 'verified on s390x at level tests: every check passed (install, import, smoke:markupsafe, tests:pytest)',
    });
    expect(verificationBadge({ level: 'smoke', outcome: 'failed', failed_check: 'smoke:orjson' }, [{ name: 'smoke:orjson', outcome: 'failed' }])).toEqual({
      text: 'smoke · failed',
      tone: 'bad',
      title: 'verification at level smoke: smoke:orjson failed',
    });
  });

  it('takes the checks of a Packages row from its job, else from the newest verified event of its version', () => {
    const job = { id: 7, package: 'docopt', version: '0.6.2', status: 'built', result: docopt } as unknown as Job;
    const jobs = new Map([[7, job]]);
    const row = { package: 'docopt', version: '0.6.2', job: 7 };
    expect(rowChecks(row, jobs, [])?.map((c) => `${c.name} ${c.outcome}`)).toEqual(['install passed', 'import passed', 'smoke skipped']);
    const event = (id: number, version: string, data: unknown) =>
      ({ id, kind: 'verified', package: 'DocOpt', version, data, detail: '', run_id: null, timestamp: '' }) as EventRow;
    const events = [
      event(1, '0.6.2', { metadata: { verification: { level: 'smoke', checks: [{ name: 'import', outcome: 'passed' }] } } }),
      event(2, '0.6.2', docopt),
      event(3, '0.6.1', { metadata: { verification: { level: 'smoke', checks: [{ name: 'smoke:docopt', outcome: 'passed' }] } } }),
    ];
    expect(rowChecks({ ...row, job: null }, jobs, events)?.map((c) => c.name)).toEqual(['install', 'import', 'smoke']);
    expect(rowChecks({ ...row, job: 99 }, jobs, [])).toBeNull();
  });
});
