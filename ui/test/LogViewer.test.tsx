import { act } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LogViewer } from '../src/components/LogViewer';
import { LogBuffer } from '../src/lib/log';
import { advance, byLabel, buttonByText, click, render, type Rendered } from './render';

function bigBuffer(n: number): LogBuffer {
  const b = new LogBuffer();
  let chunk = '';
  for (let i = 0; i < n; i++) {
    chunk += i % 1000 === 500 ? `line ${i}: error: ffi.h not found\n` : `line ${i}: compiling module_${i}.c\n`;
    if (chunk.length > 200_000) {
      b.append(chunk);
      chunk = '';
    }
  }
  b.append(chunk);
  return b;
}

function scroller(r: Rendered): HTMLDivElement {
  return r.container.querySelector('.log-scroll') as HTMLDivElement;
}

/** jsdom does no layout: give the scroller a size and a scrollHeight. */
function fakeLayout(el: HTMLDivElement, height: number) {
  Object.defineProperty(el, 'clientHeight', { configurable: true, get: () => height });
  Object.defineProperty(el, 'scrollHeight', {
    configurable: true,
    get: () => parseFloat((el.querySelector('.log-spacer') as HTMLElement).style.height) || 0,
  });
}

describe('LogViewer', () => {
  let r: Rendered | null = null;
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    r?.unmount();
    r = null;
    vi.useRealTimers();
  });

  it('renders a window of 100,000 lines, not all of them', () => {
    const b = bigBuffer(100_000);
    r = render(<LogViewer buffer={b} version={b.version} label="Build log" fileName="x.log" fallbackHeight={600} />);
    const rendered = r.container.querySelectorAll('.log-line');
    expect(rendered.length).toBeGreaterThan(10);
    expect(rendered.length).toBeLessThan(200);
    expect(r.container.textContent).toContain('100,000 lines');
    // Autoscroll starts on: the window is at the end.
    const last = rendered[rendered.length - 1] as HTMLElement;
    expect(last.dataset.line).toBe('100000');
  });

  it('searches with highlight, counts matches and jumps between them', async () => {
    const b = bigBuffer(5_000);
    r = render(<LogViewer buffer={b} version={b.version} label="Build log" fileName="x.log" fallbackHeight={600} />);
    const input = byLabel(r.container, 'Search the log') as HTMLInputElement;
    const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
    act(() => {
      setter.call(input, 'ERROR: FFI');
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await advance(200);
    expect(r.container.querySelector('.match-count')!.textContent).toBe('5 matching lines');
    click(byLabel(r.container, 'Next match'));
    expect(r.container.querySelector('.match-count')!.textContent).toMatch(/^\d \/ 5 lines$/);
    const current = r.container.querySelector('.log-line.current') as HTMLElement;
    expect(current).not.toBeNull();
    expect(current.querySelector('mark')!.textContent).toBe('error: ffi');
    // Jumping to a match stops the autoscroll.
    const auto = [...r.container.querySelectorAll('label.toggle')].find((l) => l.textContent === 'Autoscroll')!.querySelector('input')!;
    expect(auto.checked).toBe(false);
    // Previous from the first wraps to the last.
    const before = r.container.querySelector('.match-count')!.textContent;
    click(byLabel(r.container, 'Previous match'));
    expect(r.container.querySelector('.match-count')!.textContent).not.toBe(before);
  });

  it('reports no match', async () => {
    const b = bigBuffer(100);
    r = render(<LogViewer buffer={b} version={b.version} label="Build log" fileName="x.log" />);
    const input = byLabel(r.container, 'Search the log') as HTMLInputElement;
    const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
    act(() => {
      setter.call(input, 'no such text');
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await advance(200);
    expect(r.container.querySelector('.match-count')!.textContent).toBe('no match');
    expect((byLabel(r.container, 'Next match') as HTMLButtonElement).disabled).toBe(true);
  });

  it('follows new lines while autoscroll is on, and stops when the reader scrolls up', () => {
    const b = new LogBuffer();
    b.append('one\ntwo\n');
    r = render(<LogViewer buffer={b} version={b.version} label="Build log" fileName="x.log" fallbackHeight={180} />);
    const el = scroller(r);
    fakeLayout(el, 180);
    for (let i = 0; i < 200; i++) b.append(`more ${i}\n`);
    r.rerender(<LogViewer buffer={b} version={b.version} label="Build log" fileName="x.log" fallbackHeight={180} />);
    // 202 lines * 18 px - 180 px viewport
    expect(el.scrollTop).toBe(202 * 18 - 180);
    expect(r.container.querySelector('[data-line="202"]')).not.toBeNull();
    // The reader scrolls up: autoscroll turns off and new lines do not move the view.
    act(() => {
      el.scrollTop = 100;
      el.dispatchEvent(new Event('scroll'));
    });
    const auto = [...r.container.querySelectorAll('label.toggle')].find((l) => l.textContent === 'Autoscroll')!.querySelector('input')!;
    expect(auto.checked).toBe(false);
    b.append('newest\n');
    r.rerender(<LogViewer buffer={b} version={b.version} label="Build log" fileName="x.log" fallbackHeight={180} />);
    expect(el.scrollTop).toBe(100);
    // The toggle turns it back on and jumps to the end.
    click(auto);
    expect(auto.checked).toBe(true);
    expect(el.scrollTop).toBe(203 * 18 - 180);
  });

  it('wraps long lines when asked', () => {
    const b = new LogBuffer();
    b.append('short\n' + 'x'.repeat(500) + '\n');
    r = render(<LogViewer buffer={b} version={b.version} label="Build log" fileName="x.log" />);
    const wrap = [...r.container.querySelectorAll('label.toggle')].find((l) => l.textContent === 'Wrap lines')!.querySelector('input')!;
    expect(scroller(r).classList.contains('wrap')).toBe(false);
    click(wrap);
    expect(scroller(r).classList.contains('wrap')).toBe(true);
    // The long line takes several rows (120 columns without a measured width).
    const long = r.container.querySelector('[data-line="2"]') as HTMLElement;
    expect(parseFloat(long.style.minHeight)).toBe(Math.ceil(500 / 120) * 18);
  });

  it('downloads the whole log', () => {
    const b = new LogBuffer();
    b.append('a\nb\n');
    const created: Blob[] = [];
    const origCreate = URL.createObjectURL;
    URL.createObjectURL = (blob: Blob) => {
      created.push(blob);
      return 'blob:x';
    };
    URL.revokeObjectURL = () => {};
    const clicks: string[] = [];
    const origClick = HTMLAnchorElement.prototype.click;
    HTMLAnchorElement.prototype.click = function (this: HTMLAnchorElement) {
      clicks.push(this.download);
    };
    try {
      r = render(<LogViewer buffer={b} version={b.version} label="Build log" fileName="six-1.0.log" />);
      click(buttonByText(r.container, 'Download'));
      expect(clicks).toEqual(['six-1.0.log']);
      expect(created[0].size).toBe(4);
    } finally {
      URL.createObjectURL = origCreate;
      HTMLAnchorElement.prototype.click = origClick;
    }
  });
});
