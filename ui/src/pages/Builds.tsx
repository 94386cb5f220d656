import { useEffect, useMemo, useState } from 'react';
import { useActions } from '../lib/actions';
import { useApi } from '../lib/hooks';
import { builtWith, fmtBytes, fmtDuration, fmtTime, jobDurationSecs, jobWorker, STATUS_HELP, verificationSummary, WALL_TIME } from '../lib/format';
import { Link, logPath, packagePath, planPath, useQueryParam } from '../lib/router';
import { filterRows, pruneSelection } from '../lib/table';
import { JOB_STATUSES, type Job, type QueueList } from '../lib/types';
import { Card, ErrorBox, StatusBadge } from '../components/ui';
import { DataTable } from '../components/DataTable';

const ACTIVE = new Set(['leased', 'building']);

/** The run id the worker reported with the result (`job-12-attempt-1`), as in the history. */
export function runId(job: Pick<Job, 'result'>): string | null {
  const id = (job.result as { run_id?: unknown } | null | undefined)?.run_id;
  return typeof id === 'string' && id ? id : null;
}

function JobDetails({ job }: { job: Job }) {
  const recipe = job.recipe ?? {};
  const hasRecipe = (recipe.steps?.length ?? 0) + (recipe.system_packages?.length ?? 0) + Object.keys(recipe.env ?? {}).length > 0 || !!recipe.variant;
  return (
    <dl className="details">
      <dt>Created</dt>
      <dd>{fmtTime(job.created_ms)}</dd>
      <dt>Started</dt>
      <dd>{fmtTime(job.started_ms)}</dd>
      <dt>Finished</dt>
      <dd>{fmtTime(job.finished_ms)}</dd>
      <dt>Updated</dt>
      <dd>{fmtTime(job.updated_ms)}</dd>
      <dt>Target</dt>
      <dd>
        CPython {job.python} · <code>{job.platform_tag}</code>
      </dd>
      <dt>Run</dt>
      <dd>{runId(job) ? <code>{runId(job)}</code> : <span className="muted">— (no worker finished it yet)</span>}</dd>
      <dt>Plan</dt>
      <dd>{job.plan_id ? <Link to={planPath(job.plan_id)}><code>{job.plan_id.slice(0, 16)}</code></Link> : '—'}</dd>
      <dt>Input</dt>
      <dd>{job.input_id ?? '—'}</dd>
      <dt>Attempt / restarts</dt>
      <dd>
        {job.attempt} / {job.restarts}
      </dd>
      <dt>Worker</dt>
      <dd>
        {jobWorker(job) ?? '—'}
        {job.heartbeat_ms ? ` (heartbeat ${fmtTime(job.heartbeat_ms)})` : ''}
      </dd>
      <dt>Recipe</dt>
      <dd>
        {hasRecipe ? (
          <ul className="plain-list">
            {recipe.variant && <li>variant: {recipe.variant}</li>}
            {recipe.system_packages?.length ? <li>system packages: {recipe.system_packages.join(' ')}</li> : null}
            {Object.entries(recipe.env ?? {}).map(([k, v]) => (
              <li key={k}>
                <code>
                  {k}={v}
                </code>
              </li>
            ))}
            {recipe.steps?.map((s) => <li key={s}>{s}</li>)}
          </ul>
        ) : (
          <span className="muted">default</span>
        )}
      </dd>
      {builtWith(job.result) && (
        <>
          <dt>Built with</dt>
          <dd>
            <code>{builtWith(job.result)}</code>
          </dd>
        </>
      )}
      {verificationSummary(job.result).length > 0 && (
        <>
          <dt>Verified on s390x</dt>
          <dd>
            <ul className="plain-list">
              {verificationSummary(job.result).map((line) => (
                <li key={line}>
                  <code>{line}</code>
                </li>
              ))}
            </ul>
          </dd>
        </>
      )}
      <dt>Detail / error</dt>
      <dd className={job.status === 'failed' || job.status === 'broken' ? 'error-text' : undefined}>{job.detail || '—'}</dd>
      <dt>Log</dt>
      <dd>
        {fmtBytes(job.log_bytes)} — <Link to={logPath(job.package, job.version, job.id)}>open the log</Link>
      </dd>
      {job.result !== null && job.result !== undefined && Object.keys(job.result as object).length > 0 && (
        <>
          <dt>Result</dt>
          <dd>
            <pre className="json">{JSON.stringify(job.result, null, 2)}</pre>
          </dd>
        </>
      )}
    </dl>
  );
}

