import { useMemo, useState, type FormEvent } from 'react';
import { api, enc, errorMessage } from '../lib/api';
import { refreshAll, useApi, useDebounced } from '../lib/hooks';
import { fmtIso, fmtTime } from '../lib/format';
import { Link, packagePath, useQueryParam } from '../lib/router';
import { filterRows } from '../lib/table';
import type { CatalogHint, EventRow, EventsPage, HintRequest, HintsResponse, HintValidation, UserHint } from '../lib/types';
import { Card, ErrorBox, useToast } from '../components/ui';
import { DataTable } from '../components/DataTable';

interface Row {
  key: string;
  source: 'catalog' | 'added';
  id: string;
  /** The store's id of an added hint (editable in place). */
  userId?: number;
  pattern: string;
  message: string;
  packages: string;
  /** What else the hint does for the retry: pack, env, build constraints, toolchain, variant. */
  actions: string;
  when?: number;
}

/** A catalog hint's actions besides system packages, in words (`pack libffi; env A=1`). */
export function hintActions(h: CatalogHint): string {
  return [
    h.pack ? `pack ${h.pack}` : '',
    ...Object.entries(h.env ?? {}).map(([k, v]) => `env ${k}=${v}`),
    h.build_constraints?.length ? `build constraints ${h.build_constraints.join(', ')}` : '',
    h.toolchain ? `toolchain ${h.toolchain}` : '',
    h.variant ? `variant ${h.variant}` : '',
    h.no_retry ? 'no retry (no variant can change it)' : '',
  ]
    .filter(Boolean)
    .join('; ');
}

export function hintRows(data: HintsResponse | undefined): Row[] {
  if (!data) return [];
  const cat = data.catalog.hints.map((h: CatalogHint) => ({
    key: `c:${h.id}`,
    source: 'catalog' as const,
    id: h.id,
    pattern: h.pattern,
    message: h.message,
    packages: [h.apt?.length ? `apt: ${h.apt.join(' ')}` : '', h.dnf?.length ? `dnf: ${h.dnf.join(' ')}` : ''].filter(Boolean).join(' · '),
    actions: hintActions(h),
  }));
  const user = data.user.map((h: UserHint) => ({
    key: `u:${h.id}`,
    source: 'added' as const,
    id: `user-${h.id}`,
    userId: h.id,
    pattern: h.pattern,
    message: h.note,
    packages: h.packages.join(' '),
    actions: '',
    when: h.created_ms,
  }));
  return [...user, ...cat];
}

interface LearnedFix {
  packages?: string[];
  packs?: string[];
  env?: Record<string, string>;
  build_constraints?: string[];
  toolchain?: string | null;
  variant?: string | null;
  hints?: string[];
}

/** What a learned fix changes, in words (`libffi-dev; env CFLAGS=-O1; variant emulated`). */
export function describeFix(f: LearnedFix): string {
  return [
    f.packages?.length ? `system packages ${f.packages.join(' ')}` : '',
    f.packs?.length ? `packs ${f.packs.join(' ')}` : '',
    ...Object.entries(f.env ?? {}).map(([k, v]) => `env ${k}=${v}`),
    f.build_constraints?.length ? `constraints ${f.build_constraints.join(' ')}` : '',
    f.toolchain ? `toolchain ${f.toolchain}` : '',
    f.variant ? `variant ${f.variant}` : '',
  ]
    .filter(Boolean)
    .join('; ');
}

/**
 * Auto-saved hints: the fixes a build needed, saved when it succeeded (`learned_fix`
 * events) and applied up front to the package's next build. The newest per package.
 */
