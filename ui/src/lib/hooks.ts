import { useCallback, useEffect, useState } from 'react';
import { QueryClient, useQuery } from '@tanstack/react-query';
import { api } from './api';

/**
 * The dashboard's one cache of API answers (TanStack Query), keyed by the API path. No
 * retries: a failing refresh shows its error at once (and the last good data stays).
 */
export const queryClient = new QueryClient({
  defaultOptions: { queries: { retry: false, refetchOnWindowFocus: false } },
});

/** Pages reload after actions elsewhere (a retry from the dashboard refreshes the queue). */
export function refreshAll() {
  void queryClient.invalidateQueries();
}

export interface ApiState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/**
 * Fetches `path` (null: nothing), optionally every `intervalMs` while the page is visible.
 * Keeps the last good data when a refresh fails, so a flaky API shows a banner rather than
 * a blank page.
 */
export function useApi<T>(path: string | null, intervalMs?: number): ApiState<T> {
  const query = useQuery({
    queryKey: [path],
    queryFn: ({ signal }) => api<T>(path!, { signal }),
    enabled: path !== null,
    refetchInterval: intervalMs || false,
  });
  const { refetch } = query;
  const reload = useCallback(() => void refetch(), [refetch]);
  return { data: query.data, error: query.error ?? undefined, loading: path !== null && query.isPending, reload };
}

/** Runs an action with a busy flag. */
export function useAction<A extends unknown[]>(fn: (...args: A) => Promise<void>) {
  const [busy, setBusy] = useState(false);
  const run = useCallback(
    async (...args: A) => {
      setBusy(true);
      try {
        await fn(...args);
      } finally {
        setBusy(false);
      }
    },
    [fn],
  );
  return [run, busy] as const;
}

/** A value that follows `value` after `ms` without changes. */
export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const id = setTimeout(() => setV(value), ms);
    return () => clearTimeout(id);
  }, [value, ms]);
  return v;
}
