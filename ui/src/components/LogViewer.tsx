import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useDebounced } from '../lib/hooks';
import {
  atBottom,
  findMatches,
  followAfterScroll,
  highlight,
  matchNear,
  rowOffsets,
  stepMatch,
  visibleWindow,
  type LogBuffer,
} from '../lib/log';

export interface LogViewerProps {
  buffer: LogBuffer;
  /** `buffer.version`, so the viewer re-renders when lines arrive. */
  version: number;
  label: string;
  fileName: string;
  status?: ReactNode;
  rowHeight?: number;
  /** Used when the element has no measured size (tests). */
  fallbackHeight?: number;
  initialQuery?: string;
  onQueryChange?: (q: string) => void;
  initialFollow?: boolean;
}

const GUTTER_CH = 7;

export function LogViewer(props: LogViewerProps) {
  const { buffer, version, rowHeight = 18, fallbackHeight = 600 } = props;
  const [query, setQuery] = useState(props.initialQuery ?? '');
  const [caseSensitive, setCaseSensitive] = useState(false);
  const [wrap, setWrap] = useState(false);
  const [follow, setFollow] = useState(props.initialFollow ?? true);
  const [current, setCurrent] = useState(-1);
  const [scrollTop, setScrollTop] = useState(0);
  const [size, setSize] = useState({ width: 0, height: 0 });
  const [charWidth, setCharWidth] = useState(8);
  const scroller = useRef<HTMLDivElement>(null);
  const probe = useRef<HTMLSpanElement>(null);
  // Where our own last scroll went: a scroll event there is ours, anywhere else the reader's.
  const programmatic = useRef<number | null>(null);
  const debounced = useDebounced(query, 120);
  const onQueryChange = props.onQueryChange;
  useEffect(() => {
    onQueryChange?.(debounced);
  }, [debounced, onQueryChange]);

  // Size of the viewport and of one character (monospace), for windowing and wrapping.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => {
      setSize({ width: el.clientWidth, height: el.clientHeight });
      const w = probe.current?.getBoundingClientRect().width ?? 0;
      if (w > 0) setCharWidth(w / 100);
    };
    measure();
    if (typeof ResizeObserver !== 'undefined') {
      const ro = new ResizeObserver(measure);
      ro.observe(el);
      return () => ro.disconnect();
    }
    window.addEventListener('resize', measure);
    return () => window.removeEventListener('resize', measure);
  }, []);

  const count = buffer.count;
  const get = useCallback((i: number) => buffer.line(i), [buffer]);
  const columns = wrap && size.width > 0 ? Math.max(10, Math.floor((size.width - 16) / charWidth) - GUTTER_CH - 1) : null;
  // `version` is how the buffer (mutated in place) says it changed: it must recompute these.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const offsets = useMemo(() => rowOffsets(get, count, wrap ? (columns ?? 120) : null), [get, count, version, wrap, columns]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const matches = useMemo(() => findMatches(get, count, debounced, caseSensitive), [get, count, version, debounced, caseSensitive]);
  const viewportHeight = size.height || fallbackHeight;
  const win = visibleWindow(offsets, scrollTop, viewportHeight, rowHeight);

  // Keep the current match valid when the matches change.
  const currentLine = current >= 0 && current < matches.length ? matches[current] : -1;
  useEffect(() => {
    // eslint-disable-next-line react-hooks/set-state-in-effect -- the search box steps from this index, so it is clamped in state
    if (current >= matches.length) setCurrent(matches.length ? matches.length - 1 : -1);
  }, [matches, current]);

  // Follow the end of the log.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el || !follow) return;
    const target = Math.max(0, win.height - (el.clientHeight || viewportHeight));
    if (Math.abs(el.scrollTop - target) > 1) {
      el.scrollTop = target;
      programmatic.current = el.scrollTop;
      setScrollTop(target);
    }
  }, [version, follow, win.height, viewportHeight]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    setScrollTop(el.scrollTop);
    const bottom = atBottom(el.scrollTop, el.clientHeight || viewportHeight, el.scrollHeight || win.height);
    const ours = programmatic.current !== null && Math.abs(el.scrollTop - programmatic.current) < 2;
    programmatic.current = null;
    const next = followAfterScroll(follow, bottom, ours);
    if (next !== follow) setFollow(next);
  };

  const scrollToLine = (line: number) => {
    const el = scroller.current;
    const top = Math.max(0, offsets[line] * rowHeight - viewportHeight / 3);
    setFollow(false);
    if (el) {
      el.scrollTop = top;
      programmatic.current = el.scrollTop;
    }
    setScrollTop(top);
  };

  const step = (delta: 1 | -1) => {
    if (!matches.length) return;
    let base = current;
    if (base < 0) {
      // Start from what is on screen.
      const near = matchNear(matches, win.start);
      base = delta === 1 ? near - 1 : near;
    }
    const next = stepMatch(base, matches.length, delta);
    setCurrent(next);
    scrollToLine(matches[next]);
  };

  const download = () => {
    const blob = new Blob([buffer.text()], { type: 'text/plain;charset=utf-8' });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = props.fileName;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  const highlighting = !!debounced && matches.length > 0;
  const lines: ReactNode[] = [];
  for (let i = win.start; i < win.end; i++) {
    const text = buffer.line(i);
    const rows = wrap ? offsets[i + 1] - offsets[i] : 1;
    lines.push(
      <div
        key={i}
        className={`log-line${i === currentLine ? ' current' : ''}`}
        style={{ minHeight: rows * rowHeight }}
        data-line={i + 1}
      >
        <span className="log-no" aria-hidden="true">
          {i + 1 + buffer.dropped}
        </span>
        <span className="log-text">
          {highlighting
            ? highlight(text, debounced, caseSensitive).map((s, j) => (s.match ? <mark key={j}>{s.text}</mark> : s.text))
            : text}
        </span>
      </div>,
    );
  }

  const matchLabel = debounced
    ? matches.length
      ? current >= 0
        ? `${current + 1} / ${matches.length} lines`
        : `${matches.length} matching line${matches.length === 1 ? '' : 's'}`
      : 'no match'
    : '';

  return (
    <section className="log-viewer" aria-label={props.label}>
      <div className="log-toolbar" role="toolbar" aria-label="Log controls">
        <input
          type="search"
          aria-label="Search the log"
          placeholder="Search the log…"
          value={query}
          onChange={(e) => {
            setQuery(e.target.value);
            setCurrent(-1);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              step(e.shiftKey ? -1 : 1);
            }
          }}
        />
        <button type="button" onClick={() => step(-1)} disabled={!matches.length} aria-label="Previous match">
          ↑
        </button>
        <button type="button" onClick={() => step(1)} disabled={!matches.length} aria-label="Next match">
          ↓
        </button>
        <span className="match-count" aria-live="polite">
          {matchLabel}
        </span>
        <label className="toggle">
          <input type="checkbox" checked={caseSensitive} onChange={(e) => setCaseSensitive(e.target.checked)} />
          Match case
        </label>
        <label className="toggle">
          <input type="checkbox" checked={wrap} onChange={(e) => setWrap(e.target.checked)} />
          Wrap lines
        </label>
        <label className="toggle">
          <input
            type="checkbox"
            checked={follow}
            onChange={(e) => {
              setFollow(e.target.checked);
              if (e.target.checked) setCurrent(-1);
            }}
          />
          Autoscroll
        </label>
        <button type="button" onClick={download} disabled={count === 0}>
          Download
        </button>
        <span className="log-count">
          {count.toLocaleString()} lines{buffer.dropped ? ` (first ${buffer.dropped.toLocaleString()} dropped)` : ''}
        </span>
        {props.status}
      </div>
      <div
        className={`log-scroll${wrap ? ' wrap' : ''}`}
        ref={scroller}
        onScroll={onScroll}
        tabIndex={0}
        role="region"
        aria-label={`${props.label}: ${count} lines`}
        style={{ ['--row-h' as string]: `${rowHeight}px` }}
      >
        <span className="char-probe" ref={probe} aria-hidden="true">
          {'M'.repeat(100)}
        </span>
        <div className="log-spacer" style={{ height: Math.max(win.height, 1) }}>
          <div className="log-window" style={{ transform: `translateY(${win.top}px)` }}>
            {lines}
          </div>
        </div>
        {count === 0 && <div className="log-empty">No output yet.</div>}
      </div>
    </section>
  );
}
