import { useRef, useState, type FormEvent } from 'react';
import { api, ApiError, errorMessage } from '../lib/api';
import { useActions } from '../lib/actions';
import { refreshAll, useApi } from '../lib/hooks';
import { fmtBytes, fmtTime } from '../lib/format';
import { Link, planPath } from '../lib/router';
import type { InputsReply, InputUploaded as UploadResult, Job, PendingInput, QueueList, Settings } from '../lib/types';
import { Card, ErrorBox, StatusBadge, useToast } from '../components/ui';
import { DataTable } from '../components/DataTable';


export function uploadEndpoint(filename: string): string {
  return filename.toLowerCase().endsWith('.whl') ? '/api/wheels/upload' : '/api/requirements/upload';
}

/** What an input's states mean (its `pending` is not a job's `pending`). */
export const INPUT_HELP: Record<string, string> = {
  pending: 'uploaded; waiting to be planned (with Auto plan off, press Enqueue)',
  planning: 'the planner is resolving it',
  planned: 'a plan exists; enqueue its builds',
  build_queued: 'builds of its plan are waiting or running',
  builds_done: 'every build queued from its plan has finished (see the plan for each result)',
  failed: 'planning failed; the error says why (Replan to try again)',
};

/**
 * The state shown for an input: the server's, except that `build_queued` becomes
 * `builds_done` once no job of its plan is waiting or running (derived from the queue).
 */
export function inputState(input: Pick<PendingInput, 'status' | 'plan_id'>, jobs: readonly Job[] | undefined): string {
  if (input.status !== 'build_queued' || !input.plan_id || !jobs) return input.status;
  const mine = jobs.filter((j) => j.plan_id === input.plan_id);
  if (!mine.length) return input.status;
  return mine.some((j) => ['pending', 'retry', 'leased', 'building'].includes(j.status)) ? 'build_queued' : 'builds_done';
}

export function Inputs() {
  const inputs = useApi<InputsReply>('/api/pending-inputs?limit=1000', 3000);
  const settings = useApi<Settings>('/api/settings');
  const queue = useApi<QueueList>('/api/queue?limit=1000', 5000);
  const actions = useActions();
  const toast = useToast();
  const fileRef = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  const upload = async (blob: Blob, name: string) => {
    setBusy(true);
    setError('');
    try {
      const form = new FormData();
      const typed = name.endsWith('.whl')
        ? new File([blob], name, { type: 'application/octet-stream' })
        : new File([blob], name, { type: 'text/plain' });
      form.append('file', typed, name);
      const r = await api<UploadResult>(uploadEndpoint(name), { method: 'POST', form, timeoutMs: 120000 });
      toast.success(
        `${r.input.filename} uploaded as input ${r.input.id}` +
          (r.auto_plan ? '; planning started.' : '; press Enqueue to plan it.') +
          (r.decision ? ` (${r.decision}: ${r.reason})` : ''),
      );
      setFile(null);
      setText('');
      if (fileRef.current) fileRef.current.value = '';
      refreshAll();
    } catch (e) {
      setError(e instanceof ApiError && e.status === 401 ? 'Uploading needs the worker token.' : errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (file) void upload(file, file.name);
    else if (text.trim()) void upload(new Blob([text.endsWith('\n') ? text : text + '\n']), 'requirements.txt');
  };

  const autoPlan = settings.data?.auto_plan;

  return (
    <div className="page">
      <div className="page-head">
        <h1>Inputs</h1>
        <p className="lede">
          Upload a <code>requirements.txt</code> or a wheel. Each upload becomes an input that the planner turns into a
          plan: what can be reused, what must be built for s390x, what is missing.
        </p>
      </div>

      <Card title="Upload">
        <form className="upload" onSubmit={onSubmit}>
          <div className="grid-2">
            <label className="field">
              A requirements file or a wheel
              <input
                ref={fileRef}
                type="file"
                name="file"
                accept=".txt,.in,.whl,text/plain"
                onChange={(e) => setFile(e.target.files?.[0] ?? null)}
              />
              <span className="muted small">Requirements may pin (<code>six==1.16.0</code>) or not (<code>requests&gt;=2</code>).</span>
            </label>
            <label className="field">
              …or paste requirements
              <textarea
                rows={4}
                value={text}
                onChange={(e) => setText(e.target.value)}
                placeholder={'six==1.16.0\nrequests==2.32.3'}
                disabled={!!file}
                spellCheck={false}
              />
            </label>
          </div>
          {error && (
            <p className="error-text" role="alert">
              {error}
            </p>
          )}
          <div className="row gap">
            <button type="submit" className="primary" disabled={busy || (!file && !text.trim())}>
              {busy ? 'Uploading…' : 'Upload'}
            </button>
            <span className="muted small">
              Auto plan is {autoPlan === undefined ? '…' : autoPlan ? 'on: uploads are planned at once' : 'off: press Enqueue after uploading'} (
              <Link to="/settings">change</Link>).
            </span>
          </div>
        </form>
      </Card>

      <Card title="Pending inputs">
        {inputs.error && !inputs.data ? <ErrorBox error={inputs.error} what="the inputs" onRetry={inputs.reload} /> : null}
        <DataTable
          label="Pending inputs"
          rows={inputs.data?.inputs}
          loading={inputs.loading}
          rowKey={(r) => r.id}
          rowLabel={(r) => `input ${r.id} ${r.filename}`}
          initialSort={{ key: 'id', dir: 'desc' }}
          empty="No inputs yet: upload one above."
          columns={[
            { key: 'id', label: 'ID', sort: (r) => r.id, firstDir: 'desc', className: 'num' },
            { key: 'filename', label: 'File', sort: (r) => r.filename, render: (r) => <code>{r.filename}</code> },
            { key: 'kind', label: 'Kind', sort: (r) => r.kind },
            { key: 'size', label: 'Size', sort: (r) => r.size, className: 'num', render: (r) => fmtBytes(r.size) },
            {
              key: 'status',
              label: 'State',
              sort: (r) => inputState(r, queue.data?.jobs),
              render: (r) => {
                const state = inputState(r, queue.data?.jobs);
                return <StatusBadge status={state} title={INPUT_HELP[state]} />;
              },
            },
            {
              key: 'plan',
              label: 'Plan',
              render: (r) =>
                r.plan_id ? (
                  <Link to={planPath(r.plan_id)}>
                    <code>{r.plan_id.slice(0, 12)}</code>
                  </Link>
                ) : (
                  <span className="muted">—</span>
                ),
            },
            { key: 'error', label: 'Error', render: (r) => (r.error ? <span className="error-text">{r.error}</span> : '') },
            { key: 'created', label: 'Uploaded', sort: (r) => r.created_ms, firstDir: 'desc', render: (r) => fmtTime(r.created_ms) },
            {
              key: 'actions',
              label: 'Actions',
              hiddenLabel: true,
              render: (r) =>
                r.status === 'pending' || r.status === 'failed' ? (
                  <button type="button" className="small" onClick={() => void actions.planInput(r.id)} aria-label={`${r.status === 'failed' ? 'Replan' : 'Enqueue'} input ${r.id}`}>
                    {r.status === 'failed' ? 'Replan' : 'Enqueue'}
                  </button>
                ) : r.status === 'planning' ? (
                  <span className="muted small">planning…</span>
                ) : null,
            },
          ]}
        />
      </Card>
    </div>
  );
}
