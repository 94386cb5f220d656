// useApi over TanStack Query: the data, the error banner's input, polling and refreshAll,
// against a fetch that answers what each test says (the browser tests use the real server).
import { act } from 'react';
import { QueryClientProvider } from '@tanstack/react-query';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { errorMessage } from '../src/lib/api';
import { queryClient, refreshAll, useApi } from '../src/lib/hooks';
import { render } from './render';

function Probe({ path, every }: { path: string | null; every?: number }) {
  const { data, error, loading } = useApi<{ n: number }>(path, every);
  return (
    <p>
      {loading ? 'loading' : 'idle'}|{data ? data.n : '-'}|{error ? errorMessage(error) : ''}
    </p>
  );
}

const original = globalThis.fetch;
let answers: Array<() => Response> = [];
let calls: string[] = [];

function serve(...next: Array<() => Response>) {
  answers = next;
  calls = [];
  globalThis.fetch = vi.fn((input: RequestInfo | URL) => {
    calls.push(String(input));
    const a = answers.length > 1 ? answers.shift()! : answers[0];
    return Promise.resolve(a());
  }) as typeof fetch;
}
const ok = (n: number) => () => new Response(JSON.stringify({ n }), { status: 200 });
const broken = () => new Response('database is locked', { status: 500 });

async function settle() {
  await act(async () => {
    await new Promise((r) => setTimeout(r, 5));
  });
}

/** Lets the fetches answer until the probe shows `want` (fails after 2 s with what it shows). */
async function until(el: HTMLElement, want: string | RegExp) {
  const deadline = Date.now() + 2000;
  const seen = () => el.textContent ?? '';
  while (Date.now() < deadline && !(typeof want === 'string' ? seen() === want : want.test(seen()))) await settle();
  if (typeof want === 'string') expect(seen()).toBe(want);
  else expect(seen()).toMatch(want);
}

describe('useApi', () => {
  afterEach(() => {
    globalThis.fetch = original;
    queryClient.clear();
  });

  const mount = (path: string | null, every?: number) =>
    render(
      <QueryClientProvider client={queryClient}>
        <Probe path={path} every={every} />
      </QueryClientProvider>,
    );

  it('fetches nothing for a null path and is not loading', async () => {
    serve(ok(1));
    const r = mount(null);
    await settle();
    expect(r.container.textContent).toBe('idle|-|');
    expect(calls).toEqual([]);
    r.unmount();
  });

  it('shows the data, then keeps it with the error when a refresh fails', async () => {
    serve(ok(1), broken, ok(3));
    const r = mount('/api/n');
    expect(r.container.textContent).toBe('loading|-|');
    await until(r.container, 'idle|1|');
    refreshAll();
    await until(r.container, /^idle\|1\|.*database is locked/);
    refreshAll();
    await until(r.container, 'idle|3|');
    expect(calls.length).toBe(3);
    r.unmount();
  });

  it('polls every intervalMs', async () => {
    serve(ok(1), ok(2));
    const r = mount('/api/n', 100);
    await until(r.container, 'idle|1|');
    await until(r.container, 'idle|2|');
    r.unmount();
  });
});
