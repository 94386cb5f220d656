// End-to-end tests of the dashboard in a real browser (Debian chromium driven by
// playwright-core) against the real `refinery serve`, with a local PEP 503 index
// (e2e/index.py) and a fake worker that speaks the worker protocol over HTTP (claim,
// start, logs, history, complete), so no s390x build environment is needed.
//
//   node e2e/run.mjs            (REFINERY_BIN=path/to/refinery to pick the binary,
//                                CHROMIUM=/usr/bin/chromium, E2E_HEADED=1 to watch)
//
// Screenshots of every page go to ui/e2e-artifacts/ (with the server's log). The last
// line is "N passed, M failed".
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const UI = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = resolve(UI, '..');
const ART = join(UI, 'e2e-artifacts');
const TOKEN = 'e2e-secret-token';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = 20_000;

function pickBinary() {
  if (process.env.REFINERY_BIN) return process.env.REFINERY_BIN;
  const candidates = ['release', 'debug']
    .map((p) => join(process.env.CARGO_TARGET_DIR || join(REPO, 'target'), p, 'refinery'))
    .filter((p) => existsSync(p));
  if (!candidates.length) throw new Error('no refinery binary: run `cargo build -p refinery` (or set REFINERY_BIN)');
  // The newest one: the one built after the UI.
  return candidates.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

const BIN = pickBinary();
const work = mkdtempSync(join(tmpdir(), 'refinery-e2e-'));
const cache = join(work, 'cache');
const children = [];
let serverLog = '';

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Spawns a process and resolves with the first match of `re` on its output. */
function spawnUntil(cmd, args, env, re, onOutput) {
  return new Promise((resolveP, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start in time:\n${seen}`)), 30_000);
    const onData = (d) => {
      const text = d.toString();
      seen += text;
      onOutput?.(text);
      const m = re.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolveP({ child, match: m });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited with ${code}:\n${seen}`));
    });
  });
}

/** Runs `cmd` to its end; resolves with its exit code and its output (stdout + stderr). */
function runToEnd(cmd, args, env, limitMs) {
  return new Promise((resolveP, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`${cmd} ${args.join(' ')} ran longer than ${limitMs} ms:\n${output}`));
    }, limitMs);
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolveP({ code, output });
    });
  });
}

let indexUrl = '';
let base = '';
let port = 0;
let server = null;

async function startIndex() {
  const dir = join(work, 'index');
  mkdirSync(dir, { recursive: true });
  const { match } = await spawnUntil('python3', [join(UI, 'e2e', 'index.py'), dir], process.env, /PORT (\d+)/);
  indexUrl = `http://127.0.0.1:${match[1]}/simple`;
}

async function startServer(onPort = 0) {
  const args = ['serve', '--cache', cache, '--host', '127.0.0.1', '--port', String(onPort), '--index-url', indexUrl];
  // Only what this test sets: no database URL, read token or automation from outside.
  const env = { ...process.env, WORKER_TOKEN: TOKEN };
  for (const k of ['AUTO_PLAN', 'AUTO_BUILD', 'DATABASE_URL', 'READ_TOKEN', 'HISTORY_DB', 'INDEX_URL', 'EXTRA_INDEX_URL', 'WORKER_WEBHOOK_URL', 'WORKER_AUTORUN_INTERVAL']) delete env[k];
  const { child, match } = await spawnUntil(BIN, args, env, /listening on http:\/\/127\.0\.0\.1:(\d+)/, (t) => {
    serverLog += t;
  });
  server = child;
  port = Number(match[1]);
  base = `http://127.0.0.1:${port}`;
}

/** Another `refinery serve` on its own cache with `env` (tokens), for the token checks. */
async function startExtraServer(name, env) {
  const dir = join(work, name);
  const base_env = { ...process.env, ...env };
  for (const k of ['AUTO_PLAN', 'AUTO_BUILD', 'DATABASE_URL', 'HISTORY_DB', 'INDEX_URL', 'EXTRA_INDEX_URL', 'WORKER_WEBHOOK_URL', 'WORKER_AUTORUN_INTERVAL']) delete base_env[k];
  for (const k of ['WORKER_TOKEN', 'READ_TOKEN']) if (!(k in env)) delete base_env[k];
  let log = '';
  const { child, match } = await spawnUntil(BIN, ['serve', '--cache', join(dir, 'cache'), '--host', '127.0.0.1', '--port', '0', '--index-url', indexUrl], base_env, /listening on http:\/\/127\.0\.0\.1:(\d+)/, (t) => {
    log += t;
  });
  return { child, base: `http://127.0.0.1:${match[1]}`, log: () => log };
}

async function stopServer() {
  if (!server) return;
  const s = server;
  server = null;
  s.removeAllListeners('exit');
  const exited = new Promise((r) => s.once('exit', r));
  s.kill('SIGTERM');
  await Promise.race([exited, sleep(5000)]);
}

// ---------------------------------------------------------------------------------------
// The API, as a client and as a fake worker.

