import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, api, apiBase, apiText, apiUrl, enc, errorMessage } from '../lib/api';
import { useApi } from '../lib/hooks';
import { jobWorker } from '../lib/format';
import { LogBuffer } from '../lib/log';
import { Link, packagePath, useLocation, useQueryParam } from '../lib/router';
import type { Job, JobReply, LogChunks, LogEnd } from '../lib/types';
import { ErrorBox, StatusBadge } from '../components/ui';
import { LogViewer } from '../components/LogViewer';

type Phase =
  | { kind: 'connecting' }
  | { kind: 'live' }
  | { kind: 'ended'; jobId: number; status: string; detail?: string }
  | { kind: 'file' }
  | { kind: 'none'; retryMs: number }
  | { kind: 'gone'; message: string }
  | { kind: 'reconnecting' }
  | { kind: 'error'; error: unknown };

/** A page waiting for a log that does not exist yet looks again after 3 s, then less often. */
export const FIRST_POLL_MS = 3000;
export const MAX_POLL_MS = 30000;

/** The wait before the next look: doubled, at most {@link MAX_POLL_MS}. */
export function nextPollMs(ms: number): number {
  return Math.min(MAX_POLL_MS, ms * 2);
}

/** What the header says about the job. */
export interface JobLine {
  id: number;
  status: string;
  /** `null` when the job could not be looked up (only the stream's `end` event says). */
  attempt: number | null;
  worker: string | null;
  detail: string;
  /** The stream ended: `detail` is how the job finished. */
  finished: boolean;
}

/**
 * The header's job line: the job as last fetched, and once the stream ended the status and
 * detail of its `end` event (the job's final ones, even before the job is fetched again).
 * Once it ended, the worker is the one `seen` holding this attempt while the log streamed
 * (a job whose worker vanished ends without a result naming it); else the one holding the
 * lease, or the one that reported the result (`jobWorker`).
 */
export function jobLine(
  job: Job | null | undefined,
  end: { jobId: number; status: string; detail?: string } | null,
  seen: { id: number; attempt: number; worker: string } | null,
): JobLine | null {
  const gone = end?.status === 'gone' ? 'the job was removed from the queue while its log was followed' : '';
  if (!job || (end && job.id !== end.jobId)) {
    return end ? { id: end.jobId, status: end.status, attempt: null, worker: null, detail: end.detail || gone, finished: true } : null;
  }
  const status = end ? end.status : job.status;
  const seenWorker = seen && seen.id === job.id && seen.attempt === job.attempt ? seen.worker : null;
  const worker = (end ? seenWorker : null) ?? jobWorker(job);
  return { id: job.id, status, attempt: job.attempt, worker, detail: (end ? end.detail || gone : '') || job.detail || '', finished: end !== null };
}

