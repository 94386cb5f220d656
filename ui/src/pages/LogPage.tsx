import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, api, apiBase, apiText, apiUrl, enc, errorMessage } from '../lib/api';
import { useApi } from '../lib/hooks';
import { jobWorker } from '../lib/format';
import { LogBuffer } from '../lib/log';
import { Link, packagePath, useLocation, useQueryParam } from '../lib/router';
import type { JobReply, LogChunks, LogEnd } from '../lib/types';
import { ErrorBox, StatusBadge } from '../components/ui';
import { LogViewer } from '../components/LogViewer';

type Phase =
  | { kind: 'connecting' }
  | { kind: 'live'; jobId: number }
  | { kind: 'ended'; status: string; detail?: string }
  | { kind: 'file' }
  | { kind: 'none' }
  | { kind: 'reconnecting' }
  | { kind: 'error'; error: unknown };

export function LogPage({ name, version }: { name: string; version: string }) {
  const { search } = useLocation();
  const jobParam = Number(new URLSearchParams(search).get('job')) || undefined;
  const [q, setQ] = useQueryParam('q');
  const buffer = useMemo(() => new LogBuffer(), []);
  const [version_, setVersion] = useState(0);
  const [phase, setPhase] = useState<Phase>({ kind: 'connecting' });
  const [jobId, setJobId] = useState<number | null>(null);
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
    buffer.reset();
    // eslint-disable-next-line react-hooks/set-state-in-effect -- a new stream starts from an empty buffer
    setVersion(buffer.version);
    setPhase({ kind: 'connecting' });

    const streamPath = (id?: number) => (id ? `/api/jobs/${id}/logs/stream` : `/api/logs/${enc(name)}/${enc(version)}/stream`);

    const openStream = (jobId: number) => {
      es = new EventSource(apiUrl(streamPath(jobParam)), { withCredentials: !!apiBase() });
      es.addEventListener('open', () => alive && setPhase({ kind: 'live', jobId }));
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
        setPhase({ kind: 'ended', status, detail });
        if (alive) setJobId(jobId);
      });
      es.addEventListener('error', () => {
        if (!alive || !es) return;
        // The browser reconnects by itself (sending Last-Event-ID) unless it gave up.
        if (es.readyState === EventSource.CLOSED) setPhase({ kind: 'error', error: new Error('the live log connection was closed') });
        else setPhase({ kind: 'reconnecting' });
      });
    };

    const start = async () => {
      try {
        // Is there a queue job with this log?
        const path = jobParam ? `/api/jobs/${jobParam}/logs/chunks?limit=1` : `/api/logs/${enc(name)}/${enc(version)}/chunks?limit=1`;
        const probe = await api<LogChunks>(path);
        if (!alive) return;
        if (alive) setJobId(probe.job_id);
        openStream(probe.job_id);
      } catch (e) {
        if (!alive) return;
        if (!(e instanceof ApiError) || e.status !== 404) {
          setPhase({ kind: 'error', error: e });
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
          if (e2 instanceof ApiError && e2.status === 404) {
            setPhase({ kind: 'none' });
            retry = setTimeout(() => void start(), 3000);
          } else {
            setPhase({ kind: 'error', error: e2 });
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
  // status in step with it. A failed look-up leaves the header as it was.
  const jobQuery = useApi<JobReply>(jobId !== null ? `/api/jobs/${jobId}` : null, phase.kind === 'live' ? 2000 : undefined);
  const job = jobQuery.data?.job ?? null;

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
          Log of {name} {version}
          {jobParam ? <span className="muted"> — job {jobParam}</span> : null}
        </h1>
        {job && (
          <p className="lede">
            Job {job.id} <StatusBadge status={job.status} /> attempt {job.attempt}
            {jobWorker(job) ? ` on ${jobWorker(job)}` : ''}
            {job.detail ? <> — {job.detail}</> : null}
          </p>
        )}
        {phase.kind === 'ended' && phase.detail ? <p className="lede">Finished: {phase.detail}</p> : null}
      </div>
      {phase.kind === 'error' && <ErrorBox error={phase.error} what="the log" onRetry={() => setAttempt((a) => a + 1)} />}
      {phase.kind === 'none' && (
        <p className="muted" role="status">
          There is no log of {name} {version} yet. This page keeps looking every 3 s; it starts streaming as soon as a worker
          begins the build.
        </p>
      )}
      <LogViewer
        buffer={buffer}
        version={version_}
        label={`Build log of ${name} ${version}`}
        fileName={`${name}-${version}${jobParam ? `-job${jobParam}` : ''}.log`}
        status={statusNode}
        initialQuery={q}
        onQueryChange={setQ}
      />
      {phase.kind === 'error' ? <p className="muted small">{errorMessage(phase.error)}</p> : null}
    </div>
  );
}
