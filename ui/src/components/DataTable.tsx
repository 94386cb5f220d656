import { Fragment, useMemo, useRef, useState, type ReactNode } from 'react';
import {
  nextSort,
  pageButtons,
  pageSelection,
  paginate,
  sortRows,
  toggleKey,
  togglePage,
  type SortDir,
  type SortState,
  type SortValue,
} from '../lib/table';

export interface Column<T> {
  key: string;
  label: string;
  render?: (row: T) => ReactNode;
  /** The value sorted by; without it the column does not sort. */
  sort?: (row: T) => SortValue;
  /** Direction of the first click (numbers and times usually start descending). */
  firstDir?: SortDir;
  className?: string;
  /** Screen-reader-only header label. */
  hiddenLabel?: boolean;
  /** What the column means, as the header's tooltip. */
  help?: string;
}

export interface DataTableProps<T, K extends string | number> {
  label: string;
  columns: Column<T>[];
  rows: readonly T[] | undefined;
  rowKey: (row: T) => K;
  loading?: boolean;
  pageSize?: number;
  initialSort?: SortState;
  empty?: ReactNode;
  selected?: ReadonlySet<K>;
  onSelectedChange?: (next: Set<K>) => void;
  expand?: (row: T) => ReactNode;
  rowLabel?: (row: T) => string;
  maxHeight?: number | string;
}

const PAGE_SIZES = [10, 25, 50, 100];

