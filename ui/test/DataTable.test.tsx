import { afterEach, describe, expect, it } from 'vitest';
import { useState } from 'react';
import { DataTable, type Column } from '../src/components/DataTable';
import { byLabel, click, render, type Rendered } from './render';

interface Row {
  id: number;
  name: string;
  secs: number;
}
const rows: Row[] = Array.from({ length: 30 }, (_, i) => ({ id: i + 1, name: `pkg${(i * 7) % 30}`, secs: (i * 13) % 17 }));
const columns: Column<Row>[] = [
  { key: 'id', label: 'ID', sort: (r) => r.id },
  { key: 'name', label: 'Name', sort: (r) => r.name },
  { key: 'secs', label: 'Secs', sort: (r) => r.secs, firstDir: 'desc' },
  { key: 'plain', label: 'Plain', render: (r) => `#${r.id}` },
];

function firstColumn(r: Rendered): string[] {
  return [...r.container.querySelectorAll('tbody tr')].map((tr) => tr.querySelectorAll('td')[0]?.textContent ?? '');
}

function header(r: Rendered, label: string): HTMLElement {
  return [...r.container.querySelectorAll('th')].find((th) => th.textContent?.startsWith(label))!;
}

describe('DataTable', () => {
  let r: Rendered | null = null;
  afterEach(() => {
    r?.unmount();
    r = null;
  });

  it('pages rows and moves between pages', () => {
    r = render(<DataTable label="Jobs" columns={columns} rows={rows} rowKey={(x) => x.id} pageSize={10} />);
    expect(r.container.querySelectorAll('tbody tr')).toHaveLength(10);
    expect(r.container.querySelector('.pager-info')!.textContent).toBe('1–10 of 30');
    click(byLabel(r.container, 'Next page'));
    expect(firstColumn(r)[0]).toBe('11');
    click(byLabel(r.container, 'Page 3'));
    expect(r.container.querySelector('.pager-info')!.textContent).toBe('21–30 of 30');
    expect((byLabel(r.container, 'Next page') as HTMLButtonElement).disabled).toBe(true);
  });

  it('sorts by a header click, flips on the second, and says so to screen readers', () => {
    r = render(<DataTable label="Jobs" columns={columns} rows={rows} rowKey={(x) => x.id} pageSize={50} />);
    click(header(r, 'Name').querySelector('button'));
    expect(header(r, 'Name').getAttribute('aria-sort')).toBe('ascending');
    const names = [...r.container.querySelectorAll('tbody tr')].map((tr) => tr.querySelectorAll('td')[1].textContent);
    expect(names.slice(0, 3)).toEqual(['pkg0', 'pkg1', 'pkg2']);
    expect(names[names.length - 1]).toBe('pkg29');
    click(header(r, 'Name').querySelector('button'));
    expect(header(r, 'Name').getAttribute('aria-sort')).toBe('descending');
    // Numbers start descending where asked.
    click(header(r, 'Secs').querySelector('button'));
    const secs = [...r.container.querySelectorAll('tbody tr')].map((tr) => Number(tr.querySelectorAll('td')[2].textContent));
    expect(secs[0]).toBe(16);
    expect(secs).toEqual([...secs].sort((a, b) => b - a));
    // Unsortable columns have no button.
    expect(header(r, 'Plain').querySelector('button')).toBeNull();
  });

  it('goes back to the first page when the sort changes', () => {
    r = render(<DataTable label="Jobs" columns={columns} rows={rows} rowKey={(x) => x.id} pageSize={10} />);
    click(byLabel(r.container, 'Page 3'));
    click(header(r, 'ID').querySelector('button'));
    expect(r.container.querySelector('.pager-info')!.textContent).toBe('1–10 of 30');
  });

  it('shows skeleton rows while loading and a message when empty', () => {
    r = render(<DataTable label="Jobs" columns={columns} rows={undefined} loading rowKey={(x: Row) => x.id} />);
    expect(r.container.querySelectorAll('.skeleton-row').length).toBeGreaterThan(0);
    expect(r.container.querySelector('table')!.getAttribute('aria-busy')).toBe('true');
    r.rerender(<DataTable label="Jobs" columns={columns} rows={[]} rowKey={(x: Row) => x.id} empty="The queue is empty." />);
    expect(r.container.querySelector('td.empty')!.textContent).toBe('The queue is empty.');
  });

  it('selects rows, a whole page, and expands rows', () => {
    let latest = new Set<number>();
    function Harness() {
      const [sel, setSel] = useState<Set<number>>(new Set());
      latest = sel;
      return (
        <DataTable
          label="Jobs"
          columns={columns}
          rows={rows}
          rowKey={(x) => x.id}
          pageSize={10}
          selected={sel}
          onSelectedChange={setSel}
          expand={(x) => <p className="exp">details of {x.id}</p>}
          rowLabel={(x) => `job ${x.id}`}
        />
      );
    }
    r = render(<Harness />);
    click(byLabel(r.container, 'Select job 3'));
    expect([...latest]).toEqual([3]);
    const all = byLabel(r.container, 'Select all Jobs rows on this page') as HTMLInputElement;
    expect(all.indeterminate).toBe(true);
    click(all);
    expect(latest.size).toBe(10);
    click(all);
    expect(latest.size).toBe(0);
    click(byLabel(r.container, 'Show details of job 2'));
    expect(r.container.querySelector('.exp')!.textContent).toBe('details of 2');
    expect(byLabel(r.container, 'Hide details of job 2').getAttribute('aria-expanded')).toBe('true');
  });
});
