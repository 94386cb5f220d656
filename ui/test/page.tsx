// Mounts a page of the dashboard at a URL: the real route tree in a bare shell (no header,
// session or token dialog), TanStack Query's client, a fetch that answers what each test
// says, and an EventSource the test drives.
import { act } from 'react';
import { QueryClientProvider } from '@tanstack/react-query';
import { createMemoryHistory, Outlet, RouterProvider } from '@tanstack/react-router';
import { vi } from 'vitest';
import { queryClient } from '../src/lib/hooks';
import { makeRouter } from '../src/routes';
import { render, type Rendered } from './render';

/** An answer: JSON (status 200 unless given), text, or a status with the API's error body. */
export type Answer = { json: unknown; status?: number } | { text: string } | { status: number };

export function answer(a: Answer): Response {
  if ('json' in a) return new Response(JSON.stringify(a.json), { status: a.status ?? 200 });
  if ('text' in a) return new Response(a.text, { status: 200 });
  return new Response(JSON.stringify({ error: { code: 'not_found', message: `${a.status}` } }), { status: a.status });
}

/** The requested paths (with their query strings), in order. */
export const fetched: string[] = [];
const originalFetch = globalThis.fetch;

/** Serves `route(path)` for every request (path with query, no origin). */
export function serve(route: (path: string) => Answer) {
  fetched.length = 0;
  globalThis.fetch = vi.fn((input: RequestInfo | URL) => {
    const url = new URL(String(input), 'http://refinery.test');
    const path = url.pathname + url.search;
    fetched.push(path);
    return Promise.resolve(answer(route(path)));
  }) as typeof fetch;
}

type Listener = (e: MessageEvent) => void;

/** jsdom has no EventSource: this one records its URL and lets the test send events. */
export class FakeEventSource {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  static instances: FakeEventSource[] = [];
  readyState = FakeEventSource.CONNECTING;
  private listeners = new Map<string, Listener[]>();
  constructor(
    readonly url: string,
    readonly init?: EventSourceInit,
  ) {
    FakeEventSource.instances.push(this);
  }
  addEventListener(type: string, fn: Listener) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  removeEventListener() {}
  close() {
    this.readyState = FakeEventSource.CLOSED;
  }
  /** Sends an event (inside act, so React renders what it changed). */
  emit(type: string, data?: string) {
    if (type === 'open') this.readyState = FakeEventSource.OPEN;
    act(() => {
      for (const fn of this.listeners.get(type) ?? []) fn(new MessageEvent(type, { data }));
    });
  }
}

const originalEventSource = (globalThis as { EventSource?: unknown }).EventSource;
const originalScrollTo = window.scrollTo;

export function installFakes() {
  FakeEventSource.instances = [];
  (globalThis as { EventSource?: unknown }).EventSource = FakeEventSource;
  // jsdom does no layout; the router scrolls to the top on navigation.
  window.scrollTo = () => {};
}

export function restoreFakes() {
  globalThis.fetch = originalFetch;
  (globalThis as { EventSource?: unknown }).EventSource = originalEventSource;
  window.scrollTo = originalScrollTo;
  queryClient.clear();
}

/** Renders the dashboard's route for `url` without the app's frame. */
export function mountAt(url: string): Rendered {
  const router = makeRouter({ shell: () => <Outlet />, history: createMemoryHistory({ initialEntries: [url] }) });
  return render(
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
}

/** Lets promises and real timers run for a moment. */
export async function settle(ms = 5) {
  await act(async () => {
    await new Promise((r) => setTimeout(r, ms));
  });
}

/** Waits (real timers) until `test` holds, failing after 4 s with what the page shows. */
export async function until(r: Rendered, test: () => boolean, what: string) {
  const deadline = Date.now() + 4000;
  while (Date.now() < deadline && !test()) await settle();
  if (!test()) throw new Error(`timed out waiting for ${what}; the page shows: ${r.container.textContent}`);
}
