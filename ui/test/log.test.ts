import { describe, expect, it } from 'vitest';
import {
  LogBuffer,
  atBottom,
  findMatches,
  followAfterScroll,
  highlight,
  lineAtRow,
  matchNear,
  rowOffsets,
  rowsOf,
  stepMatch,
  stripAnsi,
  visibleWindow,
} from '../src/lib/log';

describe('LogBuffer', () => {
  it('joins chunks that end mid-line', () => {
    const b = new LogBuffer();
    b.append('first li');
    expect(b.count).toBe(1);
    b.append('ne\nsecond\nthi');
    expect(b.all()).toEqual(['first line', 'second', 'thi']);
    b.append('rd\n');
    expect(b.all()).toEqual(['first line', 'second', 'third']);
    expect(b.count).toBe(3);
    expect(b.text()).toBe('first line\nsecond\nthird\n');
  });

  it('normalizes CRLF, strips colour codes and bumps its version', () => {
    const b = new LogBuffer();
    const v = b.version;
    b.append('\x1b[31mred\x1b[0m\r\nok\r\n');
    expect(b.all()).toEqual(['red', 'ok']);
    expect(b.version).toBeGreaterThan(v);
    expect(stripAnsi('plain')).toBe('plain');
  });

  it('keeps at most maxLines, counting what it dropped', () => {
    const b = new LogBuffer(3);
    b.append('1\n2\n3\n4\n5\n');
    expect(b.all()).toEqual(['3', '4', '5']);
    expect(b.dropped).toBe(2);
  });

  it('holds 100,000 lines appended in chunks', () => {
    const b = new LogBuffer();
    for (let c = 0; c < 100; c++) {
      let s = '';
      for (let i = 0; i < 1000; i++) s += `line ${c * 1000 + i}\n`;
      b.append(s);
    }
    expect(b.count).toBe(100_000);
    expect(b.line(99_999)).toBe('line 99999');
  });
});

describe('windowing', () => {
  it('computes row offsets with and without wrapping', () => {
    const lines = ['a', 'x'.repeat(25), '', 'y'.repeat(10)];
    expect([...rowOffsets(lines, 4, null)]).toEqual([0, 1, 2, 3, 4]);
    expect([...rowOffsets(lines, 4, 10)]).toEqual([0, 1, 4, 5, 6]);
    expect(rowsOf(0, 10)).toBe(1);
    expect(rowsOf(21, 10)).toBe(3);
  });

  it('finds the line of a row by binary search', () => {
    const offsets = Int32Array.from([0, 1, 4, 5, 6]);
    expect(lineAtRow(offsets, 0)).toBe(0);
    expect(lineAtRow(offsets, 1)).toBe(1);
    expect(lineAtRow(offsets, 3)).toBe(1);
    expect(lineAtRow(offsets, 4)).toBe(2);
    expect(lineAtRow(offsets, 99)).toBe(3);
  });

  it('renders only what is visible (plus overscan) of 100,000 lines', () => {
    const offsets = rowOffsets(() => 'x', 100_000, null);
    const w = visibleWindow(offsets, 50_000 * 18, 600, 18, 10);
    expect(w.height).toBe(100_000 * 18);
    expect(w.start).toBe(50_000 - 10);
    expect(w.end - w.start).toBeLessThan(60);
    expect(w.top).toBe(w.start * 18);
    const end = visibleWindow(offsets, w.height - 600, 600, 18, 10);
    expect(end.end).toBe(100_000);
    const empty = visibleWindow(rowOffsets([], 0, null), 0, 600, 18);
    expect(empty).toEqual({ start: 0, end: 0, top: 0, height: 0 });
  });

  it('computes 100,000 offsets and matches fast', () => {
    const lines = Array.from({ length: 100_000 }, (_, i) => `step ${i}: ${i % 97 === 0 ? 'error: ffi.h missing' : 'compiling'}`);
    const t0 = performance.now();
    rowOffsets(lines, lines.length, 80);
    const matches = findMatches(lines, lines.length, 'ERROR');
    const ms = performance.now() - t0;
    expect(matches.length).toBe(Math.ceil(100_000 / 97));
    expect(ms).toBeLessThan(500);
  });
});

describe('search', () => {
  const lines = ['Building wheel', 'error: ffi.h: No such file', 'ERROR again', 'done'];

  it('finds lines, case-insensitive by default', () => {
    expect(findMatches(lines, 4, 'error')).toEqual([1, 2]);
    expect(findMatches(lines, 4, 'error', true)).toEqual([1]);
    expect(findMatches(lines, 4, '')).toEqual([]);
    expect(findMatches(lines, 2, 'again')).toEqual([]);
  });

  it('splits a line into highlighted segments', () => {
    expect(highlight('a error b Error', 'error')).toEqual([
      { text: 'a ', match: false },
      { text: 'error', match: true },
      { text: ' b ', match: false },
      { text: 'Error', match: true },
    ]);
    expect(highlight('abc', 'zz')).toEqual([{ text: 'abc', match: false }]);
    expect(highlight('', 'x')).toEqual([{ text: '', match: false }]);
    expect(highlight('aaa', 'a').filter((s) => s.match)).toHaveLength(3);
  });

  it('steps through matches with wrap-around', () => {
    expect(stepMatch(-1, 3, 1)).toBe(0);
    expect(stepMatch(-1, 3, -1)).toBe(2);
    expect(stepMatch(2, 3, 1)).toBe(0);
    expect(stepMatch(0, 3, -1)).toBe(2);
    expect(stepMatch(0, 0, 1)).toBe(-1);
    expect(matchNear([3, 10, 20], 11)).toBe(2);
    expect(matchNear([3, 10, 20], 99)).toBe(2);
    expect(matchNear([3, 10, 20], 0)).toBe(0);
  });
});

describe('autoscroll', () => {
  it('knows the bottom', () => {
    expect(atBottom(400, 600, 1000)).toBe(true);
    expect(atBottom(397, 600, 1000)).toBe(true);
    expect(atBottom(300, 600, 1000)).toBe(false);
  });

  it('turns off when a person scrolls up, not when we scroll', () => {
    expect(followAfterScroll(true, false, false)).toBe(false);
    expect(followAfterScroll(true, false, true)).toBe(true);
    expect(followAfterScroll(true, true, false)).toBe(true);
    // Only the toggle turns it back on.
    expect(followAfterScroll(false, true, false)).toBe(false);
  });
});
