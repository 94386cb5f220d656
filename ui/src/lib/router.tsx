// The pages' view of the router (TanStack Router, routes in ../routes.tsx): every page has
// its own URL, query strings hold the shareable state (filters, tabs, searches), and deep
// links work on reload because the server answers every non-API path with index.html.
import { useRouter, useRouterState } from '@tanstack/react-router';
import { useCallback, type AnchorHTMLAttributes, type MouseEvent } from 'react';

export interface Location {
  pathname: string;
  search: string;
}

/** The current path and raw query string (`?a=1`, or ''), from TanStack Router's state. */
export function useLocation(): Location {
  return useRouterState({
    select: (s) => ({ pathname: s.location.pathname, search: s.location.searchStr }),
    structuralSharing: true,
  });
}

/** Goes to `to` (a path with its query string); `replace` keeps history short. */
export function useNavigate() {
  const router = useRouter();
  return useCallback(
    (to: string, opts?: { replace?: boolean }) => {
      const here = router.state.location;
      if (to === here.pathname + here.searchStr) return;
      void router.navigate({ href: to, replace: opts?.replace, resetScroll: !opts?.replace });
    },
    [router],
  );
}

/** One query parameter, kept in the URL (replace, so typing does not flood history). */
export function useQueryParam(name: string, fallback = ''): [string, (v: string) => void] {
  const { search, pathname } = useLocation();
  const navigate = useNavigate();
  const router = useRouter();
  const value = new URLSearchParams(search).get(name) ?? fallback;
  const set = useCallback(
    (v: string) => {
      // The history's location, current even between two sets in one tick (in a browser,
      // window.location's; the router's own state follows a moment later).
      const params = new URLSearchParams(router.history.location.search);
      if (v === '' || v === fallback) params.delete(name);
      else params.set(name, v);
      const qs = params.toString();
      navigate(pathname + (qs ? `?${qs}` : ''), { replace: true });
    },
    [name, fallback, navigate, pathname, router],
  );
  return [value, set];
}

type LinkProps = AnchorHTMLAttributes<HTMLAnchorElement> & { to: string };

export function Link({ to, onClick, children, ...rest }: LinkProps) {
  const navigate = useNavigate();
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    if (rest.target && rest.target !== '_self') return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={handle} {...rest}>
      {children}
    </a>
  );
}

export function NavLink({ to, children, exact, ...rest }: LinkProps & { exact?: boolean }) {
  const { pathname } = useLocation();
  const active = exact ? pathname === to : pathname === to || pathname.startsWith(to + '/');
  return (
    <Link to={to} aria-current={active ? 'page' : undefined} className={active ? 'active' : undefined} {...rest}>
      {children}
    </Link>
  );
}

export const packagePath = (name: string) => `/packages/${encodeURIComponent(name)}`;
/**
 * The log page of a package version, or of one job of it. A job without a version (a
 * requirement that never resolved: a `missing` job) has `/logs/<name>?job=<id>`.
 */
export const logPath = (name: string, version: string, job?: number) =>
  `/logs/${encodeURIComponent(name)}${version ? `/${encodeURIComponent(version)}` : ''}${job ? `?job=${job}` : ''}`;
export const planPath = (id: string) => `/plans/${encodeURIComponent(id)}`;
