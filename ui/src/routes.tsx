// The dashboard's URLs (TanStack Router, code-based routes). The server answers every
// non-API path with index.html (crates/refinery-server/src/ui.rs), so each is a deep link.
import type { ReactNode } from 'react';
import { createRootRoute, createRoute, createRouter, type RouterHistory } from '@tanstack/react-router';
import { App } from './App';
import { Dashboard } from './pages/Dashboard';
import { Inputs } from './pages/Inputs';
import { PlanDetail, Plans } from './pages/Plans';
import { Builds } from './pages/Builds';
import { PackageDetail, Packages } from './pages/Packages';
import { Hints } from './pages/Hints';
import { LogPage } from './pages/LogPage';
import { SettingsPage } from './pages/Settings';
import { NotFound } from './pages/NotFound';

/**
 * The dashboard's route tree under `shell` (the app's frame: header, session, token
 * dialog; tests mount the pages in a bare `<Outlet />`).
 */
export function routeTree(shell: () => ReactNode = App) {
  const root = createRootRoute({ component: shell, notFoundComponent: () => <NotFound /> });

  const page = (path: string, component: () => ReactNode) => createRoute({ getParentRoute: () => root, path, component });

  const planRoute = createRoute({
    getParentRoute: () => root,
    path: '/plans/$id',
    component: function PlanRoute() {
      const { id } = planRoute.useParams();
      return <PlanDetail id={id} />;
    },
  });
  const packageRoute = createRoute({
    getParentRoute: () => root,
    path: '/packages/$name',
    component: function PackageRoute() {
      const { name } = packageRoute.useParams();
      return <PackageDetail key={name} name={name} />;
    },
  });
  const logRoute = createRoute({
    getParentRoute: () => root,
    path: '/logs/$name/$version',
    component: function LogRoute() {
      const { name, version } = logRoute.useParams();
      return <LogPage key={`${name}/${version}`} name={name} version={version} />;
    },
  });

  // A job without a version (a requirement that never resolved) has its log at
  // `/logs/<name>?job=<id>`.
  const jobLogRoute = createRoute({
    getParentRoute: () => root,
    path: '/logs/$name',
    component: function JobLogRoute() {
      const { name } = jobLogRoute.useParams();
      return <LogPage key={name} name={name} version="" />;
    },
  });

  return root.addChildren([
    page('/', Dashboard),
    page('/inputs', Inputs),
    page('/plans', Plans),
    planRoute,
    page('/builds', Builds),
    page('/packages', Packages),
    packageRoute,
    page('/hints', Hints),
    logRoute,
    jobLogRoute,
    page('/settings', SettingsPage),
  ]);
}

/**
 * A router over the dashboard's routes. Query strings stay plain `a=1&b=2` text (the pages
 * read them with URLSearchParams), not TanStack's JSON-encoded search values.
 */
export function makeRouter(opts: { shell?: () => ReactNode; history?: RouterHistory } = {}) {
  return createRouter({
    routeTree: routeTree(opts.shell),
    history: opts.history,
    parseSearch: (s) => Object.fromEntries(new URLSearchParams(s)),
    stringifySearch: (o) => {
      const q = new URLSearchParams(o as Record<string, string>).toString();
      return q ? `?${q}` : '';
    },
  });
}

/** The app's router (the browser's history). */
export const router = makeRouter();
