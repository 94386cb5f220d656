import { useMemo, useState } from 'react';
import { ApiError } from '../lib/api';
import { useActions } from '../lib/actions';
import { useApi } from '../lib/hooks';
import { fmtTime, shortId } from '../lib/format';
import { jobsByNode, nodeKey, planTree, type TreeItem } from '../lib/plan';
import { Link, logPath, packagePath, planPath } from '../lib/router';
import type { Job, PlanReply, PlansReply, PlanSummary } from '../lib/types';
import { Card, ErrorBox, Skeleton, StatusBadge } from '../components/ui';
import { DataTable } from '../components/DataTable';
import { NotFound } from './NotFound';

function Summary({ summary }: { summary: PlanSummary }) {
  const parts = (['build', 'reuse', 'missing', 'rejected', 'skipped'] as const).filter((k) => summary[k]);
  if (!parts.length) return <span className="muted">empty</span>;
  return (
    <span className="row gap-s wrap">
      {parts.map((k) => (
        <span key={k} className={`badge tone-${k === 'build' ? 'warn' : k === 'reuse' ? 'ok' : 'bad'}`}>
          {summary[k]} {k}
        </span>
      ))}
    </span>
  );
}

export function Plans() {
  const plans = useApi<PlansReply>('/api/plans?limit=1000', 5000);
  const actions = useActions();
  return (
    <div className="page">
      <div className="page-head">
        <h1>Plans</h1>
        <p className="lede">A plan says, for every package of an input, whether an s390x wheel is reused, built from source, or missing.</p>
      </div>
      <Card title="All plans">
        {plans.error && !plans.data ? <ErrorBox error={plans.error} what="the plans" onRetry={plans.reload} /> : null}
        <DataTable
          label="Plans"
          rows={plans.data?.plans}
          loading={plans.loading}
          rowKey={(p) => p.id}
          rowLabel={(p) => `plan ${shortId(p.id)}`}
          initialSort={{ key: 'created', dir: 'desc' }}
          empty={
            <>
              No plans yet. <Link to="/inputs">Upload an input</Link> and plan it.
            </>
          }
          columns={[
            { key: 'id', label: 'Plan', sort: (p) => p.id, render: (p) => <Link to={planPath(p.id)}><code>{shortId(p.id)}</code></Link> },
            { key: 'input', label: 'Input', sort: (p) => p.input_id, className: 'num', render: (p) => p.input_id ?? '—' },
            { key: 'target', label: 'Target', sort: (p) => `${p.python} ${p.platform_tag}`, render: (p) => `CPython ${p.python} · ${p.platform_tag}` },
            { key: 'summary', label: 'Nodes', render: (p) => <Summary summary={p.summary} /> },
            { key: 'created', label: 'Created', sort: (p) => p.created_ms, firstDir: 'desc', render: (p) => fmtTime(p.created_ms) },
            {
              key: 'actions',
              label: 'Actions',
              hiddenLabel: true,
              render: (p) => (
                <button type="button" className="small" onClick={() => void actions.enqueuePlan(p.id)} aria-label={`Enqueue builds of plan ${shortId(p.id)}`}>
                  Enqueue builds
                </button>
              ),
            },
          ]}
        />
      </Card>
    </div>
  );
}

function NodeRow({ item, planId, jobs }: { item: TreeItem; planId: string; jobs: Map<string, Job> }) {
  const actions = useActions();
  const { node } = item;
  const job = jobs.get(nodeKey(node));
  const [busy, setBusy] = useState(false);
  return (
    <div className="tree-node" data-node={node.id}>
      <StatusBadge status={node.action} />
      {item.via && <span className="via" title={`needed at ${item.via} time`}>{item.via === 'build' ? 'build dep' : 'dep'}</span>}
      <Link to={packagePath(node.name)} className="node-name">
        {node.name} <span className="muted">{node.version}</span>
      </Link>
      {node.direct && <span className="badge tone-idle">requested</span>}
      {job && (
        <span className="row gap-s">
          <StatusBadge status={job.status} />
          <Link to={logPath(job.package, job.version, job.id)} className="small">
            log
          </Link>
        </span>
      )}
      <span className="node-reason muted">{item.repeat ? '(shown above)' : node.reason}</span>
      {!item.repeat && node.action === 'build' && (
        <button
          type="button"
          className="small"
          disabled={busy}
          aria-label={`Enqueue ${node.id}`}
          onClick={async () => {
            setBusy(true);
            await actions.enqueueNode(planId, node.id);
            setBusy(false);
          }}
        >
          Enqueue
        </button>
      )}
    </div>
  );
}

