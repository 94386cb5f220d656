import { useMemo, useState, type FormEvent } from 'react';
import { ApiError } from '../lib/api';
import { useActions } from '../lib/actions';
import { useApi } from '../lib/hooks';
import { ATTEMPT_TIME, attemptStatus, fmtDuration, fmtIso, fmtTime, jobDurationSecs, packagesFromHint, verificationBadge, verificationChecks, WALL_TIME, type VerificationCheck } from '../lib/format';
import { normalizeName, representativeJob } from '../lib/plan';
import { timeline, type Step, type StepKind } from '../lib/timeline';
import { Link, logPath, packagePath, useQueryParam } from '../lib/router';
import { filterRows } from '../lib/table';
import type { AttemptRow, EventRow, EventsPage, Job, PackageDetail as Detail, PackagesReply, PackageSummary, QueueList, Recipe } from '../lib/types';
import { Card, ErrorBox, Skeleton, Stat, StatusBadge, TabPanel, Tabs } from '../components/ui';
import { DataTable } from '../components/DataTable';
import { EventsTable } from './Dashboard';
import { NotFound } from './NotFound';
import { notQueuedYet, PackagePlans, PlannedLede } from './PackagePlans';

/**
 * Whether a row's badge needs the checks behind it: `/api/packages` says only the level and
 * that no check failed, and above `import` a check may have been skipped (nothing in the
 * smoke-test catalog) rather than passed.
 */
function needsChecks(p: PackageSummary): boolean {
  return !!p.verification && p.verification.outcome === 'passed' && p.verification.level !== 'import';
}

/**
 * The verification checks behind a row's badge, from where the server took the badge
 * (crates/refinery-server/src/package_status.rs): its job's result, else the newest
 * `verified` event of its version. `null` when the page has neither.
 */
export function rowChecks(
  row: Pick<PackageSummary, 'package' | 'version' | 'job'>,
  jobs: ReadonlyMap<number, Job>,
  events: readonly EventRow[],
): VerificationCheck[] | null {
  const job = row.job !== null ? jobs.get(row.job) : undefined;
  const fromJob = job ? verificationChecks(job.result) : null;
  if (fromJob) return fromJob;
  const name = normalizeName(row.package);
  const event = events
    .filter((e) => e.kind === 'verified' && e.package && normalizeName(e.package) === name && e.version === row.version)
    .reduce<EventRow | undefined>((a, e) => (!a || e.id > a.id ? e : a), undefined);
  return event ? verificationChecks(event.data) : null;
}