function LearnedFixes() {
  const learned = useApi<EventsPage>('/api/events?kind=learned_fix&limit=500', 15000);
  const rows = useMemo(() => {
    const newest = new Map<string, EventRow>();
    for (const e of learned.data?.events ?? []) {
      const key = e.package ?? '';
      if (key && (!newest.has(key) || newest.get(key)!.id < e.id)) newest.set(key, e);
    }
    return [...newest.values()];
  }, [learned.data]);
  return (
    <Card title={`Auto-saved hints${learned.data ? ` (${rows.length})` : ''}`} id="learned">
      <p className="muted small">
        When a build succeeds only with fixes (system packages, environment, a variant…), the refinery saves them and applies them up front to that
        package's next build.
      </p>
      <DataTable
        label="Auto-saved hints"
        rows={learned.data ? rows : undefined}
        loading={learned.loading}
        rowKey={(e) => e.id}
        initialSort={{ key: 'package', dir: 'asc' }}
        pageSize={10}
        empty="No fix learned yet: builds that needed none save none."
        columns={[
          { key: 'package', label: 'Package', sort: (e) => e.package ?? '', render: (e) => <Link to={packagePath(e.package ?? '')}>{e.package} {e.version}</Link> },
          { key: 'fix', label: 'Applied next time', render: (e) => <code>{describeFix((e.data ?? {}) as LearnedFix) || 'its hints only'}</code> },
          { key: 'hints', label: 'From hints', render: (e) => ((e.data as LearnedFix | null)?.hints ?? []).join('; ') || '—' },
          { key: 'when', label: 'Saved', sort: (e) => e.id, firstDir: 'desc', render: (e) => fmtIso(e.timestamp) },
        ]}
      />
    </Card>
  );
}

interface Check {
  pattern: string;
  packages: string;
  valid: boolean;
  message?: string;
}

/**
 * Asks the server whether the hint would be accepted (`GET /api/hints/validate`): patterns
 * are Rust regular expressions (`(?i)` works, lookahead does not), so JavaScript's RegExp
 * cannot judge them. `null` until the server answered for exactly these values.
 */
export function useServerCheck(pattern: string, packages: string): Check | null {
  const asked = { pattern: useDebounced(pattern, 200), packages: useDebounced(packages, 200) };
  const current = asked.pattern === pattern && asked.packages === packages;
  // Unreachable server: the banner says so; saving will say what is wrong.
  const { data } = useApi<HintValidation>(
    asked.pattern ? `/api/hints/validate?pattern=${enc(asked.pattern)}&packages=${enc(asked.packages)}` : null,
  );
  return current && pattern && data ? { pattern, packages, ...data } : null;
}

