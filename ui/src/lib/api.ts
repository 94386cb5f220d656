// The API client: one place that knows the base URL, the timeout, the JSON error shape,
// and tells the app when the API is down or asks for a token.

import type { SessionState } from './types';

export const API_BASE_KEY = 'refinery.apiBase';
export const REQUEST_TIMEOUT_MS = 15000;
/** Sent with every write; see `crates/refinery-server/src/origin.rs`. */
export const REQUEST_HEADER = 'X-Refinery-Request';

export class ApiError extends Error {
  /** HTTP status; 0 when the API could not be reached. */
  status: number;
  code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export type ApiHealth =
  | { state: 'unknown' }
  | { state: 'ok'; latencyMs: number }
  | { state: 'down'; message: string }
  | { state: 'unauthorized'; message: string; need?: 'read' | 'write' };

type Listener = (h: ApiHealth) => void;
const listeners = new Set<Listener>();
let current: ApiHealth = { state: 'unknown' };

export function onApiHealth(listener: Listener): () => void {
  listeners.add(listener);
  listener(current);
  return () => {
    listeners.delete(listener);
  };
}

export function apiHealth(): ApiHealth {
  return current;
}

function report(h: ApiHealth) {
  // An "ok" after an "unauthorized" on another request does not clear the token prompt
  // until a request that needed the token succeeds; keep it simple: last word wins,
  // except that reads which need no token do not hide a pending 401.
  if (current.state === 'unauthorized' && h.state === 'ok') return;
  current = h;
  listeners.forEach((l) => l(h));
}

/** Clears a pending 401 (after a token was stored). */
export function clearUnauthorized() {
  current = { state: 'unknown' };
  listeners.forEach((l) => l(current));
}

function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

/** The API base: '' (same origin, the usual case) or what Settings stored. */
export function apiBase(): string {
  return (storage()?.getItem(API_BASE_KEY) ?? '').replace(/\/+$/, '');
}

export function setApiBase(base: string) {
  const s = storage();
  const clean = base.trim().replace(/\/+$/, '');
  if (!s) return;
  if (clean) s.setItem(API_BASE_KEY, clean);
  else s.removeItem(API_BASE_KEY);
}

export function apiUrl(path: string): string {
  return apiBase() + path;
}

function credentials(): RequestCredentials {
  return apiBase() ? 'include' : 'same-origin';
}

async function errorOf(response: Response): Promise<ApiError> {
  let code = 'error';
  let message = `${response.status} ${response.statusText}`.trim();
  try {
    const text = await response.text();
    try {
      const body = JSON.parse(text);
      if (body?.error?.message) {
        code = String(body.error.code ?? code);
        message = String(body.error.message);
      }
    } catch {
      if (text.trim()) message = text.trim().slice(0, 500);
    }
  } catch {
    /* keep the status line */
  }
  return new ApiError(response.status, code, message);
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  form?: FormData;
  timeoutMs?: number;
  /** Do not report 401 to the app (the token probe itself). */
  quiet401?: boolean;
  signal?: AbortSignal;
}

/** Sends a request and returns the raw response (errors are thrown as ApiError). */
export async function rawRequest(path: string, opts: RequestOptions = {}): Promise<Response> {
  const controller = new AbortController();
  const timeout = setTimeout(() => controller.abort('timeout'), opts.timeoutMs ?? REQUEST_TIMEOUT_MS);
  const outer = opts.signal;
  const onOuterAbort = () => controller.abort('cancelled');
  outer?.addEventListener('abort', onOuterAbort);
  const headers: Record<string, string> = { Accept: 'application/json' };
  let body: BodyInit | undefined;
  if (opts.form) {
    body = opts.form;
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  const method = opts.method ?? (body ? 'POST' : 'GET');
  // The server refuses a browser's write without this header: HTML forms cannot send
  // it, so another site's page cannot forge the dashboard's requests (CSRF).
  if (method !== 'GET' && method !== 'HEAD') headers[REQUEST_HEADER] = '1';
  const started = typeof performance !== 'undefined' ? performance.now() : Date.now();
  let response: Response;
  try {
    response = await fetch(apiUrl(path), {
      method,
      headers,
      body,
      credentials: credentials(),
      signal: controller.signal,
    });
  } catch (e) {
    if (outer?.aborted) throw new ApiError(0, 'cancelled', 'the request was cancelled');
    const timedOut = controller.signal.aborted;
    const message = timedOut
      ? `the API did not answer within ${Math.round((opts.timeoutMs ?? REQUEST_TIMEOUT_MS) / 1000)} s`
      : `the API at ${apiBase() || window.location.origin} cannot be reached (${(e as Error)?.message ?? e})`;
    report({ state: 'down', message });
    throw new ApiError(0, timedOut ? 'timeout' : 'network', message);
  } finally {
    clearTimeout(timeout);
    outer?.removeEventListener('abort', onOuterAbort);
  }
  const latencyMs = Math.round((typeof performance !== 'undefined' ? performance.now() : Date.now()) - started);
  if (response.ok) {
    report({ state: 'ok', latencyMs });
    return response;
  }
  const error = await errorOf(response);
  if (response.status === 401 && !opts.quiet401) {
    report({ state: 'unauthorized', message: error.message, need: method === 'GET' || method === 'HEAD' ? 'read' : 'write' });
  } else if (response.status === 502 || response.status === 504) {
    report({ state: 'down', message: error.message });
  } else if (response.status === 503) {
    report({ state: 'down', message: `the API is up but its database is not: ${error.message}` });
  } else {
    report({ state: 'ok', latencyMs });
  }
  throw error;
}

/** A JSON request. */
export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const response = await rawRequest(path, opts);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(response.status, 'bad_json', `the API answered ${path} with something that is not JSON`);
  }
}

