import { useMemo } from 'react';
import { api, ApiError, enc } from './api';
import { refreshAll } from './hooks';
import { useToast } from '../components/ui';
import type { Job, Recipe } from './types';

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
          () => api<{ mode: string; started?: boolean; reason?: string; webhook_status?: number }>('/api/worker/trigger', { method: 'POST' }),
          (r) =>
            r.mode === 'webhook'
              ? `The worker webhook answered ${r.webhook_status}.`
              : r.started
                ? 'A worker is draining the queue now.'
                : `Not started: ${r.reason ?? 'a drain is already running'}.`,
        ),
      retryJobs: (ids: number[]) =>
        run(
          () => api<{ retried: number }>('/api/queue/retry', { method: 'POST', body: { ids } }),
          (r) => `${r.retried} job${r.retried === 1 ? '' : 's'} back in the queue.`,
        ),
      clearJobs: (ids: number[]) =>
        run(
          () => api<{ cleared: number }>('/api/queue/clear', { method: 'POST', body: { ids } }),
          (r) => `${r.cleared} job${r.cleared === 1 ? '' : 's'} cleared.`,
        ),
      clearFinished: () =>
        run(
          () => api<{ cleared: number }>('/api/queue/clear', { method: 'POST', body: {} }),
          (r) => `${r.cleared} finished job${r.cleared === 1 ? '' : 's'} cleared.`,
        ),
      cancelJob: (id: number) =>
        run(
          () => api<{ job: Job }>(`/api/jobs/${id}/cancel`, { method: 'POST' }),
          (r) => `Job ${id} is ${r.job.status}${r.job.cancel_requested && r.job.status !== 'cancelled' ? ' (cancel requested)' : ''}.`,
        ),
      enqueue: (spec: { package: string; version: string; recipe?: Recipe; python?: string; platform_tag?: string }) =>
        run(
          () => api<{ job: Job; created: boolean }>('/api/queue/enqueue', { method: 'POST', body: spec }),
          (r) =>
            r.created
              ? `${r.job.package} ${r.job.version} queued as job ${r.job.id}.`
              : `${r.job.package} ${r.job.version} is already queued (job ${r.job.id}).`,
        ),
      planInput: (id: number) =>
        run(
          () => api(`/api/pending-inputs/${id}/enqueue-plan`, { method: 'POST' }),
          () => `Input ${id} is being planned.`,
        ),
      enqueuePlan: (planId: string) =>
        run(
          () => api<{ jobs: Job[] }>(`/api/plans/${enc(planId)}/enqueue-builds`, { method: 'POST' }),
          (r) => `${r.jobs.length} job${r.jobs.length === 1 ? '' : 's'} from the plan are in the queue.`,
        ),
      enqueueNode: (planId: string, node: string) =>
        run(
          () => api<{ jobs: Job[] }>(`/api/plans/${enc(planId)}/enqueue-build`, { method: 'POST', body: { node } }),
          (r) => `${node}: ${r.jobs.length} job${r.jobs.length === 1 ? '' : 's'} queued.`,
        ),
    };
  }, [toast]);
}
