import { useCallback, useEffect, useRef, useState } from 'react';
import { api } from './api';

// Pages reload after actions elsewhere (a retry from the dashboard refreshes the queue).
type RefreshListener = () => void;
const refreshListeners = new Set<RefreshListener>();
export function refreshAll() {
  refreshListeners.forEach((l) => l());
}

export interface ApiState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/**
 * Fetches `path` (null: nothing), optionally every `intervalMs`. Keeps the last good data
 * when a refresh fails, so a flaky API shows a banner rather than a blank page.
 */
export function useApi<T>(path: string | null, intervalMs?: number): ApiState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState<boolean>(path !== null);
  const [tick, setTick] = useState(0);
  const lastPath = useRef<string | null>(null);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    refreshListeners.add(reload);
    return () => {
      refreshListeners.delete(reload);
    };
  }, [reload]);

  useEffect(() => {
    if (path === null) {
      // eslint-disable-next-line react-hooks/set-state-in-effect -- replaced by TanStack Query in the next commit
      setLoading(false);
      return;
    }
    if (lastPath.current !== path) {
      lastPath.current = path;
      setData(undefined);
      setLoading(true);
    }
    const controller = new AbortController();
    let alive = true;
    api<T>(path, { signal: controller.signal })
      .then((d) => {
        if (!alive) return;
        setData(d);
        setError(undefined);
        setLoading(false);
      })
      .catch((e) => {
        if (!alive) return;
        setError(e);
        setLoading(false);
      });
    return () => {
      alive = false;
      controller.abort();
    };
  }, [path, tick]);

  useEffect(() => {
    if (!intervalMs || path === null) return;
    const id = setInterval(() => {
      if (typeof document !== 'undefined' && document.visibilityState === 'hidden') return;
      reload();
    }, intervalMs);
    return () => clearInterval(id);
  }, [intervalMs, path, reload]);

  return { data, error, loading, reload };
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