export function DataTable<T, K extends string | number>(props: DataTableProps<T, K>) {
  const { columns, rows, rowKey, label, selected, onSelectedChange, expand } = props;
  const [sort, setSort] = useState<SortState | null>(props.initialSort ?? null);
  const [page, setPage] = useState(0);
  const [pageSize, setPageSize] = useState(props.pageSize ?? 25);
  const [open, setOpen] = useState<Set<K>>(new Set());
  const scroller = useRef<HTMLDivElement>(null);

  const sorted = useMemo(() => {
    if (!rows) return [];
    if (!sort) return rows.slice();
    const col = columns.find((c) => c.key === sort.key);
    if (!col?.sort) return rows.slice();
    return sortRows(rows, col.sort, sort.dir);
  }, [rows, sort, columns]);
  // paginate clamps the page to the rows there are; every control works from view.page.
  const view = paginate(sorted, page, pageSize);

  const pageKeys = view.rows.map(rowKey);
  const selectable = !!selected && !!onSelectedChange;
  const sel = selectable ? pageSelection(selected!, pageKeys) : 'none';
  const colCount = columns.length + (selectable ? 1 : 0) + (expand ? 1 : 0);

  const goto = (p: number) => {
    setPage(p);
    scroller.current?.scrollTo?.({ top: 0 });
  };

  return (
    <div className="table-block">
      <div className="table-scroll" ref={scroller} style={props.maxHeight ? { maxHeight: props.maxHeight } : undefined}>
        <table aria-label={label} aria-busy={props.loading && !rows ? true : undefined}>
          <thead>
            <tr>
              {selectable && (
                <th className="col-check" scope="col">
                  <input
                    type="checkbox"
                    aria-label={`Select all ${label} rows on this page`}
                    checked={sel === 'all'}
                    ref={(el) => {
                      if (el) el.indeterminate = sel === 'some';
                    }}
                    onChange={() => onSelectedChange!(togglePage(selected!, pageKeys))}
                    disabled={pageKeys.length === 0}
                  />
                </th>
              )}
              {expand && (
                <th className="col-expand" scope="col">
                  <span className="sr-only">Details</span>
                </th>
              )}
              {columns.map((c) => {
                const active = sort?.key === c.key;
                const ariaSort = active ? (sort!.dir === 'asc' ? 'ascending' : 'descending') : c.sort ? 'none' : undefined;
                return (
                  <th key={c.key} scope="col" aria-sort={ariaSort} className={c.className} title={c.help}>
                    {c.sort ? (
                      <button
                        type="button"
                        className="sort"
                        onClick={() => {
                          setSort(nextSort(sort, c.key, c.firstDir ?? 'asc'));
                          goto(0);
                        }}
                      >
                        {c.hiddenLabel ? <span className="sr-only">{c.label}</span> : c.label}
                        <span aria-hidden="true" className="sort-mark">
                          {active ? (sort!.dir === 'asc' ? '▲' : '▼') : '↕'}
                        </span>
                      </button>
                    ) : c.hiddenLabel ? (
                      <span className="sr-only">{c.label}</span>
                    ) : (
                      c.label
                    )}
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {!rows && props.loading &&
              Array.from({ length: 5 }, (_, i) => (
                <tr key={`sk${i}`} className="skeleton-row">
                  {Array.from({ length: colCount }, (__, j) => (
                    <td key={j}>
                      <span className="skeleton" />
                    </td>
                  ))}
                </tr>
              ))}
            {rows && view.total === 0 && (
              <tr>
                <td colSpan={colCount} className="empty">
                  {props.empty ?? 'Nothing here yet.'}
                </td>
              </tr>
            )}
            {view.rows.map((row) => {
              const k = rowKey(row);
              const isOpen = open.has(k);
              const name = props.rowLabel?.(row) ?? String(k);
              return (
                <Fragment key={k}>
                  <tr className={selected?.has(k) ? 'selected' : undefined}>
                    {selectable && (
                      <td className="col-check">
                        <input
                          type="checkbox"
                          aria-label={`Select ${name}`}
                          checked={selected!.has(k)}
                          onChange={() => onSelectedChange!(toggleKey(selected!, k))}
                        />
                      </td>
                    )}
                    {expand && (
                      <td className="col-expand">
                        <button
                          type="button"
                          className="icon"
                          aria-expanded={isOpen}
                          aria-label={`${isOpen ? 'Hide' : 'Show'} details of ${name}`}
                          onClick={() => setOpen(toggleKey(open, k))}
                        >
                          {isOpen ? '▾' : '▸'}
                        </button>
                      </td>
                    )}
                    {columns.map((c) => (
                      <td key={c.key} className={c.className} data-label={c.hiddenLabel ? undefined : c.label}>
                        {c.render ? c.render(row) : String((row as Record<string, unknown>)[c.key] ?? '')}
                      </td>
                    ))}
                  </tr>
                  {expand && isOpen && (
                    <tr className="expanded">
                      <td colSpan={colCount}>{expand(row)}</td>
                    </tr>
                  )}
                </Fragment>
              );
            })}
          </tbody>
        </table>
      </div>
      {rows && view.total > Math.min(...PAGE_SIZES) && (
        <nav className="pager" aria-label={`${label} pages`}>
          <span className="pager-info">
            {view.from}–{view.to} of {view.total}
          </span>
          <button type="button" onClick={() => goto(view.page - 1)} disabled={view.page === 0} aria-label="Previous page">
            ‹
          </button>
          {pageButtons(view.page, view.pageCount).map((p, i) =>
            p === -1 ? (
              <span key={`gap${i}`} className="gap">
                …
              </span>
            ) : (
              <button
                type="button"
                key={p}
                onClick={() => goto(p)}
                aria-current={p === view.page ? 'page' : undefined}
                aria-label={`Page ${p + 1}`}
              >
                {p + 1}
              </button>
            ),
          )}
          <button
            type="button"
            onClick={() => goto(view.page + 1)}
            disabled={view.page >= view.pageCount - 1}
            aria-label="Next page"
          >
            ›
          </button>
          <label className="pager-size">
            Rows
            <select
              value={pageSize}
              onChange={(e) => {
                setPageSize(Number(e.target.value));
                goto(0);
              }}
            >
              {PAGE_SIZES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
        </nav>
      )}
    </div>
  );
}
