// The dashboard's URLs resolve to the routes and params the pages expect (TanStack Router).
import { describe, expect, it } from 'vitest';
import { logPath } from '../src/lib/router';
import { router } from '../src/routes';

function leaf(href: string) {
  const url = new URL(href, 'http://x');
  const matches = router.matchRoutes(url.pathname, Object.fromEntries(url.searchParams));
  const m = matches[matches.length - 1];
  return { route: m.routeId, params: m.params as Record<string, string> };
}

describe('routes', () => {
  it('maps every page URL to its route with decoded params', () => {
    expect(leaf('/').route).toBe('/');
    for (const p of ['/inputs', '/plans', '/builds', '/packages', '/hints', '/settings']) expect(leaf(p).route).toBe(p);
    expect(leaf('/plans/0a1b')).toEqual({ route: '/plans/$id', params: { id: '0a1b' } });
    expect(leaf('/packages/zope.interface')).toEqual({ route: '/packages/$name', params: { name: 'zope.interface' } });
    expect(leaf('/packages/failpkg?tab=timeline').params).toEqual({ name: 'failpkg' });
    expect(leaf('/logs/six/1.16.0')).toEqual({ route: '/logs/$name/$version', params: { name: 'six', version: '1.16.0' } });
    expect(leaf('/logs/six/1.16.0/').params).toEqual({ name: 'six', version: '1.16.0' });
  });

  it('gives a job without a version (a missing requirement) a log page, as Builds, a plan and a package link it', () => {
    expect(logPath('six', '1.16.0', 12)).toBe('/logs/six/1.16.0?job=12');
    expect(logPath('no-such-pkg', '', 5)).toBe('/logs/no-such-pkg?job=5');
    expect(leaf(logPath('no-such-pkg', '', 5))).toEqual({ route: '/logs/$name', params: { name: 'no-such-pkg' } });
    // The links the dashboard made before: a trailing slash.
    expect(leaf('/logs/no-such-pkg/?job=5')).toEqual({ route: '/logs/$name', params: { name: 'no-such-pkg' } });
    expect(leaf(logPath('six', '1.16.0', 12)).route).toBe('/logs/$name/$version');
  });

  it('leaves unknown paths to the not-found page', () => {
    for (const p of ['/no/such/page', '/plansx', '/settingsx/y']) expect(leaf(p).route).toBe('__root__');
  });
});