export function Hints() {
  const hints = useApi<HintsResponse>('/api/hints');
  const [q, setQ] = useQueryParam('q');
  const toast = useToast();
  const rows = useMemo(() => filterRows(hintRows(hints.data), q, (r) => [r.id, r.pattern, r.message, r.packages, r.actions]), [hints.data, q]);
  const [pattern, setPattern] = useState('');
  const [packages, setPackages] = useState('');
  const [note, setNote] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  /** The added hint being changed in place; none: the form adds a new hint. */
  const [editing, setEditing] = useState<Row | null>(null);

  const check = useServerCheck(pattern, packages);
  const patternError = check && !check.valid ? check.message ?? 'the server refuses this hint' : '';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const body: HintRequest = { pattern, packages: packages.split(/[\s,]+/).filter(Boolean), note };
      if (editing?.userId !== undefined) {
        await api(`/api/hints/${editing.userId}`, { method: 'PUT', body });
        toast.success(`Hint ${editing.id} saved: the next builds use the new version.`);
      } else {
        await api('/api/hints', { method: 'POST', body });
        toast.success('Hint added: the next builds whose logs match it will suggest these packages.');
      }
      reset();
      refreshAll();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const reset = () => {
    setEditing(null);
    setPattern('');
    setPackages('');
    setNote('');
    setError('');
  };

  /** Added hints are changed in place; catalog hints are copied into a new one. */
  const edit = (r: Row) => {
    setEditing(r.source === 'added' ? r : null);
    setPattern(r.pattern);
    setPackages(r.packages.replace(/(apt|dnf):/g, '').replace(/·/g, ' ').split(/\s+/).filter(Boolean).join(' '));
    setNote(r.message);
    setError('');
    document.getElementById('hint-pattern')?.focus();
  };

  const remove = async (r: Row) => {
    if (r.userId === undefined || !window.confirm(`Delete hint ${r.id} (${r.pattern})? Builds stop using it.`)) return;
    try {
      await api(`/api/hints/${r.userId}`, { method: 'DELETE' });
      if (editing?.key === r.key) reset();
      toast.success(`Hint ${r.id} deleted.`);
      refreshAll();
    } catch (err) {
      toast.error(errorMessage(err));
    }
  };

  return (
    <div className="page">
      <div className="page-head">
        <h1>Hints</h1>
        <p className="lede">
          Hints turn a line of a failed build log into advice: which system packages are missing. The catalog ships with the
          refinery; hints added here are used by every worker from the next build on.
        </p>
      </div>
      <Card title={editing ? `Change hint ${editing.id}` : 'Add a hint'} id="add-hint">
        <form onSubmit={submit} className="hint-form">
          <div className="grid-3">
            <label className="field">
              Log pattern (regular expression)
              <input
                id="hint-pattern"
                value={pattern}
                onChange={(e) => setPattern(e.target.value)}
                placeholder="gdbm\.h: No such file or directory"
                required
                maxLength={500}
                spellCheck={false}
                aria-invalid={!!patternError}
                aria-describedby="pattern-help"
              />
              {/* The server's regex errors point at the pattern over several lines. */}
              <span id="pattern-help" className={patternError ? 'error-text small' : 'muted small'} style={patternError ? { whiteSpace: 'pre-wrap' } : undefined}>
                {patternError || 'A Rust regular expression (the server checks it as you type), matched against every line of a failed build log.'}
              </span>
            </label>
            <label className="field">
              System packages
              <input value={packages} onChange={(e) => setPackages(e.target.value)} placeholder="libgdbm-dev" spellCheck={false} />
            </label>
            <label className="field">
              Note for people
              <input value={note} onChange={(e) => setNote(e.target.value)} placeholder="the gdbm headers are missing" />
            </label>
          </div>
          {error && (
            <p className="error-text" role="alert">
              {error}
            </p>
          )}
          <button type="submit" className="primary" disabled={busy || !pattern.trim() || !!patternError}>
            {editing ? (busy ? 'Saving…' : 'Save hint') : busy ? 'Adding…' : 'Add hint'}
          </button>
          {editing && (
            <button type="button" onClick={reset} disabled={busy}>
              Cancel
            </button>
          )}
        </form>
      </Card>
      <LearnedFixes />
      <Card
        title={`Catalog${hints.data ? ` (${rows.length})` : ''}`}
        actions={
          <label className="field inline">
            <span className="sr-only">Search hints</span>
            <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="Search hints…" aria-label="Search hints" />
          </label>
        }
      >
        {hints.data && <p className="muted small">From {hints.data.catalog.origin}, plus {hints.data.user.length} added here.</p>}
        {hints.error && !hints.data ? <ErrorBox error={hints.error} what="the hints" onRetry={hints.reload} /> : null}
        <DataTable
          label="Hints"
          rows={hints.data ? rows : undefined}
          loading={hints.loading}
          rowKey={(r) => r.key}
          initialSort={{ key: 'id', dir: 'asc' }}
          empty={q ? 'No hint matches the search.' : 'The catalog is empty.'}
          columns={[
            { key: 'id', label: 'Hint', sort: (r) => r.id, render: (r) => <strong>{r.id}</strong> },
            { key: 'source', label: 'Source', sort: (r) => r.source, render: (r) => <span className={`badge tone-${r.source === 'added' ? 'ok' : 'idle'}`}>{r.source}</span> },
            { key: 'message', label: 'Meaning', sort: (r) => r.message },
            { key: 'packages', label: 'Packages', sort: (r) => r.packages, render: (r) => <code>{r.packages}</code> },
            { key: 'actions', label: 'Other actions', sort: (r) => r.actions, render: (r) => (r.actions ? <code>{r.actions}</code> : '') },
            { key: 'pattern', label: 'Pattern', render: (r) => <code className="pattern">{r.pattern}</code> },
            { key: 'when', label: 'Added', sort: (r) => r.when ?? 0, render: (r) => (r.when ? fmtTime(r.when) : '') },
            {
              key: 'edit',
              label: 'Actions',
              hiddenLabel: true,
              render: (r) =>
                r.source === 'added' ? (
                  <span className="row-actions">
                    <button type="button" className="small" onClick={() => edit(r)} aria-label={`Edit hint ${r.id}`}>
                      Edit
                    </button>
                    <button type="button" className="small danger" onClick={() => void remove(r)} aria-label={`Delete hint ${r.id}`}>
                      Delete
                    </button>
                  </span>
                ) : (
                  <button type="button" className="small" onClick={() => edit(r)} aria-label={`Edit a copy of hint ${r.id}`} title="The catalog comes from files: saving adds the copy as a new hint">
                    Edit a copy
                  </button>
                ),
            },
          ]}
        />
      </Card>
    </div>
  );
}
