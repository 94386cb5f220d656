// Pure logic of the log viewer: a line buffer fed by arbitrary chunks, row offsets for
// windowed rendering (with or without wrapping), search and highlight, autoscroll.

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** Drops terminal colour codes (pip and compilers print them). */
export function stripAnsi(text: string): string {
  return text.includes('\x1b') ? text.replace(ANSI, '') : text;
}

/** Lines of a growing log. Chunks may end in the middle of a line. */
export class LogBuffer {
  /** The last element is the line being written (possibly empty). */
  private lines: string[] = [''];
  /** Bumps on every change, so React can follow. */
  version = 0;
  /** Lines dropped from the start when the cap was reached. */
  dropped = 0;

  constructor(readonly maxLines = 2_000_000) {}

  append(text: string): void {
    if (!text) return;
    const parts = stripAnsi(text).replace(/\r\n?/g, '\n').split('\n');
    this.lines[this.lines.length - 1] += parts[0];
    for (let i = 1; i < parts.length; i++) this.lines.push(parts[i]);
    const extra = this.lines.length - 1 - this.maxLines;
    if (extra > 0) {
      this.lines.splice(0, extra);
      this.dropped += extra;
    }
    this.version++;
  }

  reset(text = ''): void {
    this.lines = [''];
    this.dropped = 0;
    this.version++;
    this.append(text);
  }

  /** Number of lines to show: a trailing empty partial line is not one. */
  get count(): number {
    const n = this.lines.length;
    return this.lines[n - 1] === '' ? n - 1 : n;
  }

  line(i: number): string {
    return this.lines[i] ?? '';
  }

  /** The visible lines (a copy of the references; cheap). */
  all(): string[] {
    return this.lines.slice(0, this.count);
  }

  text(): string {
    const n = this.count;
    if (n === 0) return '';
    return this.lines.slice(0, n).join('\n') + (this.lines[this.lines.length - 1] === '' ? '\n' : '');
  }
}

/** Rows a line takes: 1 without wrapping, else ceil(length / columns). */
export function rowsOf(length: number, columns: number | null): number {
  if (!columns || columns <= 0) return 1;
  return Math.max(1, Math.ceil(length / columns));
}

/**
 * `offsets[i]` is the first row of line i, `offsets[count]` the total number of rows.
 * Tabs count as one column; the viewer renders with `tab-size: 1` when wrapping.
 */
export function rowOffsets(lines: readonly string[] | ((i: number) => string), count: number, columns: number | null): Int32Array {
  const get = typeof lines === 'function' ? lines : (i: number) => lines[i];
  const offsets = new Int32Array(count + 1);
  let row = 0;
  for (let i = 0; i < count; i++) {
    offsets[i] = row;
    row += columns ? rowsOf(get(i).length, columns) : 1;
  }
  offsets[count] = row;
  return offsets;
}

/** The line that holds `row` (binary search over the offsets). */
export function lineAtRow(offsets: Int32Array, row: number): number {
  const count = offsets.length - 1;
  if (count <= 0) return 0;
  if (row <= 0) return 0;
  let lo = 0;
  let hi = count - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid] <= row) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export interface Window {
  /** First line rendered. */
  start: number;
  /** One past the last line rendered. */
  end: number;
  /** Pixel offset of the first rendered line. */
  top: number;
  /** Pixel height of everything. */
  height: number;
}

/** Which lines to render for a scroll position: the visible ones plus `overscan` rows. */
export function visibleWindow(
  offsets: Int32Array,
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  overscan = 20,
): Window {
  const count = offsets.length - 1;
  const totalRows = offsets[count] ?? 0;
  const height = totalRows * rowHeight;
  if (count <= 0) return { start: 0, end: 0, top: 0, height };
  const firstRow = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const lastRow = Math.ceil((scrollTop + viewportHeight) / rowHeight) + overscan;
  const start = lineAtRow(offsets, firstRow);
  const end = Math.min(count, lineAtRow(offsets, lastRow) + 1);
  return { start, end, top: offsets[start] * rowHeight, height };
}

/** Line indexes that contain `query` (case-insensitive unless asked). */
export function findMatches(
  lines: readonly string[] | ((i: number) => string),
  count: number,
  query: string,
  caseSensitive = false,
): number[] {
  if (!query) return [];
  const get = typeof lines === 'function' ? lines : (i: number) => lines[i];
  const q = caseSensitive ? query : query.toLowerCase();
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const line = get(i);
    if ((caseSensitive ? line : line.toLowerCase()).includes(q)) out.push(i);
  }
  return out;
}

export interface Segment {
  text: string;
  match: boolean;
}

/** Splits a line into plain and matching segments, for highlighting. */
export function highlight(line: string, query: string, caseSensitive = false): Segment[] {
  if (!query) return [{ text: line, match: false }];
  const hay = caseSensitive ? line : line.toLowerCase();
  const needle = caseSensitive ? query : query.toLowerCase();
  const out: Segment[] = [];
  let from = 0;
  for (;;) {
    const at = hay.indexOf(needle, from);
    if (at < 0) break;
    if (at > from) out.push({ text: line.slice(from, at), match: false });
    out.push({ text: line.slice(at, at + needle.length), match: true });
    from = at + needle.length;
  }
  if (from < line.length || out.length === 0) out.push({ text: line.slice(from), match: false });
  return out;
}

/** Within `slack` pixels of the bottom. */
export function atBottom(scrollTop: number, clientHeight: number, scrollHeight: number, slack = 4): boolean {
  return scrollHeight - (scrollTop + clientHeight) <= slack;
}

/**
 * Autoscroll after a scroll event: scrolling we did ourselves changes nothing; a person
 * scrolling away from the bottom turns it off (so the log stops jumping while they read);
 * the toggle turns it back on.
 */
export function followAfterScroll(follow: boolean, isAtBottom: boolean, programmatic: boolean): boolean {
  if (programmatic) return follow;
  return follow && isAtBottom;
}

/** The next match index when stepping through matches (wraps around). */
export function stepMatch(current: number, total: number, delta: 1 | -1): number {
  if (total <= 0) return -1;
  if (current < 0) return delta === 1 ? 0 : total - 1;
  return (current + delta + total) % total;
}

/** The first match at or after `line`, for keeping the position when matches change. */
export function matchNear(matches: readonly number[], line: number): number {
  let lo = 0;
  let hi = matches.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (matches[mid] < line) lo = mid + 1;
    else hi = mid;
  }
  return lo < matches.length ? lo : matches.length - 1;
}
