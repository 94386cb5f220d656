import { useEffect, useRef, useState, type FormEvent } from 'react';
import { apiBase, clearUnauthorized, errorMessage } from './lib/api';
import { refreshAll } from './lib/hooks';
import { Outlet } from '@tanstack/react-router';
import { Link, NavLink, useLocation } from './lib/router';
import { Skeleton, ToastProvider, useToast } from './components/ui';
import { SessionProvider, useSession } from './session';
const NAV = [
  { to: '/', label: 'Dashboard', exact: true },
  { to: '/inputs', label: 'Inputs' },
  { to: '/plans', label: 'Plans' },
  { to: '/builds', label: 'Builds' },
  { to: '/packages', label: 'Packages' },
  { to: '/hints', label: 'Hints' },
  { to: '/settings', label: 'Settings' },
];

/**
 * The pages, once the token probe answered: with READ_TOKEN and no valid cookie they would
 * only collect 401s, so the token dialog asks first.
 */
function Gate() {
  const { probed, locked } = useSession();
  if (!probed) return <Skeleton lines={4} label="Connecting to the refinery" />;
  if (locked)
    return (
      <div className="page">
        <h1>A token is needed</h1>
        <p className="lede">This server keeps its pages private: enter the read token (or the worker token) in the dialog.</p>
      </div>
    );
  return <Outlet />;
}

function titleFor(pathname: string): string {
  const item = NAV.find((n) => (n.exact ? pathname === n.to : pathname === n.to || pathname.startsWith(n.to + '/')));
  if (pathname.startsWith('/logs/')) return 'Log';
  return item?.label ?? 'Not found';
}

function Badges() {
  const { health, server, token } = useSession();
  const apiLabel =
    health.state === 'ok'
      ? `API ok · ${health.latencyMs} ms`
      : health.state === 'down'
        ? 'API down'
        : health.state === 'unauthorized'
          ? 'API needs token'
          : 'API …';
  const apiTone = health.state === 'ok' ? 'ok' : health.state === 'unknown' ? 'idle' : 'bad';
  const env = server ? `${server.queue} · v${server.version}` : 'connecting…';
  const host = apiBase() ? apiBase().replace(/^https?:\/\//, '') : window.location.host;
  const tokenLabel: Record<string, string> = {
    'not-required': 'no token needed',
    missing: 'token: not set',
    valid: 'token: set',
    'read-only': 'token: read-only',
    invalid: 'token: wrong',
    unknown: 'token: ?',
  };
  const tokenTone = token === 'valid' || token === 'not-required' ? 'ok' : token === 'unknown' ? 'idle' : 'warn';
  return (
    <div className="badges" aria-label="Connection">
      <span className="badge tone-idle" title={`Server ${host}, queue backend and version`}>
        {host} · {env}
      </span>
      <span className={`badge tone-${apiTone}`} title={health.state === 'down' || health.state === 'unauthorized' ? health.message : 'The JSON API answers'}>
        {apiLabel}
      </span>
      <Link to="/settings" className={`badge tone-${tokenTone}`} title="The worker token guards actions; set it in Settings">
        {tokenLabel[token]}
      </Link>
    </div>
  );
}

function ApiDownBanner() {
  const { health, recheck } = useSession();
  const [busy, setBusy] = useState(false);
  if (health.state !== 'down') return null;
  return (
    <div className="banner banner-bad" role="alert">
      <strong>The refinery API is not answering.</strong> {health.message}. What is on screen may be out of date; it
      retries every 5 s.
      <button
        type="button"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          await recheck();
          refreshAll();
          setBusy(false);
        }}
      >
        {busy ? 'Retrying…' : 'Retry now'}
      </button>
    </div>
  );
}

function TokenDialog() {
  const { health, saveToken } = useSession();
  const toast = useToast();
  const ref = useRef<HTMLDialogElement>(null);
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const { locked } = useSession();
  const open = health.state === 'unauthorized' || locked;
  const readNeeded = locked || (health.state === 'unauthorized' && health.need === 'read');
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      if (typeof d.showModal === 'function') d.showModal();
      else d.setAttribute('open', '');
    } else if (!open && d.open) {
      d.close?.();
    }
  }, [open]);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await saveToken(token);
      setToken('');
      toast.success('Token saved in a cookie for this browser.');
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="token-title" onCancel={(e) => {
        // Without a token a private server shows nothing: the dialog stays.
        if (locked) e.preventDefault();
        else clearUnauthorized();
      }}
    >
      <form onSubmit={submit}>
        {readNeeded ? (
          <>
            <h2 id="token-title">This page needs a token</h2>
            <p className="muted">
              The server keeps its pages private (<code>READ_TOKEN</code>). Enter the read token, or the worker token to act as well: it
              is kept in an HttpOnly cookie for this browser (30 days), never in the page.
            </p>
          </>
        ) : (
          <>
            <h2 id="token-title">This action needs the worker token</h2>
            <p className="muted">
              The server was started with <code>WORKER_TOKEN</code>. Enter it once: it is kept in an HttpOnly cookie for this browser (30
              days), never in the page.
            </p>
          </>
        )}
        {health.state === 'unauthorized' && <p className="muted small">Server said: {health.message}</p>}
        <input type="text" name="username" autoComplete="username" value="refinery" readOnly hidden />
        <label className="field">
          {readNeeded ? 'Token' : 'Worker token'}
          <input
            type="password"
            autoComplete="current-password"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            required
            autoFocus
          />
        </label>
        {error && (
          <p className="error-text" role="alert">
            {error}
          </p>
        )}
        <div className="row gap">
          <button type="submit" className="primary" disabled={busy || !token.trim()}>
            {busy ? 'Saving…' : 'Save token'}
          </button>
          {!locked && (
            <button type="button" onClick={() => clearUnauthorized()}>
              Not now
            </button>
          )}
        </div>
      </form>
    </dialog>
  );
}

function Shell() {
  const { pathname } = useLocation();
  // The menu belongs to the page it was opened on: navigating closes it.
  const [menuAt, setMenuAt] = useState<string | null>(null);
  const menu = menuAt === pathname;
  useEffect(() => {
    document.title = `${titleFor(pathname)} · s390x Wheel Refinery`;
  }, [pathname]);
  return (
    <>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="app-header">
        <div className="brand">
          <Link to="/" aria-label="s390x Wheel Refinery, dashboard">
            <span className="logo" aria-hidden="true">
              Z
            </span>
            <span className="brand-name">Wheel Refinery</span>
          </Link>
        </div>
        <button
          type="button"
          className="menu-button"
          aria-expanded={menu}
          aria-controls="main-nav"
          onClick={() => setMenuAt(menu ? null : pathname)}
        >
          Menu
        </button>
        <nav id="main-nav" aria-label="Main" className={menu ? 'open' : undefined}>
          {NAV.map((n) => (
            <NavLink key={n.to} to={n.to} exact={n.exact}>
              {n.label}
            </NavLink>
          ))}
        </nav>
        <Badges />
      </header>
      <ApiDownBanner />
      <main id="main" tabIndex={-1}>
        <Gate />
      </main>
      <TokenDialog />
    </>
  );
}

export function App() {
  return (
    <ToastProvider>
      <SessionProvider>
        <Shell />
      </SessionProvider>
    </ToastProvider>
  );
}