export function Packages() {
  const [q, setQ] = useQueryParam('q');
  const packages = useApi<PackagesReply>('/api/packages?limit=1000', 10000);
  // The checks behind "passed" above `import`, only when a row needs them.
  const needy = useMemo(() => (packages.data?.packages ?? []).filter(needsChecks), [packages.data]);
  const queue = useApi<QueueList>(needy.length ? '/api/queue?limit=1000' : null, 10000);
  const jobs = useMemo(() => new Map((queue.data?.jobs ?? []).map((j) => [j.id, j])), [queue.data]);
  const eventsWanted = needy.length > 0 && (queue.data !== undefined || queue.error !== undefined) && needy.some((p) => rowChecks(p, jobs, []) === null);
  const verified = useApi<EventsPage>(eventsWanted ? '/api/events?kind=verified&limit=1000' : null, 10000);
  const badges = useMemo(() => {
    const m = new Map<string, ReturnType<typeof verificationBadge>>();
    for (const p of packages.data?.packages ?? []) {
      m.set(p.package, verificationBadge(p.verification, needsChecks(p) ? rowChecks(p, jobs, verified.data?.events ?? []) : null));
    }
    return m;
  }, [packages.data, jobs, verified.data]);
  const rows = useMemo(() => filterRows(packages.data?.packages ?? [], q, (p) => [p.package, p.version, p.status]), [packages.data, q]);
  return (
    <div className="page">
      <div className="page-head">
        <h1>Packages</h1>
        <p className="lede">Every package the refinery has built, reused, cached or found missing, in the same words as Builds, with how far its verification on s390x went. Open one for its timeline, attempts, hints and a retry.</p>
      </div>
      <Card
        title="Packages"
        actions={
          <label className="field inline">
            <span className="sr-only">Filter packages</span>
            <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="Filter…" aria-label="Filter packages" />
          </label>
        }
      >
        {packages.error && !packages.data ? <ErrorBox error={packages.error} what="the packages" onRetry={packages.reload} /> : null}
        <DataTable
          label="Packages"
          rows={packages.data ? rows : undefined}
          loading={packages.loading}
          rowKey={(p) => p.package}
          initialSort={{ key: 'package', dir: 'asc' }}
          empty={q ? 'No package matches.' : 'No package has been planned or built yet.'}
          columns={[
            { key: 'package', label: 'Package', sort: (p) => p.package, render: (p) => <Link to={packagePath(p.package)}><strong>{p.package}</strong></Link> },
            { key: 'version', label: 'Version', sort: (p) => p.version, render: (p) => p.version },
            { key: 'status', label: 'Status', sort: (p) => p.status, render: (p) => <StatusBadge status={p.status} /> },
            { key: 'verified', label: 'Verified', sort: (p) => badges.get(p.package)?.text ?? '', render: (p) => <VerifiedBadge badge={badges.get(p.package) ?? null} /> },
            { key: 'attempts', label: 'Build attempts', sort: (p) => p.attempts, firstDir: 'desc', className: 'num', render: (p) => p.attempts },
            { key: 'ok', label: 'Attempts built', sort: (p) => p.successes, firstDir: 'desc', className: 'num', render: (p) => p.successes },
            { key: 'bad', label: 'Attempts failed', sort: (p) => p.failures, firstDir: 'desc', className: 'num', render: (p) => p.failures },
            { key: 'when', label: 'Last change', sort: (p) => p.last_timestamp, firstDir: 'desc', render: (p) => fmtIso(p.last_timestamp) },
          ]}
        />
      </Card>
    </div>
  );
}

/** How far verification went and how it ended, or a dash when nothing says. */
export function VerifiedBadge({ badge: b }: { badge: ReturnType<typeof verificationBadge> }) {
  if (!b) return <span className="muted">—</span>;
  return (
    <span className={`badge tone-${b.tone}`} title={b.title}>
      {b.text}
      <span className="sr-only">: {b.title}</span>
    </span>
  );
}

type Tab = 'overview' | 'timeline' | 'events' | 'hints';

function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const i = t.indexOf('=');
    if (i > 0) env[t.slice(0, i).trim()] = t.slice(i + 1).trim();
  }
  return env;
}

/** The recipe a retry starts from: the system packages and steps the hints suggest. */
export function suggestedRecipe(hints: string[]): { packages: string[]; steps: string[] } {
  const packages = [...new Set(hints.flatMap((h) => packagesFromHint(h).apt))];
  return { packages, steps: hints };
}

function RetryForm({ detail }: { detail: Detail }) {
  const actions = useActions();
  const versions = [...new Set([...detail.attempts.map((a) => a.version), ...detail.jobs.map((j) => j.version), ...detail.plans.map((p) => p.version)])].filter(Boolean);
  const variants = detail.variants.map((v) => v.variant);
  const suggestion = suggestedRecipe(detail.failures[0]?.hints ?? detail.hints);
  const [version, setVersion] = useState(versions[0] ?? '');
  const [variant, setVariant] = useState('');
  const [packages, setPackages] = useState(suggestion.packages.join(' '));
  const [steps, setSteps] = useState(suggestion.steps.join('\n'));
  const [env, setEnv] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const recipe: Recipe = {};
    if (variant) recipe.variant = variant;
    const sp = packages.split(/[\s,]+/).filter(Boolean);
    if (sp.length) recipe.system_packages = sp;
    const st = steps.split('\n').map((s) => s.trim()).filter(Boolean);
    if (st.length) recipe.steps = st;
    const ev = parseEnv(env);
    if (Object.keys(ev).length) recipe.env = ev;
    setBusy(true);
    await actions.enqueue({ package: detail.name, version: version.trim(), recipe });
    setBusy(false);
  };
  return (
    <form onSubmit={submit} className="retry-form" aria-label={`Retry ${detail.name} with a recipe`}>
      <div className="grid-3">
        <label className="field">
          Version
          <input list="pkg-versions" value={version} onChange={(e) => setVersion(e.target.value)} required />
          <datalist id="pkg-versions">
            {versions.map((v) => (
              <option key={v} value={v} />
            ))}
          </datalist>
        </label>
        <label className="field">
          Build variant
          <select value={variant} onChange={(e) => setVariant(e.target.value)}>
            <option value="">the best one (by past success)</option>
            {variants.map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          System packages to install first
          <input value={packages} onChange={(e) => setPackages(e.target.value)} placeholder="libffi-dev libssl-dev" spellCheck={false} />
        </label>
      </div>
      <div className="grid-2">
        <label className="field">
          Recipe steps (one a line, recorded with the job)
          <textarea rows={3} value={steps} onChange={(e) => setSteps(e.target.value)} spellCheck={false} />
        </label>
        <label className="field">
          Environment (KEY=value, one a line)
          <textarea rows={3} value={env} onChange={(e) => setEnv(e.target.value)} placeholder="CFLAGS=-O1" spellCheck={false} />
        </label>
      </div>
      <button type="submit" className="primary" disabled={busy || !version.trim()}>
        {busy ? 'Queueing…' : 'Retry with recipe'}
      </button>
    </form>
  );
}

