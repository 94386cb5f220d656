import { useState } from 'react';
import { useActions } from '../lib/actions';
import { useApi } from '../lib/hooks';
import { ago, attemptStatus, fmtDuration, fmtIso, jobDurationSecs, packagesFromHint, plural, ranBuild, ATTEMPT_TIME, WALL_TIME, WORKER_STATE_HELP } from '../lib/format';
import { Link, logPath, packagePath } from '../lib/router';
import type { EventRow, EventsPage, QueueList, QueueStats, StatusCounts, TopFailures, TopSlowest } from '../lib/types';

/** Why "Run worker now" cannot work on this server, or `null` when it can. */
export function triggerUnavailable(trigger: QueueStats['trigger'] | undefined): string | null {
  return trigger === 'none'
    ? 'This server runs no worker of its own: start it with --local-worker (or set WORKER_WEBHOOK_URL) to drain the queue from here, or run refinery worker --server URL on a build host.'
    : null;
}
import { Card, ErrorBox, Skeleton, Stat, StatusBadge } from '../components/ui';
import { DataTable } from '../components/DataTable';
import { BuildsOverTime, DurationHistogram } from '../components/Charts';


export function Dashboard() {
  const stats = useApi<QueueStats>('/api/queue/stats', 3000);
  const counts = useApi<StatusCounts>('/api/status-counts', 10000);
  const events = useApi<EventsPage>('/api/events?limit=200', 5000);
  const failures = useApi<TopFailures>('/api/top-failures?limit=8', 10000);
  const slowest = useApi<TopSlowest>('/api/top-slowest?limit=8', 10000);
  const jobs = useApi<QueueList>('/api/queue?limit=1000', 10000);
  const actions = useActions();
  const [triggering, setTriggering] = useState(false);

  const s = stats.data;
  // eslint-disable-next-line react-hooks/purity -- ages are shown relative to this render; polling re-renders it
  const now = Date.now();
  const liveWorkers = s?.workers.filter((w) => w.state !== 'offline') ?? [];
  // Builds only: a reuse, a cache hit or a missing package is not a build (ranBuild).
  const finished = (jobs.data?.jobs ?? []).filter((j) => j.finished_ms && ranBuild(j));
  const points = finished.map((j) => ({ ms: j.finished_ms!, ok: j.status === 'built' }));
  const durations = finished.map(jobDurationSecs).filter((d): d is number => d !== null);
  const noTrigger = triggerUnavailable(s?.trigger);

  return (
    <div className="page">
      <div className="page-head">
        <h1>Dashboard</h1>
        <p className="lede">What the refinery is doing: the queue, the workers, what failed and why.</p>
      </div>

      {stats.error && !s ? <ErrorBox error={stats.error} what="the queue" onRetry={stats.reload} /> : null}

      <section className="stats" aria-label="Queue at a glance">
        {!s ? (
          <Skeleton lines={2} label="Loading the queue" />
        ) : (
          <>
            <Stat label="waiting in the queue" value={s.by_class.waiting} hint="pending + retry" tone={s.by_class.waiting ? 'warn' : undefined} />
            <Stat label="building now" value={s.by_class.running} hint="leased + building" tone={s.by_class.running ? 'busy' : undefined} />
            <Stat label="built" value={s.by_class.built} hint="built from source" tone="ok" />
            <Stat label="reused" value={s.by_class.reused} hint="reused + cached: no build needed" tone="ok" />
            <Stat label="failed" value={s.by_class.failed} hint="failed, missing, system recipe failed, broken" tone={s.by_class.failed ? 'bad' : undefined} />
            <Stat label="jobs in all" value={s.total} hint={s.cleared ? `${s.cleared} of them cleared from Builds` : undefined} />
            <Stat label="lease restarts" value={s.restarts} hint="jobs whose worker stopped answering" />
          </>
        )}
      </section>

      <div className="grid-2">
        <Card
          title="Workers"
          id="workers"
          actions={
            <button
              type="button"
              className="primary"
              disabled={triggering || !!noTrigger}
              title={noTrigger ?? undefined}
              aria-describedby={noTrigger ? 'trigger-why' : undefined}
              onClick={async () => {
                setTriggering(true);
                await actions.runWorker();
                setTriggering(false);
              }}
            >
              {triggering ? 'Starting…' : 'Run worker now'}
            </button>
          }
        >
          {!s ? (
            <Skeleton lines={2} />
          ) : (
            <>
              {noTrigger && (
                <p className="muted small" id="trigger-why">
                  “Run worker now” is off: {noTrigger}
                </p>
              )}
              <p>
                {liveWorkers.length ? `${plural(liveWorkers.length, 'worker')} seen in the last minute.` : 'No worker has been seen in the last minute.'}{' '}
                {s.draining ? <StatusBadge status="building" title="an in-process drain is running" /> : null}
              </p>
              {s.workers.length > 0 ? (
                <ul className="plain-list">
                  {s.workers.map((w) => (
                    <li key={w.id} data-worker={w.id}>
                      <strong>{w.id}</strong> {w.host && <span className="muted">on {w.host}</span>}{' '}
                      <StatusBadge status={w.state} title={WORKER_STATE_HELP[w.state]} /> <span className="muted">seen {ago(w.last_seen_ms, now)}</span>
                      {w.state === 'building' && w.job ? (
                        <>
                          {' '}
                          — <Link to={`/builds?q=${w.job}`}>job {w.job}</Link>
                        </>
                      ) : null}
                    </li>
                  ))}
                </ul>
              ) : (
                <p className="muted small">
                  Start one with <code>refinery worker --server {window.location.origin}</code>, or run{' '}
                  <code>refinery serve --local-worker</code> so “Run worker now” drains the queue in the server.
                </p>
              )}
            </>
          )}
        </Card>

        <Card title="Status counts" id="counts">
          {!counts.data ? (
            counts.error ? <ErrorBox error={counts.error} what="the counts" onRetry={counts.reload} /> : <Skeleton lines={3} />
          ) : (
            <div className="counts">
              <div>
                <h3>Build attempts</h3>
                <CountList counts={attemptCounts(counts.data.attempts)} empty="No build attempts recorded yet." />
              </div>
              <div>
                <h3>Jobs</h3>
                <CountList counts={Object.fromEntries(Object.entries(s?.by_status ?? {}).filter(([, n]) => n > 0))} empty="The queue is empty." />
              </div>
              <div>
                <h3>Events</h3>
                <CountList counts={counts.data.events} empty="No events yet." plain />
              </div>
            </div>
          )}
        </Card>
      </div>

      <div className="grid-2">
        <Card title="Builds over time" id="chart-time">
          {!jobs.data ? <Skeleton lines={4} /> : points.length ? <BuildsOverTime points={points} now={now} /> : <p className="muted">No finished builds yet.</p>}
        </Card>
        <Card title="Build durations" id="chart-durations">
          <p className="muted small" title={WALL_TIME.help}>
            {WALL_TIME.label} of each job that ran a build.
          </p>
          {!jobs.data ? <Skeleton lines={4} /> : durations.length ? <DurationHistogram secs={durations} /> : <p className="muted">No timed builds yet.</p>}
        </Card>
      </div>

      <div className="grid-2">
        <Card title="Recent failures and hints" id="failures">
          {!failures.data ? (
            failures.error ? <ErrorBox error={failures.error} what="failures" onRetry={failures.reload} /> : <Skeleton />
          ) : failures.data.top_failures.length === 0 ? (
            <p className="muted">Nothing has failed.</p>
          ) : (
            <ul className="failures">
              {failures.data.top_failures.map((f) => (
                <li key={f.package}>
                  <div className="row between">
                    <span>
                      <Link to={packagePath(f.package)}>
                        <strong>{f.package}</strong>
                      </Link>{' '}
                      {f.last_version} <span className="muted">— {f.failures} failed attempt{f.failures === 1 ? '' : 's'}</span>
                    </span>
                    <span className="row gap-s">
                      <Link to={logPath(f.package, f.last_version)} className="button small">
                        Log
                      </Link>
                      <button
                        type="button"
                        className="small"
                        onClick={() => {
                          const apt = f.last_hints.flatMap((h) => packagesFromHint(h).apt);
                          void actions.enqueue({
                            package: f.package,
                            version: f.last_version,
                            recipe: apt.length ? { system_packages: apt, steps: f.last_hints } : undefined,
                          });
                        }}
                        title="Queue another build, with the system packages the hints suggest"
                      >
                        Retry
                      </button>
                    </span>
                  </div>
                  <div className="detail">{f.last_detail || <span className="muted">no detail recorded</span>}</div>
                  {f.last_hints.length > 0 && (
                    <ul className="hints-inline" aria-label={`Hints for ${f.package}`}>
                      {f.last_hints.map((h) => (
                        <li key={h}><span className="hint-mark" aria-hidden="true">hint</span> {h}</li>
                      ))}
                    </ul>
                  )}
                </li>
              ))}
            </ul>
          )}
        </Card>

        <Card title="Slowest packages" id="slowest">
          <p className="muted small" title={ATTEMPT_TIME.help}>
            {ATTEMPT_TIME.label} of the attempts that built.
          </p>
          <DataTable
            label="Slowest packages"
            rows={slowest.data?.top_slowest}
            loading={slowest.loading}
            rowKey={(r) => r.package}
            pageSize={10}
            empty="No successful builds yet."
            columns={[
              { key: 'package', label: 'Package', sort: (r) => r.package, render: (r) => <Link to={packagePath(r.package)}>{r.package}</Link> },
              { key: 'avg', label: 'Average', help: ATTEMPT_TIME.help, sort: (r) => r.average_secs, firstDir: 'desc', render: (r) => fmtDuration(r.average_secs), className: 'num' },
              { key: 'max', label: 'Slowest', help: ATTEMPT_TIME.help, sort: (r) => r.max_secs, firstDir: 'desc', render: (r) => fmtDuration(r.max_secs), className: 'num' },
              { key: 'ok', label: 'Built', sort: (r) => r.successes, firstDir: 'desc', className: 'num', render: (r) => r.successes },
              { key: 'bad', label: 'Failed', sort: (r) => r.failures, firstDir: 'desc', className: 'num', render: (r) => r.failures },
            ]}
          />
        </Card>
      </div>

      <Card title="Recent events" id="events">
        {events.error && !events.data ? <ErrorBox error={events.error} what="events" onRetry={events.reload} /> : null}
        <EventsTable events={events.data?.events} loading={events.loading} />
      </Card>
    </div>
  );
}