/**
 * Jobs per status as the list shows them: cleared jobs still count in the queue's stats
 * (they say what happened), but the list leaves them out unless asked.
 */
export function listedCounts(stats: Pick<QueueList['stats'], 'by_status' | 'cleared_by_status'> | undefined, showCleared: boolean): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [s, n] of Object.entries(stats?.by_status ?? {})) out[s] = n - (showCleared ? 0 : (stats?.cleared_by_status?.[s] ?? 0));
  return out;
}

export function Builds() {
  const [status, setStatus] = useQueryParam('status');
  const [q, setQ] = useQueryParam('q');
  const [cleared, setCleared] = useQueryParam('cleared');
  const showCleared = cleared === 'shown';
  const path = `/api/queue?limit=1000${showCleared ? '' : '&hide_cleared=true'}${status ? `&status=${encodeURIComponent(status)}` : ''}`;
  const queue = useApi<QueueList>(path, 3000);
  const actions = useActions();
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [busy, setBusy] = useState(false);
  const statuses = status ? status.split(',') : [];

  const rows = useMemo(
    () => filterRows(queue.data?.jobs ?? [], q, (j) => [j.package, j.version, j.id, j.detail, jobWorker(j), j.plan_id, runId(j)]),
    [queue.data, q],
  );
  useEffect(() => {
    // eslint-disable-next-line react-hooks/set-state-in-effect -- jobs that left the queue leave the selection kept for bulk actions
    if (queue.data) setSelected((s) => pruneSelection(s, queue.data!.jobs.map((j) => j.id)));
  }, [queue.data]);

  const toggleStatus = (s: string) => {
    const next = statuses.includes(s) ? statuses.filter((x) => x !== s) : [...statuses, s];
    setStatus(next.join(','));
  };
  const ids = [...selected];
  const bulk = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    await fn();
    setSelected(new Set());
    setBusy(false);
  };
  const counts = listedCounts(queue.data?.stats, showCleared);
  const hidden = Object.values(queue.data?.stats.cleared_by_status ?? {}).reduce((a, n) => a + n, 0);

  return (
    <div className="page">
      <div className="page-head">
        <h1>Builds</h1>
        <p className="lede">
          The build queue: every job, what it is doing, and its log. Select jobs to retry or clear them. Clearing only tidies this
          list: cleared jobs keep their results and logs and still count on the Dashboard, plans, inputs and packages.
        </p>
      </div>

      <Card title="Filter">
        <div className="row gap wrap">
          <label className="field inline">
            Search
            <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="package, version, worker, error…" />
          </label>
          <fieldset className="chips">
            <legend className="sr-only">Status</legend>
            {JOB_STATUSES.map((s) => (
              <label key={s} className={`chip${statuses.includes(s) ? ' on' : ''}`} title={STATUS_HELP[s]}>
                <input type="checkbox" checked={statuses.includes(s)} onChange={() => toggleStatus(s)} />
                {s.replace(/_/g, ' ')} <span className="muted">{counts[s] ?? 0}</span>
              </label>
            ))}
            {statuses.length > 0 && (
              <button type="button" className="link" onClick={() => setStatus('')}>
                all statuses
              </button>
            )}
          </fieldset>
          <label className="field inline">
            <input type="checkbox" checked={showCleared} onChange={() => setCleared(showCleared ? '' : 'shown')} />
            Show cleared jobs <span className="muted">{hidden}</span>
          </label>
        </div>
      </Card>

      <Card
        title={`Queue${queue.data ? ` — ${queue.data.stats.depth} waiting, ${queue.data.stats.active} building` : ''}`}
        actions={
          <div className="row gap-s" role="group" aria-label="Bulk actions">
            <span className="muted small" aria-live="polite">
              {selected.size ? `${selected.size} selected` : ''}
            </span>
            <button type="button" disabled={!selected.size || busy} onClick={() => bulk(() => actions.retryJobs(ids))}>
              Retry selected
            </button>
            <button type="button" disabled={!selected.size || busy} onClick={() => bulk(() => actions.clearJobs(ids))}>
              Clear selected
            </button>
            <button
              type="button"
              disabled={busy}
              onClick={() => {
                if (window.confirm('Clear every finished job (built, failed, …) from this list? Nothing is deleted: they keep their logs and still count everywhere else.')) {
                  void bulk(() => actions.clearFinished());
                }
              }}
            >
              Clear finished
            </button>
          </div>
        }
      >
        {queue.error && !queue.data ? <ErrorBox error={queue.error} what="the queue" onRetry={queue.reload} /> : null}
        <DataTable
          label="Build jobs"
          rows={queue.data ? rows : undefined}
          loading={queue.loading}
          rowKey={(j) => j.id}
          rowLabel={(j) => `job ${j.id} ${j.package} ${j.version}`}
          selected={selected}
          onSelectedChange={setSelected}
          expand={(j) => <JobDetails job={j} />}
          initialSort={{ key: 'id', dir: 'desc' }}
          maxHeight="70vh"
          empty={
            statuses.length || q
              ? 'No job matches the filter.'
              : `The queue is empty${hidden && !showCleared ? ` (${hidden} cleared ${hidden === 1 ? 'job' : 'jobs'} hidden)` : ''}. Enqueue builds from a plan, or retry a package.`
          }
          columns={[
            { key: 'id', label: 'Job', sort: (j) => j.id, firstDir: 'desc', className: 'num' },
            {
              key: 'package',
              label: 'Package',
              sort: (j) => j.package,
              render: (j) => (
                <Link to={packagePath(j.package)}>
                  <strong>{j.package}</strong>
                </Link>
              ),
            },
            { key: 'version', label: 'Version', sort: (j) => j.version },
            {
              key: 'status',
              label: 'Status',
              sort: (j) => j.status,
              render: (j) => (
                <>
                  <StatusBadge status={j.status} />
                  {j.cancel_requested && !['cancelled', 'failed'].includes(j.status) ? <span className="muted small"> cancelling</span> : null}
                  {j.cleared_ms ? <span className="muted small" title={`cleared from this list ${fmtTime(j.cleared_ms)}`}> cleared</span> : null}
                </>
              ),
            },
            { key: 'attempt', label: 'Attempt', sort: (j) => j.attempt, className: 'num', render: (j) => j.attempt },
            { key: 'run', label: 'Run', sort: (j) => runId(j) ?? '', render: (j) => (runId(j) ? <code className="run-id">{runId(j)}</code> : <span className="muted">—</span>) },
            { key: 'worker', label: 'Worker', sort: (j) => jobWorker(j) ?? '', render: (j) => jobWorker(j) ?? <span className="muted">—</span> },
            { key: 'created', label: 'Queued', sort: (j) => j.created_ms, firstDir: 'desc', render: (j) => fmtTime(j.created_ms) },
            { key: 'duration', label: WALL_TIME.label, help: WALL_TIME.help, sort: (j) => jobDurationSecs(j), firstDir: 'desc', className: 'num', render: (j) => fmtDuration(jobDurationSecs(j)) },
            { key: 'detail', label: 'Detail', render: (j) => <span className="detail clamp">{j.detail}</span> },
            {
              key: 'actions',
              label: 'Actions',
              hiddenLabel: true,
              render: (j) => (
                <span className="row gap-s nowrap">
                  <Link to={logPath(j.package, j.version, j.id)} className="button small" aria-label={`Log of job ${j.id}`}>
                    {ACTIVE.has(j.status) ? 'Live log' : 'Log'}
                  </Link>
                  {['pending', 'retry', 'leased', 'building'].includes(j.status) && !j.cancel_requested && (
                    <button type="button" className="small" onClick={() => void actions.cancelJob(j.id)} aria-label={`Cancel job ${j.id}`}>
                      Cancel
                    </button>
                  )}
                </span>
              ),
            },
          ]}
        />
      </Card>
    </div>
  );
}