/** An attempt's status in the glossary's words; the history's own word in the tooltip. */
function AttemptBadge({ status }: { status: string }) {
  const word = attemptStatus(status);
  const said = status === 'success' || status === word;
  return <StatusBadge status={word} title={said ? undefined : `the attempt ended: ${status}${status === 'lost' ? ' (its worker stopped answering)' : ''}`} />;
}

const STEP_LABEL: Record<StepKind, string> = {
  plan: 'plan',
  queued: 'queued',
  attempt: 'attempt',
  retry: 'retry',
  hint: 'hint',
  recipe: 'recipe',
  learned: 'fix saved',
  verification: 'verification',
  result: 'result',
  event: 'event',
};

function Timeline({ steps }: { steps: Step[] }) {
  if (!steps.length) return <p className="muted">Nothing has happened to this package yet.</p>;
  return (
    <ol className="timeline" aria-label="Automation timeline">
      {steps.map((s) => (
        <li key={s.seq} data-kind={s.kind}>
          <time dateTime={new Date(s.ms).toISOString()}>{fmtTime(s.ms)}</time>
          <span className="step-kind">{STEP_LABEL[s.kind]}</span>
          {s.status ? <StatusBadge status={s.status} /> : null}
          <span className="step-text">
            {s.version ? <strong>{s.version}</strong> : null} {s.text}
          </span>
        </li>
      ))}
    </ol>
  );
}

function AttemptsTable({ rows, label }: { rows: AttemptRow[]; label: string }) {
  return (
    <DataTable
      label={label}
      rows={rows}
      rowKey={(a) => a.id}
      pageSize={10}
      initialSort={{ key: 'when', dir: 'desc' }}
      empty="No attempts recorded."
      expand={(a) => (
        <dl className="details">
          <dt>Detail</dt>
          <dd>{a.detail || '—'}</dd>
          <dt>Target</dt>
          <dd>
            {a.python_tag} · {a.platform}
          </dd>
          <dt>Run</dt>
          <dd>{a.run_id ?? '—'}</dd>
          <dt>Log file</dt>
          <dd>{a.log_path ? <code>{a.log_path}</code> : '—'}</dd>
          <dt>Hints</dt>
          <dd>{a.hints.length ? a.hints.join('; ') : '—'}</dd>
        </dl>
      )}
      columns={[
        { key: 'when', label: 'When', sort: (a) => a.id, firstDir: 'desc', render: (a) => fmtIso(a.timestamp) },
        { key: 'version', label: 'Version', sort: (a) => a.version },
        { key: 'variant', label: 'Variant', sort: (a) => a.variant },
        { key: 'attempt', label: '#', sort: (a) => a.attempt, className: 'num', render: (a) => a.attempt },
        { key: 'status', label: 'Status', sort: (a) => attemptStatus(a.status), render: (a) => <AttemptBadge status={a.status} /> },
        { key: 'duration', label: ATTEMPT_TIME.label, help: ATTEMPT_TIME.help, sort: (a) => a.duration_secs, firstDir: 'desc', className: 'num', render: (a) => fmtDuration(a.duration_secs) },
        { key: 'worker', label: 'Worker', sort: (a) => a.worker ?? '', render: (a) => a.worker ?? '—' },
        { key: 'log', label: 'Log', render: (a) => (a.version ? <Link to={logPath(a.package, a.version)}>log</Link> : <span className="muted">—</span>) },
      ]}
    />
  );
}