async function http(method, path, body, { token = TOKEN, raw = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers['X-Worker-Token'] = token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (raw) return r;
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const worker = {
  id: 'e2e-worker',
  async claim() {
    const r = await http('POST', '/api/worker/claim', { worker: this.id, host: 'e2e-host', lease_secs: 300 }, { raw: true });
    if (r.status === 204) return null;
    if (!r.ok) throw new Error(`claim: ${r.status} ${await r.text()}`);
    return (await r.json()).job;
  },
  held: [],
  /** Claims until it holds the job of `pkg`; other jobs claimed on the way are kept for later. */
  async claimPackage(pkg) {
    const i = this.held.findIndex((j) => j.package === pkg);
    if (i >= 0) return this.held.splice(i, 1)[0];
    for (let n = 0; n < 20; n++) {
      const job = await this.claim();
      if (!job) throw new Error(`no job of ${pkg} to claim`);
      await this.start(job);
      if (job.package === pkg) return job;
      this.held.push(job);
    }
    throw new Error(`never claimed ${pkg}`);
  },
  start: (job) => http('POST', `/api/jobs/${job.id}/start`, { attempt: job.attempt }),
  log: (job, data) => http('POST', `/api/jobs/${job.id}/logs`, { attempt: job.attempt, data }),
  async finish(job, status, secs, hints, detail = '', learned = null) {
    const ok = status === 'built';
    await http('POST', `/api/jobs/${job.id}/history`, {
      attempt: job.attempt,
      events: [
        {
          kind: ok ? 'built' : 'failure',
          package: job.package,
          version: job.version,
          run_id: `job-${job.id}`,
          detail: detail || (ok ? `built ${job.package}-${job.version}` : 'the build failed'),
          data: {},
        },
        ...(learned
          ? [
              {
                kind: 'learned_fix',
                package: job.package,
                version: job.version,
                run_id: `job-${job.id}`,
                detail: `${job.package} builds with ${learned.packages.join(' ')}`,
                data: learned,
              },
            ]
          : []),
      ],
      attempts: [
        {
          package: job.package,
          version: job.version,
          python_tag: 'cp311',
          platform: job.platform_tag,
          variant: ok ? 'default' : 'no-isolation',
          attempt: 1,
          status: ok ? 'success' : 'failed',
          duration_secs: secs,
          log_path: null,
          hints,
          worker: this.id,
          run_id: `job-${job.id}`,
          detail: detail || (ok ? 'ok' : 'the build failed'),
        },
      ],
    });
    return http('POST', `/api/jobs/${job.id}/complete`, {
      attempt: job.attempt,
      status,
      detail: detail || (ok ? `built ${job.package}-${job.version}-py3-none-any.whl` : 'the build failed'),
      result: {
        wheel: ok ? `${job.package}-${job.version}-py3-none-any.whl` : null,
        seconds: secs,
        worker: this.id,
        run_id: `job-${job.id}-attempt-${job.attempt}`,
        metadata: {
          built_with: 'rootfs:bookworm emulated+cross',
          variant: ok ? 'default' : 'no-isolation',
          ...(VERIFIED[job.package] ? { verification: VERIFIED[job.package] } : {}),
        },
      },
    });
  },
};

/** What the seeded workers report as verification, per package (the manifest's shape). */
const VERIFIED = {
  markupsafe: {
    level: 'tests',
    duration_secs: 30.5,
    checks: [
      { name: 'install', outcome: 'passed', duration_secs: 9.1 },
      { name: 'import', outcome: 'passed', duration_secs: 2.2 },
      { name: 'smoke:markupsafe', outcome: 'passed', duration_secs: 1.9 },
      { name: 'tests:pytest', outcome: 'passed', detail: '212 passed in 14.20s', duration_secs: 17.3 },
    ],
  },
};

const LIBFFI_HINT = 'libffi: the libffi development headers are missing (dnf: libffi-devel | apt: libffi-dev)';

async function seed() {
  const builds = [
    ['six', '1.16.0', 'built', 3.2],
    ['pyyaml', '6.0.2', 'built', 41.7],
    ['markupsafe', '2.1.5', 'built', 12.9],
    ['cffi', '1.17.1', 'failed', 18.4],
    ['regex', '2024.11.6', 'built', 139.5],
  ];
  for (const [pkg, version, status, secs] of builds) {
    await http('POST', '/api/queue/enqueue', { package: pkg, version });
    const job = await worker.claim();
    await worker.start(job);
    await worker.log(job, `Building ${pkg} ${version} for cp311 manylinux2014_s390x\n`);
    if (status === 'failed') {
      await worker.log(job, 'gcc -c c/_cffi_backend.c\nc/_cffi_backend.c:15:10: fatal error: ffi.h: No such file or directory\n');
    }
    await worker.finish(
      job,
      status,
      secs,
      status === 'failed' ? [LIBFFI_HINT] : [],
      status === 'failed' ? `build failed: ffi.h: No such file or directory; hints: ${LIBFFI_HINT}` : '',
      pkg === 'pyyaml' ? { packages: ['libyaml-dev'], packs: [], env: {}, build_constraints: [], toolchain: null, variant: null, hints: ['libyaml: the headers are missing'] } : null,
    );
  }
}

/** Changes a worker's row in the SQLite queue: how long ago it was seen and its last job. */
function backdateWorker(id, agoMs, currentJob) {
  const code =
    'import sqlite3,sys,time\n' +
    'c=sqlite3.connect(sys.argv[1]);c.execute("PRAGMA busy_timeout=5000")\n' +
    'n=c.execute("UPDATE workers SET last_seen_ms=?, current_job=? WHERE id=?",(int(time.time()*1000)-int(sys.argv[3]),int(sys.argv[4]),sys.argv[2])).rowcount\n' +
    'c.commit();sys.exit(0 if n==1 else 1)';
  return new Promise((resolveP, reject) => {
    const child = spawn('python3', ['-c', code, join(cache, 'queue.db'), id, String(agoMs), String(currentJob)], { stdio: 'inherit' });
    child.on('exit', (c) => (c === 0 ? resolveP() : reject(new Error(`backdating worker ${id} failed (${c})`))));
  });
}

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1440, height: 900 };

/** Console errors and failed requests of a page while `fn` runs. */
async function consoleErrorsDuring(p, fn) {
  const errors = [];
  const onConsole = (m) => {
    if (m.type() === 'error') errors.push(`${m.text()} ${m.location()?.url ?? ''}`.trim());
  };
  const onError = (e) => errors.push(`pageerror: ${e.message}`);
  p.on('console', onConsole);
  p.on('pageerror', onError);
  try {
    await fn();
    await sleep(500);
  } finally {
    p.off('console', onConsole);
    p.off('pageerror', onError);
  }
  return errors;
}

// ---------------------------------------------------------------------------------------
// A tiny test runner.

const results = [];
let page;
let context;
let browser;

async function shot(name) {
  await page.screenshot({ path: join(ART, `${name}.png`), fullPage: true });
}

async function test(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false, error: e });
    console.log(`FAIL ${name} (${Date.now() - t0} ms)\n     ${String(e?.stack || e).split('\n').slice(0, 6).join('\n     ')}`);
    try {
      await shot(`FAILED-${name.replace(/[^a-z0-9]+/gi, '-')}`);
    } catch {
      /* no page */
    }
  }
}

function expect(cond, message) {
  if (!cond) throw new Error(message);
}

async function until(fn, message, ms = WAIT) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${message} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(150);
  }
}

/** A status badge whose text starts with `text` (badges carry a screen-reader explanation after it). */
const badge = (scope, text) => scope.locator('.badge', { hasText: new RegExp(`^${text}`) }).first();
const nav = (name) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
const toast = (text) => page.locator('.toast', { hasText: text }).first().waitFor({ timeout: WAIT });

// ---------------------------------------------------------------------------------------

