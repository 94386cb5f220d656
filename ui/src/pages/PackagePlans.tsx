// The plans that hold a package, on its page: a package planned but not queued yet is
// known by these alone, and its page offers to queue it.
import { useState } from 'react';
import { useActions } from '../lib/actions';
import { fmtTime, shortId } from '../lib/format';
import { Link, planPath } from '../lib/router';
import type { PackageDetail } from '../lib/types';
import { Card, StatusBadge } from '../components/ui';
import { DataTable } from '../components/DataTable';

type Planned = PackageDetail['plans'][number];

/** The newest plan that holds the package without having queued it, if any. */
export function notQueuedYet(plans: readonly Planned[]): Planned | undefined {
  return plans.find((p) => !p.queued);
}

/** "Planned in plan abc (build), not queued yet." for a page with no job. */
export function PlannedLede({ planned }: { planned: Planned }) {
  return (
    <p className="lede">
      Planned in plan <Link to={planPath(planned.plan_id)}><code>{shortId(planned.plan_id)}</code></Link> ({planned.version || 'no version'},{' '}
      <StatusBadge status={planned.action} />
      ), not queued yet.
    </p>
  );
}

function EnqueueNode({ planned }: { planned: Planned }) {
  const actions = useActions();
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      className="small"
      disabled={busy}
      aria-label={`Enqueue ${planned.node} from plan ${shortId(planned.plan_id)}`}
      onClick={async () => {
        setBusy(true);
        await actions.enqueueNode(planned.plan_id, planned.node);
        setBusy(false);
      }}
    >
      Enqueue
    </button>
  );
}

export function PackagePlans({ plans }: { plans: readonly Planned[] }) {
  return (
    <Card title="Plans">
      <DataTable
        label="Plans of this package"
        rows={plans}
        rowKey={(p) => `${p.plan_id} ${p.node}`}
        pageSize={10}
        initialSort={{ key: 'created', dir: 'desc' }}
        empty="No stored plan holds this package."
        columns={[
          { key: 'plan', label: 'Plan', sort: (p) => p.plan_id, render: (p) => <Link to={planPath(p.plan_id)}><code>{shortId(p.plan_id)}</code></Link> },
          { key: 'created', label: 'Made', sort: (p) => p.created_ms, firstDir: 'desc', render: (p) => fmtTime(p.created_ms) },
          { key: 'version', label: 'Version', sort: (p) => p.version, render: (p) => p.version || '—' },
          { key: 'action', label: 'Decision', sort: (p) => p.action, render: (p) => <StatusBadge status={p.action} /> },
          { key: 'reason', label: 'Why', render: (p) => <span className="detail">{p.reason}</span> },
          {
            key: 'queued',
            label: 'Queued',
            sort: (p) => (p.queued ? 1 : 0),
            render: (p) => (p.queued ? 'yes' : (
              <span className="row gap-s nowrap">
                <span className="muted">not yet</span> <EnqueueNode planned={p} />
              </span>
            )),
          },
        ]}
      />
    </Card>
  );
}
