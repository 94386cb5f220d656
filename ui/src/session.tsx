// What the whole app knows about the server: reachable or not, its version and queue
// backend, and whether the worker token cookie is set.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, onApiHealth, probeSession, storeToken, type ApiHealth, type TokenState } from './lib/api';
import { refreshAll } from './lib/hooks';
import type { Health } from './lib/types';

interface SessionValue {
  health: ApiHealth;
  server: Health | null;
  token: TokenState;
  /** The first token probe answered (or failed): pages may load. */
  probed: boolean;
  /** Reads need a token (the server has READ_TOKEN) and the browser has no valid one. */
  locked: boolean;
  refreshToken: () => Promise<TokenState>;
  /** Stores a token in the cookie, then reloads what it may change. */
  saveToken: (token: string) => Promise<TokenState>;
  recheck: () => Promise<void>;
}

const SessionContext = createContext<SessionValue>({
  health: { state: 'unknown' },
  server: null,
  token: 'unknown',
  probed: false,
  locked: false,
  refreshToken: async () => 'unknown',
  saveToken: async () => 'unknown',
  recheck: async () => {},
});

export function SessionProvider({ children }: { children: ReactNode }) {
  const [health, setHealth] = useState<ApiHealth>({ state: 'unknown' });
  const [server, setServer] = useState<Health | null>(null);
  const [token, setToken] = useState<TokenState>('unknown');
  const [probed, setProbed] = useState(false);
  const [readRequired, setReadRequired] = useState(false);

  useEffect(() => onApiHealth(setHealth), []);

  const refreshToken = useCallback(async () => {
    const s = await probeSession();
    setToken(s.token);
    if (s.readRequired !== null) setReadRequired(s.readRequired);
    setProbed(true);
    return s.token;
  }, []);
  const locked = readRequired && (token === 'missing' || token === 'invalid');

  const saveToken = useCallback(
    async (text: string) => {
      await storeToken(text.trim());
      const t = await refreshToken();
      refreshAll();
      return t;
    },
    [refreshToken],
  );

  const recheck = useCallback(async () => {
    try {
      setServer(await api<Health>('/api/health', { timeoutMs: 8000 }));
    } catch {
      /* the banner says it */
    }
  }, []);

  useEffect(() => {
    // eslint-disable-next-line react-hooks/set-state-in-effect -- the health and token probes run once on start
    void recheck();
    void refreshToken();
  }, [recheck, refreshToken]);

  // While the API is down, look again every 5 s; the banner also has a button.
  useEffect(() => {
    if (health.state !== 'down') return;
    const id = setInterval(() => void recheck(), 5000);
    return () => clearInterval(id);
  }, [health.state, recheck]);

  const value = useMemo(
    () => ({ health, server, token, probed, locked, refreshToken, saveToken, recheck }),
    [health, server, token, probed, locked, refreshToken, saveToken, recheck],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession() {
  return useContext(SessionContext);
}
