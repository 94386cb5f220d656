import type { Job, PlanBody, PlanNode } from './types';

export interface TreeItem {
  node: PlanNode;
  /** How the parent needs it (none at the roots). */
  via?: 'runtime' | 'build';
  children: TreeItem[];
  /** Shown in full elsewhere in the tree: not expanded again. */
  repeat: boolean;
}

/**
 * The plan's DAG as a tree: the directly requested packages at the top, what each needs
 * below it. A node reached a second time is listed but not expanded again (so shared
 * dependencies and cycles do not blow the tree up); nodes nothing reaches come last.
 */
export function planTree(plan: Pick<PlanBody, 'nodes' | 'edges'>): TreeItem[] {
  const byId = new Map(plan.nodes.map((n) => [n.id, n]));
  const out = new Map<string, { to: string; kind: 'runtime' | 'build' }[]>();
  const incoming = new Set<string>();
  for (const e of plan.edges) {
    if (!byId.has(e.from) || !byId.has(e.to)) continue;
    if (!out.has(e.from)) out.set(e.from, []);
    out.get(e.from)!.push({ to: e.to, kind: e.kind });
    incoming.add(e.to);
  }
  const expanded = new Set<string>();
  const build = (node: PlanNode, via?: 'runtime' | 'build'): TreeItem => {
    if (expanded.has(node.id)) return { node, via, children: [], repeat: true };
    expanded.add(node.id);
    const kids = (out.get(node.id) ?? [])
      .slice()
      .sort((a, b) => a.kind.localeCompare(b.kind) || a.to.localeCompare(b.to))
      .map((e) => build(byId.get(e.to)!, e.kind));
    return { node, via, children: kids, repeat: false };
  };
  let roots = plan.nodes.filter((n) => n.direct);
  if (!roots.length) roots = plan.nodes.filter((n) => !incoming.has(n.id));
  const items = roots
    .slice()
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((n) => build(n));
  for (const n of plan.nodes) {
    if (!expanded.has(n.id)) items.push(build(n));
  }
  return items;
}

export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

const TERMINAL_NOT = new Set(['pending', 'retry', 'leased', 'building']);

/**
 * The job whose status stands for several jobs of one package or plan node, as the server
 * decides it for `/api/packages` (crates/refinery-server/src/package_status.rs): the newest
 * waiting or running job; else the newest finished one that was not cancelled (a cancelled
 * re-run does not undo a build); else the newest.
 */
export function representativeJob(jobs: readonly Job[]): Job | undefined {
  const newest = (f: (j: Job) => boolean) => jobs.filter(f).reduce<Job | undefined>((a, j) => (!a || j.id > a.id ? j : a), undefined);
  return newest((j) => TERMINAL_NOT.has(j.status)) ?? newest((j) => j.status !== 'cancelled') ?? newest(() => true);
}

/** The representative job of each `name==version` of a plan. */
export function jobsByNode(jobs: readonly Job[]): Map<string, Job> {
  const groups = new Map<string, Job[]>();
  for (const j of jobs) {
    const key = `${normalizeName(j.package)}==${j.version}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(j);
  }
  const m = new Map<string, Job>();
  for (const [key, group] of groups) m.set(key, representativeJob(group)!);
  return m;
}

export function nodeKey(node: Pick<PlanNode, 'name' | 'version'>): string {
  return `${normalizeName(node.name)}==${node.version}`;
}