export function PackageDetail({ name }: { name: string }) {
  const detail = useApi<Detail>(`/api/packages/${encodeURIComponent(name)}`, 5000);
  const [tab, setTab] = useQueryParam('tab', 'overview');
  const d = detail.data;
  if (detail.error instanceof ApiError && (detail.error.status === 404 || detail.error.status === 400) && !d) {
    return <NotFound what={`package “${name}”`} hint="Nothing is known about it yet: no plan, no build, no event, no queued job." />;
  }
  const latestJob = d ? representativeJob(d.jobs) : undefined;
  const planned = d && !latestJob ? notQueuedYet(d.plans) : undefined;
  const successes = d?.attempts.filter((a) => attemptStatus(a.status) === 'built').length ?? 0;
  return (
    <div className="page">
      <div className="page-head">
        <p className="crumbs">
          <Link to="/packages">Packages</Link> /
        </p>
        <h1>{d?.name ?? name}</h1>
        {latestJob && (
          <p className="lede">
            Job {latestJob.id}: {latestJob.version} <StatusBadge status={latestJob.status} />{' '}
            <Link to={logPath(latestJob.package, latestJob.version, latestJob.id)}>open its log</Link>
          </p>
        )}
        {planned && <PlannedLede planned={planned} />}
      </div>
      {detail.error && !d ? <ErrorBox error={detail.error} what="the package" onRetry={detail.reload} /> : null}
      {!d && !detail.error && <Skeleton lines={6} label="Loading the package" />}
      {d && (
        <>
          <Tabs<Tab>
            label="Package sections"
            active={tab as Tab}
            onChange={setTab}
            tabs={[
              { id: 'overview', label: 'Overview' },
              { id: 'timeline', label: 'Timeline' },
              { id: 'events', label: `Events (${d.events.length})` },
              { id: 'hints', label: `Hints (${d.hints.length})` },
            ]}
          />
          {tab === 'overview' && (
            <TabPanel id="overview">
              <section className="stats" aria-label="Package at a glance">
                <Stat label="build attempts" value={d.attempts.length} />
                <Stat label="attempts built" value={successes} tone="ok" />
                <Stat label="attempts failed" value={d.failures.length} tone={d.failures.length ? 'bad' : undefined} />
                <Stat label={`average ${ATTEMPT_TIME.label.toLowerCase()} (built)`} value={fmtDuration(d.average_duration_secs)} hint={ATTEMPT_TIME.help} />
                <Stat label="jobs" value={d.jobs.length} />
              </section>
              <Card title="Retry with recipe" id="retry">
                <p className="muted small">
                  Queues a new build of this package. The system packages start from what the latest failure’s hints suggest.
                </p>
                <RetryForm detail={d} />
              </Card>
              <div className="grid-2">
                <Card title="Variant history (what worked)">
                  <DataTable
                    label="Variant history"
                    rows={d.variants}
                    rowKey={(v) => v.variant}
                    pageSize={10}
                    empty="No variants tried yet."
                    initialSort={{ key: 'ok', dir: 'desc' }}
                    columns={[
                      { key: 'variant', label: 'Variant', sort: (v) => v.variant },
                      { key: 'ok', label: 'Succeeded', sort: (v) => v.successes, firstDir: 'desc', className: 'num', render: (v) => v.successes },
                      { key: 'bad', label: 'Failed', sort: (v) => v.failures, firstDir: 'desc', className: 'num', render: (v) => v.failures },
                      {
                        key: 'rate',
                        label: 'Success rate',
                        sort: (v) => v.successes / Math.max(1, v.successes + v.failures),
                        firstDir: 'desc',
                        render: (v) => {
                          const rate = v.successes / Math.max(1, v.successes + v.failures);
                          return (
                            <span className="rate" title={`${Math.round(rate * 100)}%`}>
                              <span className="rate-bar" style={{ width: `${rate * 100}%` }} />
                              <span className="rate-label">{Math.round(rate * 100)}%</span>
                            </span>
                          );
                        },
                      },
                    ]}
                  />
                </Card>
                <Card title="Recent failures">
                  {d.failures.length === 0 ? (
                    <p className="muted">No failed attempt.</p>
                  ) : (
                    <ul className="failures">
                      {d.failures.slice(0, 8).map((f) => (
                        <li key={f.id}>
                          <div>
                            <strong>{f.version}</strong> <AttemptBadge status={f.status} /> <span className="muted small">{fmtIso(f.timestamp)} · {f.variant}</span>
                          </div>
                          <div className="detail">{f.detail}</div>
                          {f.hints.length > 0 && (
                            <ul className="hints-inline">
                              {f.hints.map((h) => (
                                <li key={h}><span className="hint-mark" aria-hidden="true">hint</span> {h}</li>
                              ))}
                            </ul>
                          )}
                        </li>
                      ))}
                    </ul>
                  )}
                </Card>
              </div>
              {d.plans.length > 0 && <PackagePlans plans={d.plans} />}
              <Card title="Attempt history">
                <AttemptsTable rows={d.attempts} label="Attempts" />
              </Card>
              <Card title="Queue jobs">
                <DataTable
                  label="Queue jobs"
                  rows={d.jobs}
                  rowKey={(j) => j.id}
                  pageSize={10}
                  initialSort={{ key: 'id', dir: 'desc' }}
                  empty="No queue jobs for this package."
                  columns={[
                    { key: 'id', label: 'Job', sort: (j) => j.id, firstDir: 'desc', className: 'num' },
                    { key: 'version', label: 'Version', sort: (j) => j.version },
                    { key: 'status', label: 'Status', sort: (j) => j.status, render: (j) => <StatusBadge status={j.status} /> },
                    { key: 'created', label: 'Queued', sort: (j) => j.created_ms, firstDir: 'desc', render: (j) => fmtTime(j.created_ms) },
                    { key: 'duration', label: WALL_TIME.label, help: WALL_TIME.help, sort: (j) => jobDurationSecs(j), firstDir: 'desc', className: 'num', render: (j) => fmtDuration(jobDurationSecs(j)) },
                    { key: 'detail', label: 'Detail', render: (j) => <span className="detail">{j.detail}</span> },
                    { key: 'log', label: 'Log', render: (j) => <Link to={logPath(j.package, j.version, j.id)}>log</Link> },
                  ]}
                />
              </Card>
            </TabPanel>
          )}
          {tab === 'timeline' && (
            <TabPanel id="timeline">
              <Card title="Automation timeline">
                <p className="muted small">What the refinery decided and did for {d.name}, oldest first: the plan, queued jobs, attempts, hints, recipes, retries, verification.</p>
                <Timeline steps={timeline(d.events, d.attempts, d.jobs)} />
              </Card>
            </TabPanel>
          )}
          {tab === 'events' && (
            <TabPanel id="events">
              <Card title="Events">
                <EventsTable events={d.events} showPackage={false} />
              </Card>
            </TabPanel>
          )}
          {tab === 'hints' && (
            <TabPanel id="hints">
              <Card title="Hints seen in this package's build logs">
                {d.hints.length === 0 ? (
                  <p className="muted">
                    No hint matched its logs. If a build failed for a reason you know, <Link to="/hints">add a hint</Link> so the next
                    failure says what to install.
                  </p>
                ) : (
                  <ul className="failures">
                    {d.hints.map((h) => {
                      const p = packagesFromHint(h);
                      return (
                        <li key={h}>
                          <div><span className="hint-mark" aria-hidden="true">hint</span> {h}</div>
                          {(p.apt.length > 0 || p.dnf.length > 0) && (
                            <div className="muted small">
                              Debian/Ubuntu: <code>apt-get install {p.apt.join(' ')}</code> · Fedora/RHEL: <code>dnf install {p.dnf.join(' ')}</code>
                            </div>
                          )}
                        </li>
                      );
                    })}
                  </ul>
                )}
              </Card>
            </TabPanel>
          )}
        </>
      )}
    </div>
  );
}
