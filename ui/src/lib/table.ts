// Pure logic of the data tables: sorting, pagination, selection.

export type SortDir = 'asc' | 'desc';
export type SortValue = string | number | boolean | null | undefined;

export interface SortState {
  key: string;
  dir: SortDir;
}

/** Compares two sort values: numbers as numbers, strings naturally ("a2" < "a10"), empty last. */
export function compareValues(a: SortValue, b: SortValue): number {
  const aEmpty = a === null || a === undefined || a === '';
  const bEmpty = b === null || b === undefined || b === '';
  if (aEmpty || bEmpty) return aEmpty === bEmpty ? 0 : aEmpty ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: 'base' });
}

/**
 * Sorts rows by `value(row)`, stable (equal rows keep their order), empty values last in
 * both directions.
 */
export function sortRows<T>(rows: readonly T[], value: (row: T) => SortValue, dir: SortDir): T[] {
  const indexed = rows.map((row, i) => ({ row, i, v: value(row) }));
  indexed.sort((x, y) => {
    const xEmpty = x.v === null || x.v === undefined || x.v === '';
    const yEmpty = y.v === null || y.v === undefined || y.v === '';
    if (xEmpty !== yEmpty) return xEmpty ? 1 : -1;
    const c = compareValues(x.v, y.v);
    if (c !== 0) return dir === 'asc' ? c : -c;
    return x.i - y.i;
  });
  return indexed.map((x) => x.row);
}

/** Clicking a header: a new column sorts by its default direction, the same one flips. */
export function nextSort(current: SortState | null, key: string, defaultDir: SortDir = 'asc'): SortState {
  if (!current || current.key !== key) return { key, dir: defaultDir };
  return { key, dir: current.dir === 'asc' ? 'desc' : 'asc' };
}

export interface Page<T> {
  rows: T[];
  /** The page shown (clamped into range), from 0. */
  page: number;
  pageCount: number;
  /** 1-based index of the first row shown, 0 when empty. */
  from: number;
  to: number;
  total: number;
}

export function paginate<T>(rows: readonly T[], page: number, pageSize: number): Page<T> {
  const size = Math.max(1, Math.floor(pageSize));
  const total = rows.length;
  const pageCount = Math.max(1, Math.ceil(total / size));
  const p = Math.min(Math.max(0, Math.floor(page) || 0), pageCount - 1);
  const start = p * size;
  const slice = rows.slice(start, start + size);
  return {
    rows: slice,
    page: p,
    pageCount,
    from: total === 0 ? 0 : start + 1,
    to: start + slice.length,
    total,
  };
}

/** Page numbers to offer: first, last, and a window around the current one (-1: a gap). */
export function pageButtons(page: number, pageCount: number, around = 1): number[] {
  const out: number[] = [];
  for (let i = 0; i < pageCount; i++) {
    if (i === 0 || i === pageCount - 1 || Math.abs(i - page) <= around) {
      out.push(i);
    } else if (out[out.length - 1] !== -1) {
      out.push(-1);
    }
  }
  return out;
}

export function toggleKey<K>(set: ReadonlySet<K>, key: K): Set<K> {
  const next = new Set(set);
  if (next.has(key)) next.delete(key);
  else next.add(key);
  return next;
}

/** Header checkbox: selects every key of the page, or clears them when all are selected. */
export function togglePage<K>(set: ReadonlySet<K>, pageKeys: readonly K[]): Set<K> {
  const next = new Set(set);
  const all = pageKeys.length > 0 && pageKeys.every((k) => next.has(k));
  for (const k of pageKeys) {
    if (all) next.delete(k);
    else next.add(k);
  }
  return next;
}

export function pageSelection<K>(set: ReadonlySet<K>, pageKeys: readonly K[]): 'none' | 'some' | 'all' {
  const n = pageKeys.filter((k) => set.has(k)).length;
  if (n === 0) return 'none';
  return n === pageKeys.length ? 'all' : 'some';
}

/** Drops selected keys that are no longer rows (after a refresh). */
export function pruneSelection<K>(set: ReadonlySet<K>, keys: readonly K[]): Set<K> {
  const present = new Set(keys);
  const next = new Set<K>();
  set.forEach((k) => {
    if (present.has(k)) next.add(k);
  });
  return next.size === set.size ? (set as Set<K>) : next;
}

/** Case-insensitive filter over several fields. */
export function filterRows<T>(rows: readonly T[], query: string, fields: (row: T) => unknown[]): T[] {
  const q = query.trim().toLowerCase();
  if (!q) return rows.slice();
  return rows.filter((r) => fields(r).some((f) => f !== null && f !== undefined && String(f).toLowerCase().includes(q)));
}
