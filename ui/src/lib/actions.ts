import { useMemo } from 'react';
import { api, ApiError, enc } from './api';
import { refreshAll } from './hooks';
import { useToast } from '../components/ui';
import type { Cleared, DrainTriggered, EnqueueReply, EnqueueRequest, IdsRequest, JobReply, InputPlanReply, NodeRequest, PlanEnqueued, Recipe, Retried } from './types';
import { plural } from './format';

/** The answer of the plan enqueue endpoints. */
export type Enqueued = PlanEnqueued;

/** `2 jobs queued.`, `1 job queued, 2 already there.`, `nothing new to queue (…)`. */
export function enqueuedText(r: Enqueued): string {
  const already = r.jobs.length - r.created;
  if (!r.created) {
    return already ? `nothing new to queue: ${plural(already, 'job')} already queued or finished.` : 'nothing to queue.';
  }
  return `${plural(r.created, 'job')} queued${already ? `, ${already} already there` : ''}.`;
}

/** The actions of the app, each with a toast and a refresh of every page. */
export function useActions() {
  const toast = useToast();
  return useMemo(() => {
    async function run<T>(fn: () => Promise<T>, ok: (r: T) => string): Promise<T | undefined> {
      try {
        const r = await fn();
        toast.success(ok(r));
        refreshAll();
        return r;
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) {
          toast.error('That action needs the worker token: enter it in the dialog, then try again.');
        } else if (e instanceof ApiError && e.status === 403) {
          toast.error('The stored worker token is not valid for this server: set it again in Settings.');
        } else {
          toast.error(e);
        }
        return undefined;
      }
    }
    return {
      runWorker: () =>
        run(
          () => api<DrainTriggered>('/api/worker/trigger', { method: 'POST' }),
          (r) =>
            r.mode === 'webhook'
              ? `The worker webhook answered ${r.webhook_status}.`
              : r.started
                ? 'A worker is draining the queue now.'
                : `Not started: ${r.reason ?? 'a drain is already running'}.`,
        ),
      retryJobs: (ids: number[]) =>
        run(
          () => api<Retried>('/api/queue/retry', { method: 'POST', body: { ids } satisfies IdsRequest }),
          (r) => (r.retried ? `${plural(r.retried, 'job')} back in the queue.` : 'Nothing to retry: the selected jobs are waiting, running, or already queued again.'),
        ),
      clearJobs: (ids: number[]) =>
        run(
          () => api<Cleared>('/api/queue/clear', { method: 'POST', body: { ids } satisfies IdsRequest }),
          (r) => (r.cleared ? `${plural(r.cleared, 'job')} cleared from the Builds list.` : 'Nothing cleared: running jobs stay until they finish, cleared ones are cleared already.'),
        ),
      clearFinished: () =>
        run(
          () => api<Cleared>('/api/queue/clear', { method: 'POST', body: {} satisfies IdsRequest }),
          (r) => (r.cleared ? `${plural(r.cleared, 'finished job')} cleared from the Builds list; they still count everywhere else.` : 'No finished job to clear.'),
        ),
      cancelJob: (id: number) =>
        run(
          () => api<JobReply>(`/api/jobs/${id}/cancel`, { method: 'POST' }),
          (r) => `Job ${id} is ${r.job.status}${r.job.cancel_requested && r.job.status !== 'cancelled' ? ' (cancel requested)' : ''}.`,
        ),
      enqueue: (spec: { package: string; version: string; recipe?: Recipe; python?: string; platform_tag?: string }) =>
        run(
          () => api<EnqueueReply>('/api/queue/enqueue', { method: 'POST', body: spec satisfies EnqueueRequest }),
          (r) =>
            r.created
              ? `${r.job.package} ${r.job.version} queued as job ${r.job.id}.`
              : `${r.job.package} ${r.job.version} is already queued (job ${r.job.id}).`,
        ),
      planInput: (id: number) =>
        run(
          () => api<InputPlanReply>(`/api/pending-inputs/${id}/enqueue-plan`, { method: 'POST' }),
          () => `Input ${id} is being planned.`,
        ),
      enqueuePlan: (planId: string) =>
        run(
          () => api<Enqueued>(`/api/plans/${enc(planId)}/enqueue-builds`, { method: 'POST' }),
          (r) => `Plan: ${enqueuedText(r)}`,
        ),
      enqueueNode: (planId: string, node: string) =>
        run(
          () => api<Enqueued>(`/api/plans/${enc(planId)}/enqueue-build`, { method: 'POST', body: { node } satisfies NodeRequest }),
          (r) => `${node}: ${enqueuedText(r)}`,
        ),
    };
  }, [toast]);
}
