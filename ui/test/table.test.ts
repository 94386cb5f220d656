import { describe, expect, it } from 'vitest';
import {
  compareValues,
  filterRows,
  nextSort,
  pageButtons,
  pageSelection,
  paginate,
  pruneSelection,
  sortRows,
  togglePage,
} from '../src/lib/table';

describe('sorting', () => {
  const rows = [
    { n: 'pkg10', v: 3 },
    { n: 'pkg2', v: null },
    { n: 'Pkg1', v: 3 },
    { n: 'pkg3', v: 1 },
  ];

  it('sorts strings naturally and case-insensitively', () => {
    expect(sortRows(rows, (r) => r.n, 'asc').map((r) => r.n)).toEqual(['Pkg1', 'pkg2', 'pkg3', 'pkg10']);
    expect(sortRows(rows, (r) => r.n, 'desc').map((r) => r.n)).toEqual(['pkg10', 'pkg3', 'pkg2', 'Pkg1']);
  });

  it('sorts numbers as numbers, keeps ties stable and puts empty values last both ways', () => {
    expect(sortRows(rows, (r) => r.v, 'asc').map((r) => r.n)).toEqual(['pkg3', 'pkg10', 'Pkg1', 'pkg2']);
    expect(sortRows(rows, (r) => r.v, 'desc').map((r) => r.n)).toEqual(['pkg10', 'Pkg1', 'pkg3', 'pkg2']);
  });

  it('does not change its input', () => {
    const copy = rows.slice();
    sortRows(rows, (r) => r.n, 'asc');
    expect(rows).toEqual(copy);
  });

  it('compares mixed values sensibly', () => {
    expect(compareValues(2, 10)).toBeLessThan(0);
    expect(compareValues('a2', 'a10')).toBeLessThan(0);
    expect(compareValues(null, 'x')).toBeGreaterThan(0);
    expect(compareValues(true, false)).toBeGreaterThan(0);
  });

  it('flips direction on the same column and resets on another', () => {
    let s = nextSort(null, 'a');
    expect(s).toEqual({ key: 'a', dir: 'asc' });
    s = nextSort(s, 'a');
    expect(s).toEqual({ key: 'a', dir: 'desc' });
    expect(nextSort(s, 'b', 'desc')).toEqual({ key: 'b', dir: 'desc' });
  });
});

describe('pagination', () => {
  const rows = Array.from({ length: 53 }, (_, i) => i);

  it('cuts pages and reports the range', () => {
    const p = paginate(rows, 1, 25);
    expect(p.rows[0]).toBe(25);
    expect(p.rows).toHaveLength(25);
    expect(p).toMatchObject({ page: 1, pageCount: 3, from: 26, to: 50, total: 53 });
    expect(paginate(rows, 2, 25).rows).toEqual([50, 51, 52]);
  });

  it('clamps a page out of range (rows went away after a refresh)', () => {
    expect(paginate(rows, 9, 25).page).toBe(2);
    expect(paginate(rows, -3, 25).page).toBe(0);
    expect(paginate([], 4, 25)).toMatchObject({ page: 0, pageCount: 1, from: 0, to: 0, total: 0 });
  });

  it('offers first, last and neighbours with gaps', () => {
    expect(pageButtons(0, 1)).toEqual([0]);
    expect(pageButtons(5, 10)).toEqual([0, -1, 4, 5, 6, -1, 9]);
    expect(pageButtons(1, 4)).toEqual([0, 1, 2, 3]);
  });
});

describe('selection', () => {
  it('selects and clears a page', () => {
    let s = togglePage(new Set<number>(), [1, 2, 3]);
    expect([...s]).toEqual([1, 2, 3]);
    expect(pageSelection(s, [1, 2, 3])).toBe('all');
    expect(pageSelection(s, [3, 4])).toBe('some');
    s = togglePage(s, [1, 2, 3]);
    expect(s.size).toBe(0);
  });

  it('drops keys that are gone and keeps identity when nothing changed', () => {
    const s = new Set([1, 2, 3]);
    expect([...pruneSelection(s, [2, 3, 4])]).toEqual([2, 3]);
    expect(pruneSelection(s, [1, 2, 3])).toBe(s);
  });

  it('filters over several fields', () => {
    const rows = [{ a: 'numpy', b: 'failed' }, { a: 'six', b: 'built' }];
    expect(filterRows(rows, 'FAIL', (r) => [r.a, r.b])).toEqual([rows[0]]);
    expect(filterRows(rows, ' ', (r) => [r.a])).toHaveLength(2);
  });
});