async function main() {
  rmSync(ART, { recursive: true, force: true });
  mkdirSync(ART, { recursive: true });
  console.log(`refinery: ${BIN}\nwork dir: ${work}`);
  await startIndex();
  await startServer();
  const home = await (await fetch(base + '/')).text();
  if (home.includes('was not built')) {
    throw new Error(`${BIN} was compiled without the UI: run \`npm run build\` in ui/, then \`cargo build -p refinery\``);
  }
  // The binary must embed the UI as built now (index.html names the hashed bundles).
  const dist = join(UI, 'dist', 'index.html');
  if (existsSync(dist) && readFileSync(dist, 'utf8') !== home) {
    throw new Error(`${BIN} embeds an older build of the UI than ui/dist: rebuild it (cargo build -p refinery) after \`npm run build\``);
  }
  await seed();

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: !process.env.E2E_HEADED,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  // A fresh context: a new, empty profile (cookies, storage).
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));

  const reqFile = join(work, 'requirements.txt');
  writeFileSync(reqFile, 'needsbuild==1.0\nfailpkg==0.3\n');
  let inputId = 0;
  let planId = '';

  await test('dashboard shows the queue, failures with hints, slowest packages and charts', async () => {
    await page.goto(base + '/');
    await page.locator('#failures').getByText('cffi').waitFor({ timeout: WAIT });
    await page.locator('#failures').getByText('libffi-dev').first().waitFor();
    await page.locator('.stat', { hasText: 'built' }).getByText('4').waitFor();
    await page.getByRole('table', { name: 'Slowest packages' }).getByText('regex').waitFor();
    await page.getByRole('img', { name: /Finished builds over time: 4 succeeded, 1 failed/ }).waitFor();
    await page.getByRole('img', { name: /Build durations of 5 builds/ }).waitFor();
    await page.getByRole('table', { name: 'Events' }).getByText('built six-1.16.0').waitFor();
    await page.locator('#workers').getByText('e2e-worker').waitFor();
    expect((await page.locator('.badge', { hasText: 'token: not set' }).count()) === 1, 'the token badge says the token is not set');
    await shot('01-dashboard');
    await page.setViewportSize({ width: 1366, height: 768 });
    await shot('01-dashboard-laptop-1366');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await test('workers: one whose job finished is idle, one not seen for a minute is offline (never "building")', async () => {
    // A worker that last reported job 1 and then went silent (the fault: "building job 1" forever).
    const r = await http('POST', '/api/worker/claim', { worker: 'e2e-gone', host: 'old-host', lease_secs: 60 }, { raw: true });
    expect(r.status === 204, `the queue is empty after seeding (${r.status})`);
    await backdateWorker('e2e-gone', 5 * 60_000, 1);
    const { workers, liveness_window_secs } = await http('GET', '/api/workers');
    const by = Object.fromEntries(workers.map((w) => [w.id, w]));
    expect(liveness_window_secs === 60, `liveness window ${liveness_window_secs}`);
    expect(by['e2e-gone'].state === 'offline' && by['e2e-gone'].job === null, `e2e-gone: ${JSON.stringify(by['e2e-gone'])}`);
    expect(by['e2e-worker'].state === 'idle' && by['e2e-worker'].current_job !== null, `e2e-worker: ${JSON.stringify(by['e2e-worker'])}`);
    await page.goto(base + '/');
    const gone = page.locator('#workers li[data-worker="e2e-gone"]');
    await badge(gone, 'offline').waitFor();
    await badge(page.locator('#workers li[data-worker="e2e-worker"]'), 'idle').waitFor();
    expect((await page.locator('#workers').getByText(/building job/).count()) === 0, 'no worker reads "building job N"');
    await page.locator('#workers').getByText('1 worker seen in the last minute.').waitFor();
    await shot('01b-workers');
  });

  await test('one status vocabulary: the UI speaks the server glossary, the tiles count its classes', async () => {
    const { statuses } = await http('GET', '/api/statuses');
    await page.goto(base + '/builds');
    const chips = page.locator('label.chip');
    await chips.first().waitFor();
    const shown = await chips.evaluateAll((els) => els.map((e) => [e.querySelector('input')?.parentElement?.textContent?.replace(/\s*\d+\s*$/, '').trim(), e.getAttribute('title')]));
    const server = statuses.map((g) => [g.status.replace(/_/g, ' '), g.meaning]);
    expect(JSON.stringify(shown) === JSON.stringify(server), `UI statuses ${JSON.stringify(shown)}\nserver ${JSON.stringify(server)}`);
    const stats = await http('GET', '/api/queue/stats');
    const sum = Object.values(stats.by_class).reduce((a, b) => a + b, 0);
    expect(sum === stats.total, `classes cover every job: ${JSON.stringify(stats.by_class)} total ${stats.total}`);
    await page.goto(base + '/');
    for (const [label, cls] of [['built', 'built'], ['reused', 'reused'], ['failed', 'failed'], ['waiting in the queue', 'waiting']]) {
      const value = await page.locator('.stat', { has: page.getByText(label, { exact: true }) }).locator('.stat-value').textContent();
      expect(Number(value) === stats.by_class[cls], `tile "${label}" shows ${value}, the server counts ${stats.by_class[cls]}`);
    }
  });

  await test('serve says nothing about a missing dashboard when the binary embeds it', async () => {
    expect(!serverLog.includes('compiled without the web dashboard'), 'no placeholder warning for a binary with the UI');
  });

  await test('"Run worker now" is off, saying why, on a server started without --local-worker', async () => {
    await page.goto(`${base}/`);
    const stats = await http('GET', '/api/queue/stats');
    expect(stats.trigger === 'none', `the server says no drain can start here: ${stats.trigger}`);
    const button = page.getByRole('button', { name: 'Run worker now' });
    await page.locator('#trigger-why').getByText('--local-worker').waitFor();
    expect(await button.isDisabled(), 'the button is disabled');
    expect((await button.getAttribute('aria-describedby')) === 'trigger-why', 'the button points at its reason');
  });

  await test('upload without the token asks for it; the token goes into an HttpOnly cookie', async () => {
    await nav('Inputs');
    await page.getByLabel('A requirements file or a wheel').setInputFiles(reqFile);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'This action needs the worker token' });
    await dialog.waitFor({ timeout: WAIT });
    await shot('02-token-dialog');
    await dialog.getByLabel('Worker token').fill('wrong-token');
    await dialog.getByRole('button', { name: 'Save token' }).click();
    await dialog.getByText('the token is not valid').waitFor();
    await dialog.getByLabel('Worker token').fill(TOKEN);
    await dialog.getByRole('button', { name: 'Save token' }).click();
    await toast('Token saved');
    await dialog.waitFor({ state: 'hidden' });
    await page.locator('.badge', { hasText: 'token: set' }).waitFor();
    const cookie = (await context.cookies()).find((c) => c.name === 'worker_token');
    expect(cookie && cookie.httpOnly && cookie.value === TOKEN, `worker_token cookie: ${JSON.stringify(cookie)}`);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await toast('uploaded as input');
    const inputs = await http('GET', '/api/pending-inputs');
    inputId = inputs.inputs[0].id;
    expect(inputs.inputs[0].status === 'pending', 'auto plan is off: the input waits');
  });

  await test('the uploaded requirements are planned', async () => {
    const table = page.getByRole('table', { name: 'Pending inputs' });
    await badge(table, 'pending').waitFor();
    await page.getByRole('button', { name: `Enqueue input ${inputId}` }).click();
    await toast(`Input ${inputId} is being planned`);
    await badge(table, 'planned').waitFor({ timeout: WAIT });
    const input = (await http('GET', `/api/pending-inputs/${inputId}`)).input;
    planId = input.plan_id;
    expect(planId, 'the input has a plan');
    await shot('03-inputs');
  });

  await test('a wheel upload is scanned and waits as an input', async () => {
    const wheelFile = join(work, 'index', 'files', 'tinypure-2.0-py3-none-any.whl');
    await page.getByLabel('A requirements file or a wheel').setInputFiles(wheelFile);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await toast('tinypure-2.0-py3-none-any.whl uploaded as input');
    await page.getByRole('table', { name: 'Pending inputs' }).getByText('tinypure-2.0-py3-none-any.whl').waitFor();
    const inputs = (await http('GET', '/api/pending-inputs')).inputs;
    expect(inputs.some((i) => i.kind === 'wheel' && i.status === 'pending'), `inputs ${JSON.stringify(inputs)}`);
  });

  await test('the plan shows its DAG as a tree; per-node and whole-plan Enqueue', async () => {
    await nav('Inputs');
    await page.getByRole('table', { name: 'Pending inputs' }).getByRole('link', { name: planId.slice(0, 12) }).waitFor();
    await page.getByRole('table', { name: 'Pending inputs' }).getByRole('link', { name: planId.slice(0, 12) }).click();
    await page.waitForURL(`**/plans/${planId}`);
    const tree = page.getByRole('tree', { name: 'Plan graph' });
    await tree.waitFor();
    // tinypure is needed by needsbuild: it sits inside needsbuild's group.
    const needs = tree.getByRole('treeitem').filter({ has: page.locator('> details > summary', { hasText: 'needsbuild' }) });
    await needs.getByRole('group').getByRole('link', { name: /tinypure/ }).waitFor();
    // Before anything is queued, a package link leads to a page that says so.
    await tree.getByRole('link', { name: /failpkg/ }).first().click();
    await page.waitForURL('**/packages/failpkg');
    await page.getByText('not queued yet').first().waitFor();
    await page.getByRole('table', { name: 'Plans of this package' }).getByRole('button', { name: /Enqueue failpkg==0.3/ }).waitFor();
    await shot('04a-planned-package');
    await page.goBack();
    await tree.waitFor();
    await page.getByRole('button', { name: 'Enqueue failpkg==0.3' }).click();
    await toast('failpkg==0.3: 1 job queued');
    await page.getByRole('button', { name: 'Enqueue builds' }).click();
    await toast('Plan: 2 jobs queued, 1 already there.');
    // Nothing new the second time: no "N jobs queued".
    await page.getByRole('button', { name: 'Enqueue builds' }).click();
    await toast('Plan: nothing new to queue: 3 jobs already queued or finished.');
    await page.getByRole('table', { name: 'Jobs of this plan' }).locator('tbody tr').nth(2).waitFor();
    await shot('04-plan');
    // Deep link: reload keeps the page.
    await page.reload();
    await page.getByRole('tree', { name: 'Plan graph' }).waitFor();
  });

  await test('the plans list links to the plan', async () => {
    await nav('Plans');
    await page.getByRole('table', { name: 'Plans' }).getByRole('link', { name: planId.slice(0, 12) }).waitFor();
    await shot('05-plans');
  });

  let needsJob;
  await test('the builds table: filter, sort and expandable rows', async () => {
    await nav('Builds');
    const table = page.getByRole('table', { name: 'Build jobs' });
    await table.getByText('needsbuild').waitFor();
    const jobs = (await http('GET', '/api/queue?package=needsbuild')).jobs;
    needsJob = jobs[0];
    await page.getByRole('button', { name: `Show details of job ${needsJob.id} needsbuild 1.0` }).click();
    await table.locator('tr.expanded').getByText('CPython 3.11').waitFor();
    await table.locator('tr.expanded').getByRole('link', { name: planId.slice(0, 16) }).waitFor();
    await shot('06-builds');
    // Filter by status through the chips; the URL keeps it.
    await page.locator('label.chip', { hasText: 'failed' }).first().click();
    await page.waitForURL(/status=failed/);
    await table.getByText('cffi').waitFor();
    expect((await table.getByText('needsbuild').count()) === 0, 'the failed filter hides pending jobs');
    await page.getByRole('button', { name: 'all statuses' }).click();
    // A built job says how it was built.
    const regexJob = (await http('GET', '/api/queue?package=regex')).jobs[0];
    await page.getByRole('button', { name: `Show details of job ${regexJob.id} regex 2024.11.6` }).click();
    await table.locator('tr.expanded').getByText('rootfs:bookworm emulated+cross · variant default (compilers native, Python emulated)').waitFor();
    // Sorting by package.
    await table.getByRole('button', { name: /^Package/ }).click();
    expect((await table.locator('th[aria-sort="ascending"]').count()) === 1, 'the header says the table is sorted');
  });

  await test('a build log streams live over SSE; search, wrap, autoscroll, download', async () => {
    const waiting = (await http('GET', '/api/queue?package=needsbuild')).jobs[0];
    await page.goto(`${base}/logs/needsbuild/1.0?job=${waiting.id}`);
    await page.locator('.badge', { hasText: 'live' }).waitFor({ timeout: WAIT });
    const job = await worker.claimPackage('needsbuild');
    expect(job.id === waiting.id, 'the worker took the job the page shows');
    // The header follows the job while the log streams (it said "pending" before).
    await badge(page.locator('.page-head .lede'), 'building').waitFor({ timeout: WAIT });
    const w = (await http('GET', '/api/workers')).workers.find((x) => x.id === worker.id);
    expect(w.state === 'building' && w.job === job.id, `the worker builds job ${job.id}: ${JSON.stringify(w)}`);
    // The guide's spellings of the log endpoints answer like today's.
    const aliasChunks = await http('GET', '/api/logs/chunks/needsbuild/1.0');
    const chunks = await http('GET', '/api/logs/needsbuild/1.0/chunks');
    expect(aliasChunks.job_id === job.id && JSON.stringify(aliasChunks) === JSON.stringify(chunks), 'the chunks alias answers like the chunks path');
    const ctl = new AbortController();
    const stream = await fetch(`${base}/api/logs/stream?package=needsbuild&version=1.0`, { headers: { 'X-Worker-Token': TOKEN }, signal: ctl.signal });
    expect(stream.status === 200 && (stream.headers.get('content-type') ?? '').startsWith('text/event-stream'), `the stream alias: ${stream.status} ${stream.headers.get('content-type')}`);
    ctl.abort();
    const bad = await http('GET', '/api/logs/stream', undefined, { raw: true });
    expect(bad.status === 400 && (await bad.text()).includes('?job=ID'), 'the stream alias says what it needs');
    await worker.log(job, 'Collecting build dependencies\nwarning: setuptools is old\n');
    await page.locator('.log-line', { hasText: 'warning: setuptools is old' }).waitFor({ timeout: WAIT });
    for (let i = 1; i <= 40; i++) await worker.log(job, `compiling step ${i}\n`);
    await page.locator('.log-line', { hasText: 'compiling step 40' }).waitFor({ timeout: WAIT });
    expect((await page.locator('.badge', { hasText: 'live' }).count()) === 1, 'still live while the job runs');
    await shot('07-log-live');
    // Search with highlight.
    await page.getByLabel('Search the log').fill('step 3');
    await page.locator('.match-count', { hasText: '11 matching lines' }).waitFor();
    await page.getByRole('button', { name: 'Next match' }).click();
    await page.locator('.log-line.current mark', { hasText: 'step 3' }).waitFor();
    await page.waitForURL(/q=step/);
    // Wrap and autoscroll toggles.
    await page.getByLabel('Wrap lines').check();
    await page.locator('.log-scroll.wrap').waitFor();
    expect(!(await page.getByLabel('Autoscroll').isChecked()), 'jumping to a match turned autoscroll off');
    await page.getByLabel('Autoscroll').check();
    await worker.log(job, 'Successfully built needsbuild-1.0-py3-none-any.whl\n');
    await page.locator('.log-line', { hasText: 'Successfully built' }).waitFor();
    await worker.finish(job, 'built', 7.5, []);
    await page.locator('.badge', { hasText: 'built' }).first().waitFor({ timeout: WAIT });
    await shot('08-log-finished');
    // Download.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download' }).click()]);
    const saved = join(work, 'downloaded.log');
    await download.saveAs(saved);
    const text = readFileSync(saved, 'utf8');
    expect(download.suggestedFilename() === `needsbuild-1.0-job${job.id}.log`, `file name ${download.suggestedFilename()}`);
    expect(text.includes('compiling step 40\n') && text.includes('Successfully built'), 'the download holds the whole log');
  });

  await test('retry a failed package with the recipe its hints suggest', async () => {
    const job = await worker.claimPackage('failpkg');
    await worker.log(job, 'running build_ext\nfailpkg.c:3:10: fatal error: ffi.h: No such file or directory\nerror: command gcc failed\n');
    await worker.finish(job, 'failed', 9.1, [LIBFFI_HINT], `build failed: ffi.h: No such file or directory; hints: ${LIBFFI_HINT}`);
    await page.goto(`${base}/packages/failpkg`);
    await page.getByRole('heading', { name: 'failpkg' }).waitFor();
    await page.getByRole('heading', { name: 'Recent failures' }).waitFor();
    const form = page.getByRole('form', { name: 'Retry failpkg with a recipe' });
    await until(async () => (await form.getByLabel('System packages to install first').inputValue()) === 'libffi-dev', 'the retry form suggests libffi-dev');
    await shot('09-package');
    await form.getByRole('button', { name: 'Retry with recipe' }).click();
    await toast('failpkg 0.3 queued as job');
    const jobs = (await http('GET', '/api/queue?package=failpkg')).jobs;
    const newest = jobs.sort((a, b) => b.id - a.id)[0];
    expect(newest.status === 'pending' && newest.id !== job.id, `a new pending job: ${JSON.stringify(newest)}`);
    expect(JSON.stringify(newest.recipe.system_packages) === '["libffi-dev"]', `recipe ${JSON.stringify(newest.recipe)}`);
  });

  await test('package tabs are addressable and survive a reload', async () => {
    await page.getByRole('tab', { name: /Events/ }).click();
    await page.waitForURL(/tab=events/);
    await page.reload();
    await page.getByRole('tab', { name: /Events/, selected: true }).waitFor();
    await page.getByRole('table', { name: 'Events' }).getByText('failure').first().waitFor();
    await shot('10-package-events');
    await page.getByRole('tab', { name: /Hints/ }).click();
    await page.getByRole('tabpanel').getByText('apt-get install libffi-dev').waitFor();
    await shot('11-package-hints');
  });

  await test('"Run worker now" stays off with the token; the API refuses the trigger the same way', async () => {
    await page.goto(`${base}/`);
    await page.locator('#trigger-why').waitFor();
    expect(await page.getByRole('button', { name: 'Run worker now' }).isDisabled(), 'still disabled with the token');
    const r = await http('POST', '/api/worker/trigger', undefined, { raw: true });
    expect(r.status === 409 && (await r.text()).includes('no worker runs in this process'), `trigger: ${r.status}`);
  });

  await test('bulk retry from the builds table', async () => {
    await page.goto(`${base}/builds?status=failed`);
    const table = page.getByRole('table', { name: 'Build jobs' });
    await table.getByText('cffi').waitFor();
    const cffi = (await http('GET', '/api/queue?package=cffi')).jobs[0];
    await page.getByLabel(`Select job ${cffi.id} cffi 1.17.1`).check();
    await page.getByRole('button', { name: 'Retry selected' }).click();
    await toast('1 job back in the queue');
    const after = (await http('GET', `/api/jobs/${cffi.id}`)).job;
    expect(['retry', 'pending'].includes(after.status), `cffi is ${after.status}`);
    // Clear one finished job.
    await page.goto(`${base}/builds?status=built&q=six`);
    const six = (await http('GET', '/api/queue?package=six')).jobs[0];
    await page.getByLabel(`Select job ${six.id} six 1.16.0`).check();
    await page.getByRole('button', { name: 'Clear selected' }).click();
    await toast('1 job cleared');
    // Gone from the list, not from the queue: its result and log stay.
    await page.getByRole('table', { name: 'Build jobs' }).getByText('No job matches the filter.').waitFor();
    const kept = (await http('GET', `/api/jobs/${six.id}`)).job;
    expect(kept.status === 'built' && kept.cleared_ms, `job ${six.id} is cleared, not deleted: ${JSON.stringify(kept)}`);
  });

  await test('hints: search the catalog and add a hint', async () => {
    await nav('Hints');
    const table = page.getByRole('table', { name: 'Hints' });
    await table.getByText('libffi', { exact: true }).waitFor();
    await page.getByLabel('Search hints').fill('openssl');
    await page.waitForURL(/q=openssl/);
    await until(async () => (await table.locator('tbody tr').count()) >= 1 && (await table.getByText('libffi', { exact: true }).count()) === 0, 'the search filters the catalog');
    await page.getByLabel('Log pattern (regular expression)').fill('gdbm\\.h: No such file');
    await page.getByLabel('System packages').fill('libgdbm-dev');
    await page.getByLabel('Note for people').fill('the gdbm headers are missing');
    await page.getByRole('button', { name: 'Add hint' }).click();
    await toast('Hint added');
    await page.getByLabel('Search hints').fill('gdbm');
    await table.getByText('user-1').waitFor();
    await shot('12-hints');
    const hints = await http('GET', '/api/hints');
    expect(hints.user.length === 1 && hints.user[0].packages[0] === 'libgdbm-dev', 'the hint is stored');
    // An added hint is changed in place, then deleted.
    await page.getByRole('button', { name: 'Edit hint user-1' }).click();
    await page.getByRole('heading', { name: 'Change hint user-1' }).waitFor();
    await page.getByLabel('System packages').fill('libgdbm-dev libgdbm-compat-dev');
    await page.getByRole('button', { name: 'Save hint' }).click();
    await toast('Hint user-1 saved');
    await table.getByText('libgdbm-dev libgdbm-compat-dev').waitFor();
    const changed = await http('GET', '/api/hints');
    expect(changed.user.length === 1 && changed.user[0].id === hints.user[0].id && changed.user[0].packages.length === 2, 'the hint is changed in place');
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete hint user-1' }).click();
    await toast('Hint user-1 deleted');
    await table.getByText('user-1').waitFor({ state: 'detached' });
    expect((await http('GET', '/api/hints')).user.length === 0, 'the hint is deleted');
  });

  await test('settings: auto plan and auto build switches change the server', async () => {
    await nav('Settings');
    await page.getByText('A valid worker token is stored').waitFor();
    await page.locator('label.switch', { hasText: 'Auto plan' }).click();
    await toast('Auto plan on');
    await page.locator('label.switch', { hasText: 'Auto build' }).click();
    await toast('auto build on');
    expect(await page.getByRole('switch', { name: /Auto build/ }).isChecked(), 'the auto build switch is on');
    const s = await http('GET', '/api/settings');
    expect(s.auto_plan === true && s.auto_build === true, `settings ${JSON.stringify(s)}`);
    await shot('13-settings');
    // With both on, a pasted upload ends as queued builds by itself.
    await nav('Inputs');
    await page.getByLabel('…or paste requirements').fill('tinypure==2.0');
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await toast('planning started');
    await badge(page.getByRole('table', { name: 'Pending inputs' }), 'build queued').waitFor({ timeout: WAIT });
  });

  await test('a 100,000-line log stays responsive', async () => {
    await http('POST', '/api/queue/enqueue', { package: 'biglog', version: '1.0', priority: 100 });
    const job = await worker.claimPackage('biglog');
    let chunk = '';
    for (let i = 1; i <= 100_000; i++) {
      chunk += i % 10_000 === 0 ? `line ${i}: error: something broke here\n` : `line ${i}: gcc -O2 -fPIC -c src/module_${i % 500}.c -o build/module_${i % 500}.o\n`;
      if (i % 3000 === 0 || i === 100_000) {
        await worker.log(job, chunk);
        chunk = '';
      }
    }
    await worker.finish(job, 'failed', 300, [], 'failed after a long log');
    const t0 = Date.now();
    await page.goto(`${base}/logs/biglog/1.0?job=${job.id}`);
    await page.locator('.log-count', { hasText: '100,000 lines' }).waitFor({ timeout: 60_000 });
    const loadMs = Date.now() - t0;
    const rendered = await page.locator('.log-line').count();
    expect(rendered < 400, `only a window is rendered (${rendered} line elements)`);
    const t1 = Date.now();
    await page.getByLabel('Search the log').fill('error: something');
    await page.locator('.match-count', { hasText: '10 matching lines' }).waitFor({ timeout: 10_000 });
    const searchMs = Date.now() - t1;
    // Enter steps through the matches from what is on screen (the end), then wraps around.
    await page.getByLabel('Search the log').press('Enter');
    await page.locator('.log-line.current', { hasText: 'line 100000: error' }).waitFor();
    await page.getByLabel('Search the log').press('Enter');
    await page.locator('.log-line.current', { hasText: 'line 10000: error' }).waitFor();
    // Scrolling to the top renders the first lines.
    const t2 = Date.now();
    await page.locator('.log-scroll').evaluate((el) => {
      el.scrollTop = 0;
    });
    await page.locator('.log-line[data-line="1"]').waitFor();
    const scrollMs = Date.now() - t2;
    await page.getByLabel('Wrap lines').check();
    await page.locator('.log-line[data-line="1"]').waitFor();
    await shot('14-log-100k');
    console.log(`     100k lines: loaded in ${loadMs} ms, search ${searchMs} ms, scroll ${scrollMs} ms, ${rendered} rows in the DOM`);
    expect(searchMs < 4000, `search took ${searchMs} ms`);
    expect(scrollMs < 3000, `scroll took ${scrollMs} ms`);
  });

  await test('the package timeline lists plan, jobs, attempts and hints in order', async () => {
    await page.goto(`${base}/packages/failpkg?tab=timeline`);
    const tl = page.getByRole('list', { name: 'Automation timeline' });
    await tl.locator('li[data-kind="attempt"]').first().waitFor();
    const kinds = await tl.locator('li').evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')));
    expect(kinds.indexOf('queued') < kinds.indexOf('attempt'), `queued before the attempt: ${kinds}`);
    await tl.locator('li[data-kind="attempt"]', { hasText: 'libffi' }).first().waitFor();
    await badge(tl.locator('li[data-kind="attempt"]').first(), 'failed').waitFor();
    await shot('10b-package-timeline');
  });

  await test('builds rows show the run id the worker reported', async () => {
    const regexJob = (await http('GET', '/api/queue?package=regex')).jobs[0];
    await page.goto(`${base}/builds?q=regex`);
    await page.getByRole('table', { name: 'Build jobs' }).getByText(`job-${regexJob.id}-attempt-${regexJob.attempt}`).waitFor();
  });

  await test('Packages and the plan graph use the Builds words; reused-only packages are listed', async () => {
    // The uploaded wheel, planned and enqueued: its package is only ever reused.
    const wheelInput = (await http('GET', '/api/pending-inputs')).inputs.find((i) => i.kind === 'wheel');
    await http('POST', `/api/pending-inputs/${wheelInput.id}/enqueue-plan?wait=true`);
    const planned = (await http('GET', `/api/pending-inputs/${wheelInput.id}`)).input;
    const enq = await http('POST', `/api/plans/${planned.plan_id}/enqueue-builds`);
    expect(enq.jobs.some((j) => j.package === 'tinypure' && j.status === 'reused'), `a reused job: ${JSON.stringify(enq.jobs.map((j) => [j.package, j.status]))}`);
    // Its input's only job ended at once (reused): the input no longer reads "build queued".
    await page.goto(`${base}/inputs`);
    await badge(page.getByRole('table', { name: 'Pending inputs' }).locator('tr', { hasText: 'tinypure-2.0-py3-none-any.whl' }), 'builds done').waitFor();
    const enqueueEvents = (await http('GET', '/api/events?kind=enqueue&limit=100')).events;
    expect(enqueueEvents.length && enqueueEvents.every((e) => /^(1 job|(0|[2-9]|\d\d+) jobs) from plan /.test(e.detail)), `enqueue events pluralize: ${enqueueEvents.map((e) => e.detail).join(' | ')}`);
    const { packages } = await http('GET', '/api/packages');
    const by = Object.fromEntries(packages.map((p) => [p.package, p]));
    expect(by.six.status === 'built' && by.cffi.status !== 'success', `package words: ${JSON.stringify(packages.map((p) => [p.package, p.status]))}`);
    expect(packages.every((p) => p.status !== 'success'), 'no attempt word "success" in Packages');
    await page.goto(`${base}/packages?q=tinypure`);
    const table = page.getByRole('table', { name: 'Packages' });
    await badge(table.locator('tr', { hasText: 'tinypure' }), by.tinypure.status.replace(/_/g, ' ')).waitFor();
    await page.goto(`${base}/packages?q=markupsafe`);
    await badge(table.locator('tr', { hasText: 'markupsafe' }), 'built').waitFor();
    // How far its verification went, from its job's result; a dash where nothing says.
    await badge(table.locator('tr', { hasText: 'markupsafe' }), 'tests · passed').waitFor();
    expect(by.markupsafe.verification?.level === 'tests' && by.markupsafe.verification?.outcome === 'passed', `verification: ${JSON.stringify(by.markupsafe)}`);
    expect(by.six.verification == null, `six has no verification: ${JSON.stringify(by.six)}`);
    expect((await table.getByText('success').count()) === 0, 'Packages never says "success"');
    // Builds over time counts builds only: the reused job is not one.
    const jobs = (await http('GET', '/api/queue?limit=1000')).jobs;
    const built = jobs.filter((j) => j.status === 'built').length;
    const failedBuilds = jobs.filter((j) => ['failed', 'system_recipe_failed', 'broken'].includes(j.status) && j.started_ms).length;
    await page.goto(`${base}/`);
    await page.getByRole('img', { name: `Finished builds over time: ${built} succeeded, ${failedBuilds} failed` }).waitFor();
    // A built node whose re-run was cancelled still reads "built" in the plan graph.
    const node = `needsbuild==1.0`;
    const again = await http('POST', `/api/plans/${planId}/enqueue-build`, { node });
    expect(again.created === 1, `a new job for the re-run: ${JSON.stringify(again)}`);
    const rerun = again.jobs.find((j) => j.package === 'needsbuild');
    await http('POST', `/api/jobs/${rerun.id}/cancel`);
    await page.goto(`${base}/plans/${planId}`);
    const row = page.locator(`.tree-node[data-node="${node}"]`).first();
    await row.waitFor();
    await badge(row, 'built').waitFor();
    expect((await row.locator('.badge', { hasText: /^cancelled/ }).count()) === 0, 'the graph does not say cancelled for a built package');
  });

  await test('hints: the server validates patterns (Rust syntax); a catalog hint with (?i) can be copied and saved', async () => {
    await page.goto(`${base}/hints?q=big-endian`);
    await page.getByRole('button', { name: 'Edit a copy of hint big-endian' }).click();
    const field = page.getByLabel('Log pattern (regular expression)');
    expect((await field.inputValue()).startsWith('(?i)'), 'the copy keeps (?i)');
    await page.getByLabel('Note for people').fill('little-endian assumption (copy)');
    await until(async () => (await field.getAttribute('aria-invalid')) === 'false', 'the server accepts (?i)');
    await page.getByRole('button', { name: 'Add hint' }).click();
    await toast('Hint added');
    const hints = await http('GET', '/api/hints');
    expect(hints.user.some((h) => h.pattern.startsWith('(?i)(unsupported|unknown)')), 'the copy is stored');
    // Lookahead: JavaScript accepts it, Rust's regex does not; the page says what the server says.
    await field.fill('ffi\\.h(?=: No such file)');
    const check = await http('GET', `/api/hints/validate?pattern=${encodeURIComponent('ffi\\.h(?=: No such file)')}`);
    expect(check.valid === false && /look-?around|look-ahead/i.test(check.message), `the server refuses lookahead: ${JSON.stringify(check)}`);
    await page.locator('#pattern-help', { hasText: check.message.slice(0, 60) }).waitFor();
    expect(await page.getByRole('button', { name: 'Add hint' }).isDisabled(), 'a refused pattern cannot be saved');
    await shot('12b-hint-lookahead');
    await field.fill('');
  });

  await test('auto-saved hints (learned fixes) are on the Hints page', async () => {
    await page.goto(`${base}/hints`);
    const table = page.getByRole('table', { name: 'Auto-saved hints' });
    await table.getByText('system packages libyaml-dev').waitFor();
    await table.getByRole('link', { name: /pyyaml/ }).waitFor();
  });

  await test('keyboard: Space on the Auto plan / Auto build switches keeps the focus on the switch', async () => {
    await nav('Settings');
    for (const name of ['Auto plan', 'Auto build']) {
      const sw = page.getByRole('switch', { name: new RegExp(name) });
      const before = await sw.isChecked();
      await sw.focus();
      await page.keyboard.press('Space');
      await toast(`Auto plan ${name === 'Auto plan' ? (before ? 'off' : 'on') : ''}`);
      await until(async () => (await sw.isChecked()) !== before, `${name} changed`);
      const focused = await page.evaluate(() => document.activeElement?.closest('label')?.textContent ?? document.activeElement?.tagName);
      expect(focused.includes(name), `${name}: the focus is on "${focused}"`);
      // The switch ignores presses while its change is being saved (aria-busy): wait.
      await until(async () => (await sw.getAttribute('aria-busy')) !== 'true', `${name} saved`);
      await page.keyboard.press('Space');
      await until(async () => (await sw.isChecked()) === before, `${name} changed back`);
      await until(async () => (await sw.getAttribute('aria-busy')) !== 'true', `${name} saved again`);
      const still = await page.evaluate(() => document.activeElement?.closest('label')?.textContent ?? document.activeElement?.tagName);
      expect(still.includes(name), `${name}: the focus stays on the switch ("${still}")`);
    }
  });

  const pages = () => [
    ['dashboard', '/'],
    ['inputs', '/inputs'],
    ['plans', '/plans'],
    ['plan', `/plans/${planId}`],
    ['builds', '/builds'],
    ['packages', '/packages'],
    ['package', '/packages/failpkg'],
    ['package-timeline', '/packages/failpkg?tab=timeline'],
    ['hints', '/hints'],
    ['log', '/logs/needsbuild/1.0'],
    ['settings', '/settings'],
    ['not-found', '/no/such/page'],
  ];

  await test('no page scrolls sideways at 390 px or 1440 px; tables stay readable on a phone', async () => {
    const wide = [];
    for (const size of [PHONE, DESKTOP]) {
      await page.setViewportSize(size);
      for (const [name, path] of pages()) {
        await page.goto(base + path);
        await page.locator('main h1').first().waitFor();
        await page.locator('[aria-busy="true"]').first().waitFor({ state: 'detached', timeout: 5000 }).catch(() => {});
        await sleep(300);
        const { scroll, view } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, view: window.innerWidth }));
        if (scroll > view) wide.push(`${name} at ${size.width}: ${scroll} px`);
        await shot(`layout-${size.width}-${name}`);
      }
    }
    expect(!wide.length, `pages wider than the screen: ${wide.join('; ')}`);
    // On a phone the Builds status is on screen, and no cell squeezes text letter by letter.
    await page.setViewportSize(PHONE);
    await page.goto(`${base}/builds`);
    const status = page.getByRole('table', { name: 'Build jobs' }).locator('td[data-label="Status"]').first();
    await status.waitFor();
    const box = await status.boundingBox();
    expect(box && box.x >= 0 && box.x + box.width <= PHONE.width, `the Status cell is on screen: ${JSON.stringify(box)}`);
    const narrow = await page.locator('td[data-label]').evaluateAll((tds) => tds.filter((td) => td.getBoundingClientRect().width < 120).length);
    expect(narrow === 0, `${narrow} table cells narrower than 120 px on a phone`);
    // The Menu button keeps a light label on the dark header after a tap.
    const menu = page.getByRole('button', { name: 'Menu' });
    await menu.tap().catch(() => menu.click());
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Builds', exact: true }).waitFor();
    const colors = await menu.evaluate((el) => {
      const cs = getComputedStyle(el);
      return { color: cs.color, bg: cs.backgroundColor };
    });
    expect(colors.color === 'rgb(255, 255, 255)' && !/rgb\(2[0-5]\d, 2[0-5]\d, 2[0-5]\d\)/.test(colors.bg), `menu label ${colors.color} on ${colors.bg}`);
    await shot('layout-390-menu-open');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await test('no console errors on any page load, with the worker token and without', async () => {
    const loadAll = async (p) => {
      for (const [, path] of pages()) {
        if (path === '/no/such/page') continue;
        await p.goto(base + path);
        await p.locator('main h1').first().waitFor();
        await sleep(400);
      }
    };
    const withToken = await consoleErrorsDuring(page, () => loadAll(page));
    expect(!withToken.length, `with the token: ${withToken.join(' | ')}`);
    const fresh = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const anon = await fresh.newPage();
    const without = await consoleErrorsDuring(anon, () => loadAll(anon));
    expect((await anon.getByRole('dialog').count()) === 0 || !(await anon.getByRole('dialog').isVisible()), 'no token dialog on page loads');
    await fresh.close();
    expect(!without.length, `without a token: ${without.join(' | ')}`);
  });

  await test('a server with a read token: no dialog on page loads with it, a clear one without, no console errors', async () => {
    const READ = 'e2e-read-token-0123456789';
    const extra = await startExtraServer('readtoken', { WORKER_TOKEN: TOKEN, READ_TOKEN: READ });
    const noTok = await startExtraServer('notoken', {});
    try {
      // Without a cookie: one dialog that asks for a token to read, and no 401 in the console.
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const p = await ctx.newPage();
      const errs = await consoleErrorsDuring(p, async () => {
        await p.goto(extra.base + '/');
        await p.getByRole('dialog', { name: 'This page needs a token' }).waitFor({ timeout: WAIT });
      });
      expect(!errs.length, `console errors before the token: ${errs.join(' | ')}`);
      await p.screenshot({ path: join(ART, '17-read-token-dialog.png') });
      await p.getByRole('dialog').getByLabel('Token').fill(READ);
      await p.getByRole('dialog').getByRole('button', { name: 'Save token' }).click();
      await p.getByRole('dialog').waitFor({ state: 'hidden' });
      await p.locator('.badge', { hasText: 'token: read-only' }).waitFor();
      // With the read token stored: plain page loads open no dialog and log nothing red.
      const errs2 = await consoleErrorsDuring(p, async () => {
        for (const path of ['/', '/builds', '/packages', '/hints', '/settings', '/inputs']) {
          await p.goto(extra.base + path);
          await p.locator('main h1').first().waitFor();
          await sleep(400);
          expect(!(await p.getByRole('dialog').isVisible()), `no token dialog on ${path}`);
        }
      });
      expect(!errs2.length, `console errors with the read token: ${errs2.join(' | ')}`);
      await ctx.close();
      // A server without tokens: no 400 from the token probe.
      const ctx2 = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const p2 = await ctx2.newPage();
      const errs3 = await consoleErrorsDuring(p2, async () => {
        await p2.goto(noTok.base + '/');
        await p2.locator('.badge', { hasText: 'no token needed' }).waitFor();
      });
      expect(!errs3.length, `console errors without tokens: ${errs3.join(' | ')}`);
      await ctx2.close();
    } finally {
      extra.child.kill('SIGTERM');
      noTok.child.kill('SIGTERM');
    }
  });

  await test('unknown routes show a not-found page; unknown packages too', async () => {
    await page.goto(`${base}/no/such/page`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    await page.getByText('/no/such/page').waitFor();
    await shot('15-not-found');
    await page.goto(`${base}/packages/never-heard-of-it`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    await page.getByText('There is no package “never-heard-of-it”').waitFor();
  });

  await test('"Clear finished" tidies the Builds list only: tiles, inputs and plans still say what happened', async () => {
    const before = await http('GET', '/api/queue/stats');
    const planJobs = (await http('GET', `/api/plans/${planId}`)).jobs.length;
    await page.goto(`${base}/inputs`);
    const inputs = page.getByRole('table', { name: 'Pending inputs' });
    const wheelRow = inputs.locator('tr', { hasText: 'tinypure-2.0-py3-none-any.whl' });
    await badge(wheelRow, 'builds done').waitFor();
    await page.goto(`${base}/builds`);
    const table = page.getByRole('table', { name: 'Build jobs' });
    const regex = table.getByRole('link', { name: 'regex', exact: true });
    await regex.waitFor();
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Clear finished' }).click();
    await toast('cleared from the Builds list');
    await until(async () => (await regex.count()) === 0, 'finished jobs leave the list');
    const after = await http('GET', '/api/queue/stats');
    expect(JSON.stringify(after.by_class) === JSON.stringify(before.by_class) && after.total === before.total, `counts unchanged: ${JSON.stringify(before.by_class)} → ${JSON.stringify(after.by_class)}`);
    expect(after.cleared > 0, `some jobs cleared: ${after.cleared}`);
    await page.goto(`${base}/`);
    const built = await page.locator('.stat', { has: page.getByText('built', { exact: true }) }).locator('.stat-value').textContent();
    expect(Number(built) === before.by_class.built, `the built tile shows ${built}, not 0`);
    await page.goto(`${base}/inputs`);
    await badge(wheelRow, 'builds done').waitFor();
    expect((await http('GET', `/api/plans/${planId}`)).jobs.length === planJobs, 'the plan keeps its jobs');
    // The list shows them again on request.
    await page.goto(`${base}/builds?cleared=shown`);
    await regex.waitFor();
    await shot('17-cleared-shown');
  });

  await test('the API going down shows a banner; Retry brings the page back', async () => {
    await page.goto(`${base}/`);
    await page.locator('#failures').getByText('cffi').waitFor();
    await stopServer();
    const banner = page.getByRole('alert').filter({ hasText: 'The refinery API is not answering' });
    await banner.waitFor({ timeout: WAIT });
    // What was loaded stays on screen.
    expect((await page.locator('#failures').getByText('cffi').count()) > 0, 'the last data stays visible');
    await shot('16-api-down');
    await startServer(port);
    await page.getByRole('button', { name: 'Retry now' }).click();
    await banner.waitFor({ state: 'hidden', timeout: WAIT });
    await page.locator('.badge', { hasText: 'API ok' }).waitFor();
  });

  // Issue 19: every run appears the same way. A real CLI run (it builds clitiny for s390x,
  // emulated, in the shared environments; it reuses tinypure) over its own cache, then
  // `refinery serve` on that cache.
  await test('a CLI run shows in serve on its cache: the plan, the built tile, Builds over time', async () => {
    const dir = join(work, 'cli');
    const input = join(dir, 'input');
    mkdirSync(input, { recursive: true });
    writeFileSync(join(input, 'requirements.txt'), 'clitiny==1.0\ntinypure==2.0\n');
    const envs = process.env.REFINERY_ENVS_DIR || join(process.env.HOME || '/root', '.cache/refinery/envs');
    const env = { ...process.env, REFINERY_ENVS_DIR: envs };
    for (const k of ['DATABASE_URL', 'HISTORY_DB', 'INDEX_URL', 'EXTRA_INDEX_URL', 'PLAN_OVERRIDES_JSON']) delete env[k];
    const args = ['--input', input, '--output', join(dir, 'out'), '--cache', join(dir, 'cache'), '--index-url', indexUrl, '--python', '3.11', '--max-attempts', '1'];
    const run = await runToEnd(BIN, args, env, 600_000);
    expect(run.code === 0, `the CLI run failed (it needs the s390x environments in ${envs}: refinery env create --python 3.11):\n${run.output}`);
    const cli = await startExtraServer('cli', {});
    try {
      await page.goto(`${cli.base}/plans`);
      const plans = page.getByRole('table', { name: 'Plans' });
      // Skeleton rows stand in while the page loads: count the plans' own rows.
      const rows = plans.locator('tbody tr:not(.skeleton-row)');
      await rows.first().waitFor();
      expect((await rows.count()) === 1, 'one plan: the CLI run\'s');
      expect((await page.getByText('No plans yet').count()) === 0, 'Plans is not empty');
      await page.goto(`${cli.base}/`);
      await page.locator('.stat', { has: page.getByText('built', { exact: true }) }).locator('.stat-value', { hasText: /^1$/ }).waitFor();
      await page.locator('.stat', { has: page.getByText('reused', { exact: true }) }).locator('.stat-value', { hasText: /^1$/ }).waitFor();
      await page.getByRole('img', { name: 'Finished builds over time: 1 succeeded, 0 failed' }).waitFor();
      expect((await page.getByText('No finished builds yet').count()) === 0, 'Builds over time is not empty');
      await shot('cli-run-dashboard');
    } finally {
      // Off its pages first: their polls would fail once it is gone.
      await page.goto(`${base}/`);
      cli.child.kill('SIGTERM');
    }
  });

  await test('no uncaught errors in the page', async () => {
    expect(pageErrors.length === 0, `page errors: ${pageErrors.join(' | ')}`);
  });
}

// Interrupted: stop what we started.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const c of children) {
      try {
        c.kill('SIGTERM');
      } catch {
        /* gone */
      }
    }
    process.exit(130);
  });
}

let fatal = null;
try {
  await main();
} catch (e) {
  fatal = e;
  console.log(`FAIL setup: ${e?.stack || e}`);
} finally {
  try {
    await browser?.close();
  } catch {
    /* gone */
  }
  await stopServer();
  for (const c of children) {
    try {
      c.kill('SIGTERM');
    } catch {
      /* gone */
    }
  }
  try {
    writeFileSync(join(ART, 'serve.log'), serverLog);
  } catch {
    /* no artifacts folder */
  }
  const failed = results.filter((r) => !r.ok).length + (fatal ? 1 : 0);
  const passed = results.filter((r) => r.ok).length;
  if (!failed) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work} for a look`);
  console.log(`screenshots: ${ART}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