export function LogPage({ name, version }: { name: string; version: string }) {
  const { search } = useLocation();
  const jobParam = Number(new URLSearchParams(search).get('job')) || undefined;
  const [q, setQ] = useQueryParam('q');
  const buffer = useMemo(() => new LogBuffer(), []);
  const [version_, setVersion] = useState(0);
  const [phase, setPhase] = useState<Phase>({ kind: 'connecting' });
  const [probedJob, setProbedJob] = useState<number | null>(null);
  const [attempt, setAttempt] = useState(0);
  const frame = useRef<number | null>(null);

  // Many small chunks arrive at once: repaint at most once a frame.
  const flush = useCallback(() => {
    if (frame.current !== null) return;
    const raf = typeof requestAnimationFrame === 'function' ? requestAnimationFrame : (f: FrameRequestCallback) => setTimeout(() => f(0), 16) as unknown as number;
    frame.current = raf(() => {
      frame.current = null;
      setVersion(buffer.version);
    });
  }, [buffer]);

  useEffect(() => {
    let es: EventSource | null = null;
    let retry: ReturnType<typeof setTimeout> | null = null;
    let alive = true;
    let wait = FIRST_POLL_MS;
    buffer.reset();
    // eslint-disable-next-line react-hooks/set-state-in-effect -- a new stream starts from an empty buffer
    setVersion(buffer.version);
    setPhase({ kind: 'connecting' });
    setProbedJob(null);

    // The stream of the job the probe found: the page, its header and its log are about
    // one job (a version's newest job may be a cache hit without a log of its own).
    const openStream = (jobId: number) => {
      es = new EventSource(apiUrl(`/api/jobs/${jobId}/logs/stream`), { withCredentials: !!apiBase() });
      es.addEventListener('open', () => alive && setPhase({ kind: 'live' }));
      es.addEventListener('log', (e) => {
        buffer.append((e as MessageEvent).data);
        flush();
      });
      es.addEventListener('end', (e) => {
        let status = 'finished';
        let detail: string | undefined;
        try {
          const end = JSON.parse((e as MessageEvent).data) as LogEnd;
          status = end.status;
          detail = end.detail;
        } catch {
          /* keep defaults */
        }
        es?.close();
        if (!alive) return;
        setVersion(buffer.version);
        setPhase({ kind: 'ended', jobId, status, detail });
      });
      es.addEventListener('error', () => {
        if (!alive || !es) return;
        // The browser reconnects by itself (sending Last-Event-ID) unless it gave up.
        if (es.readyState === EventSource.CLOSED) setPhase({ kind: 'error', error: new Error('the live log connection was closed') });
        else setPhase({ kind: 'reconnecting' });
      });
    };

    const start = async () => {
      if (!jobParam && !version) {
        setPhase({ kind: 'gone', message: `This link names no version of ${name} and no job, so there is no log to show.` });
        return;
      }
      try {
        // Is there a queue job with this log?
        const path = jobParam ? `/api/jobs/${jobParam}/logs/chunks?limit=1` : `/api/logs/${enc(name)}/${enc(version)}/chunks?limit=1`;
        const probe = await api<LogChunks>(path);
        if (!alive) return;
        setProbedJob(probe.job_id);
        openStream(probe.job_id);
      } catch (e) {
        if (!alive) return;
        if (!(e instanceof ApiError) || e.status !== 404) {
          setPhase({ kind: 'error', error: e });
          return;
        }
        // A job id does not come back once it is gone.
        const noJob = `There is no job ${jobParam}: it was removed from the queue.`;
        if (!version) {
          setPhase({ kind: 'gone', message: noJob });
          return;
        }
        // No job: a log file of a CLI run, perhaps.
        try {
          const text = await apiText(`/api/logs/${enc(name)}/${enc(version)}`);
          if (!alive) return;
          buffer.reset(text);
          setVersion(buffer.version);
          setPhase({ kind: 'file' });
        } catch (e2) {
          if (!alive) return;
          if (!(e2 instanceof ApiError) || e2.status !== 404) {
            setPhase({ kind: 'error', error: e2 });
          } else if (jobParam) {
            setPhase({ kind: 'gone', message: `${noJob} There is no log file of ${name} ${version} either.` });
          } else {
            // Nothing yet: look again, less and less often.
            setPhase({ kind: 'none', retryMs: wait });
            retry = setTimeout(() => void start(), wait);
            wait = nextPollMs(wait);
          }
        }
      }
    };
    void start();
    return () => {
      alive = false;
      es?.close();
      if (retry) clearTimeout(retry);
    };
  }, [name, version, jobParam, buffer, flush, attempt]);

  // While the log streams the job moves on (leased → building → …): keep the header's
  // status in step with it, and fetch the job once more when the stream ends (its final
  // status, attempt, worker and detail). A failed look-up leaves the header as it was.
  const jobId = jobParam ?? probedJob;
  const streaming = phase.kind === 'connecting' || phase.kind === 'live' || phase.kind === 'reconnecting';
  const lookUp = jobId !== null && phase.kind !== 'gone' && phase.kind !== 'file';
  const jobQuery = useApi<JobReply>(lookUp ? `/api/jobs/${jobId}` : null, streaming ? 2000 : undefined);
  const ended = phase.kind === 'ended';
  const reloadJob = jobQuery.reload;
  useEffect(() => {
    if (ended) reloadJob();
  }, [ended, reloadJob]);
  const job = jobQuery.data?.job ?? null;
  // The worker seen holding the job, for a job that ends without naming it.
  const [seen, setSeen] = useState<{ id: number; attempt: number; worker: string } | null>(null);
  if (job?.lease_owner && (seen?.id !== job.id || seen.attempt !== job.attempt || seen.worker !== job.lease_owner)) {
    setSeen({ id: job.id, attempt: job.attempt, worker: job.lease_owner });
  }
  const line = jobLine(job, phase.kind === 'ended' ? phase : null, seen);

  const statusNode = (() => {
    switch (phase.kind) {
      case 'connecting':
        return <span className="badge tone-idle">connecting…</span>;
      case 'live':
        return (
          <span className="badge tone-busy live" aria-live="polite">
            ● live
          </span>
        );
      case 'reconnecting':
        return <span className="badge tone-warn">reconnecting…</span>;
      case 'ended':
        return <StatusBadge status={phase.status} title={phase.detail} />;
      case 'file':
        return <span className="badge tone-idle">log file</span>;
      case 'none':
        return <span className="badge tone-idle">waiting for a log…</span>;
      case 'gone':
        return <span className="badge tone-idle">no log</span>;
      case 'error':
        return <span className="badge tone-bad">error</span>;
    }
  })();

  return (
    <div className="page page-log">
      <div className="page-head">
        <p className="crumbs">
          <Link to={packagePath(name)}>{name}</Link> /
        </p>
        <h1>
          Log of {name}
          {version ? ` ${version}` : ''}
          {jobParam ? <span className="muted"> — job {jobParam}</span> : null}
        </h1>
        {line && (
          <p className="lede">
            Job {line.id} <StatusBadge status={line.status} />
            {line.attempt !== null ? ` attempt ${line.attempt}` : ''}
            {line.worker ? ` on ${line.worker}` : ''}
            {!line.finished && line.detail ? <> — {line.detail}</> : null}
          </p>
        )}
        {line?.finished && line.detail ? <p className="lede">Finished: {line.detail}</p> : null}
      </div>
      {phase.kind === 'error' && <ErrorBox error={phase.error} what="the log" onRetry={() => setAttempt((a) => a + 1)} />}
      {phase.kind === 'none' && (
        <p className="muted" role="status">
          There is no log of {name} {version} yet. This page looks again {Math.round(phase.retryMs / 1000)} s after its last look (the
          wait doubles, up to {MAX_POLL_MS / 1000} s); it starts streaming as soon as a worker begins the build.
        </p>
      )}
      {phase.kind === 'gone' && (
        <p className="muted" role="status">
          {phase.message} The <Link to={packagePath(name)}>package page</Link> lists its jobs and their logs.
        </p>
      )}
      {phase.kind === 'ended' && buffer.count === 0 && (
        <p className="muted" role="status">
          Job {phase.jobId} wrote no log{line?.status === 'missing' ? ': nothing was found to build' : ''}.
        </p>
      )}
      <LogViewer
        buffer={buffer}
        version={version_}
        label={`Build log of ${name}${version ? ` ${version}` : ''}`}
        fileName={`${name}${version ? `-${version}` : ''}${jobParam ? `-job${jobParam}` : ''}.log`}
        status={statusNode}
        initialQuery={q}
        onQueryChange={setQ}
      />
      {phase.kind === 'error' ? <p className="muted small">{errorMessage(phase.error)}</p> : null}
    </div>
  );
}