function Tree({ items, planId, jobs, level = 1 }: { items: TreeItem[]; planId: string; jobs: Map<string, Job>; level?: number }) {
  return (
    <ul className="tree" role={level === 1 ? 'tree' : 'group'} aria-label={level === 1 ? 'Plan graph' : undefined}>
      {items.map((item, i) => (
        <li key={`${item.node.id}-${i}`} role="treeitem" aria-level={level} aria-expanded={item.children.length ? true : undefined} aria-selected={false}>
          {item.children.length > 0 ? (
            <details open={level < 4}>
              <summary>
                <NodeRow item={item} planId={planId} jobs={jobs} />
              </summary>
              <Tree items={item.children} planId={planId} jobs={jobs} level={level + 1} />
            </details>
          ) : (
            <div className="leaf">
              <NodeRow item={item} planId={planId} jobs={jobs} />
            </div>
          )}
        </li>
      ))}
    </ul>
  );
}

export function PlanDetail({ id }: { id: string }) {
  const plan = useApi<PlanReply>(`/api/plans/${encodeURIComponent(id)}`, 4000);
  const actions = useActions();
  const [busy, setBusy] = useState(false);
  const body = plan.data?.plan.body;
  const tree = useMemo(() => (body ? planTree(body) : []), [body]);
  const jobs = useMemo(() => jobsByNode(plan.data?.jobs ?? []), [plan.data]);
  if (plan.error instanceof ApiError && (plan.error.status === 404 || plan.error.status === 400) && !plan.data) {
    return <NotFound what={`plan ${id}`} />;
  }
  return (
    <div className="page">
      <div className="page-head">
        <p className="crumbs">
          <Link to="/plans">Plans</Link> /
        </p>
        <h1>
          Plan <code>{shortId(id, 16)}</code>
        </h1>
        {plan.data && (
          <p className="lede">
            For CPython {plan.data.plan.python} on <code>{plan.data.plan.platform_tag}</code>
            {plan.data.plan.input_id ? <> from input {plan.data.plan.input_id}</> : null}, made {fmtTime(plan.data.plan.created_ms)}.
          </p>
        )}
      </div>
      {plan.error && !plan.data ? <ErrorBox error={plan.error} what="the plan" onRetry={plan.reload} /> : null}
      {!plan.data && !plan.error && <Skeleton lines={6} label="Loading the plan" />}
      {plan.data && body && (
        <>
          <Card
            title="Graph"
            actions={
              <>
                <Summary summary={plan.data.plan.summary} />
                <button
                  type="button"
                  className="primary"
                  disabled={busy}
                  onClick={async () => {
                    setBusy(true);
                    await actions.enqueuePlan(id);
                    setBusy(false);
                  }}
                >
                  Enqueue builds
                </button>
              </>
            }
          >
            <p className="muted small">
              Each package lists what it needs below it (<em>dep</em>: at run time, <em>build dep</em>: to build it).{' '}
              <StatusBadge status="reuse" /> an existing wheel works, <StatusBadge status="build" /> it will be built for s390x,{' '}
              <StatusBadge status="missing" /> nothing usable was found.
            </p>
            {tree.length ? <Tree items={tree} planId={id} jobs={jobs} /> : <p className="muted">This plan has no packages.</p>}
          </Card>
          {(body.rejected.length > 0 || body.skipped.length > 0 || body.notes.length > 0) && (
            <Card title="Left out and notes">
              <ul className="plain-list">
                {body.rejected.map((r) => (
                  <li key={`r${r.input}`}>
                    <StatusBadge status="failed" title="rejected" /> <code>{r.input}</code>: {r.reason}
                  </li>
                ))}
                {body.skipped.map((s) => (
                  <li key={`s${s.name}`}>
                    <StatusBadge status="skipped_known_failure" title="skipped" /> {s.name} {s.version}: {s.reason}
                  </li>
                ))}
                {body.notes.map((n) => (
                  <li key={`n${n}`}>Note: {n}</li>
                ))}
              </ul>
            </Card>
          )}
          <Card title={`Jobs of this plan (${plan.data.jobs.length})`}>
            <DataTable
              label="Jobs of this plan"
              rows={plan.data.jobs}
              rowKey={(j) => j.id}
              pageSize={10}
              empty="No builds queued from this plan yet: press Enqueue builds."
              initialSort={{ key: 'id', dir: 'desc' }}
              columns={[
                { key: 'id', label: 'Job', sort: (j) => j.id, firstDir: 'desc', className: 'num' },
                { key: 'package', label: 'Package', sort: (j) => j.package, render: (j) => <Link to={packagePath(j.package)}>{j.package} {j.version}</Link> },
                { key: 'status', label: 'Status', sort: (j) => j.status, render: (j) => <StatusBadge status={j.status} /> },
                { key: 'detail', label: 'Detail', render: (j) => <span className="detail">{j.detail}</span> },
                { key: 'log', label: 'Log', render: (j) => <Link to={logPath(j.package, j.version, j.id)}>log</Link> },
              ]}
            />
          </Card>
        </>
      )}
    </div>
  );
}