export async function apiText(path: string, opts: RequestOptions = {}): Promise<string> {
  const response = await rawRequest(path, opts);
  return response.text();
}

/** What the server says about the worker token cookie. */
/** `read-only`: a `--read-token` is stored, which reads but cannot act. */
export type TokenState = 'not-required' | 'missing' | 'valid' | 'read-only' | 'invalid' | 'unknown';

/**
 * Asks the server about the `worker_token` cookie without knowing it (it is HttpOnly):
 * `GET /api/session/token` always answers 200 with the tokens the server has and the
 * access the cookie gives (`none`, `write`, `read`, `invalid`), so a page load logs no
 * 400/401 in the console.
 */
export async function probeToken(): Promise<TokenState> {
  return (await probeSession()).token;
}

/** The token state, and whether reads need a token (`READ_TOKEN`); `null` when unknown. */
export async function probeSession(): Promise<{ token: TokenState; readRequired: boolean | null }> {
  try {
    const answer = await api<SessionState>('/api/session/token', { quiet401: true });
    return { token: tokenStateOf(answer), readRequired: !!answer?.read_token };
  } catch {
    return { token: 'unknown', readRequired: null };
  }
}

export function tokenStateOf(answer: SessionState | undefined): TokenState {
  if (!answer) return 'unknown';
  if (!answer.worker_token && !answer.read_token) return 'not-required';
  switch (answer.access) {
    case 'none':
      return 'missing';
    case 'write':
      return 'valid';
    case 'read':
      return 'read-only';
    case 'invalid':
      return 'invalid';
    default:
      return 'unknown';
  }
}

/** Stores the token in the HttpOnly `worker_token` cookie. */
export async function storeToken(token: string): Promise<void> {
  await api('/api/session/token', { method: 'POST', body: { token }, quiet401: true });
  clearUnauthorized();
}

/** Asks the server to drop the cookie. */
export async function forgetToken(): Promise<void> {
  await api('/api/session/token', { method: 'DELETE', quiet401: true });
}

export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

export const enc = encodeURIComponent;