/** Attempt counts in the glossary's words (`success` is `built`). */
export function attemptCounts(byStatus: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [status, n] of Object.entries(byStatus)) {
    const word = attemptStatus(status);
    out[word] = (out[word] ?? 0) + n;
  }
  return out;
}

function CountList({ counts, empty, plain }: { counts: Record<string, number>; empty: string; plain?: boolean }) {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  if (!entries.length) return <p className="muted small">{empty}</p>;
  return (
    <ul className="count-list">
      {entries.map(([k, n]) => (
        <li key={k}>
          {plain ? <span className="badge tone-idle">{k.replace(/_/g, ' ')}</span> : <StatusBadge status={k} />} <strong>{n}</strong>
        </li>
      ))}
    </ul>
  );
}

export function EventsTable({ events, loading, showPackage = true }: { events: EventRow[] | undefined; loading?: boolean; showPackage?: boolean }) {
  return (
    <DataTable
      label="Events"
      rows={events}
      loading={loading}
      rowKey={(e) => e.id}
      pageSize={10}
      initialSort={{ key: 'time', dir: 'desc' }}
      maxHeight={520}
      empty="No events recorded yet."
      columns={[
        { key: 'time', label: 'Time', sort: (e) => e.id, firstDir: 'desc', render: (e) => <time dateTime={e.timestamp}>{fmtIso(e.timestamp)}</time> },
        { key: 'kind', label: 'Kind', sort: (e) => e.kind, render: (e) => <StatusBadge status={e.kind} /> },
        ...(showPackage
          ? [
              {
                key: 'package',
                label: 'Package',
                sort: (e: EventRow) => e.package ?? '',
                render: (e: EventRow) =>
                  e.package ? (
                    <Link to={packagePath(e.package)}>
                      {e.package} {e.version}
                    </Link>
                  ) : (
                    <span className="muted">—</span>
                  ),
              },
            ]
          : [{ key: 'version', label: 'Version', sort: (e: EventRow) => e.version ?? '', render: (e: EventRow) => e.version ?? '—' }]),
        { key: 'detail', label: 'Detail', render: (e) => <span className="detail">{e.detail}</span> },
      ]}
    />
  );
}
