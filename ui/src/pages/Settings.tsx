import { useEffect, useState, type FormEvent } from 'react';
import { api, apiBase, errorMessage, forgetToken, setApiBase } from '../lib/api';
import { refreshAll, useApi } from '../lib/hooks';
import type { Settings, SettingsPatch } from '../lib/types';
import { Card, ErrorBox, Skeleton, Switch, useToast } from '../components/ui';
import { useSession } from '../session';

export function SettingsPage() {
  const settings = useApi<Settings>('/api/settings');
  const { token, refreshToken, saveToken: storeAndRefresh, recheck, server } = useSession();
  const toast = useToast();
  const [base, setBase] = useState(apiBase());
  const [tokenText, setTokenText] = useState('');
  const [tokenError, setTokenError] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [local, setLocal] = useState<Settings | null>(null);
  useEffect(() => {
    // eslint-disable-next-line react-hooks/set-state-in-effect -- the form edits a copy of what the server has
    if (settings.data) setLocal(settings.data);
  }, [settings.data]);

  const saveBase = async (e: FormEvent) => {
    e.preventDefault();
    setApiBase(base);
    setBase(apiBase());
    toast.info(apiBase() ? `The UI now talks to ${apiBase()}.` : 'The UI now talks to the server that serves it.');
    await recheck();
    await refreshToken();
    refreshAll();
  };

  const saveToken = async (e: FormEvent) => {
    e.preventDefault();
    setBusy('token');
    setTokenError('');
    try {
      await storeAndRefresh(tokenText);
      setTokenText('');
      toast.success('Worker token saved in a cookie for this browser.');
    } catch (err) {
      setTokenError(errorMessage(err));
    } finally {
      setBusy(null);
    }
  };

  const dropToken = async () => {
    setBusy('forget');
    try {
      await forgetToken();
      await refreshToken();
      toast.info('The worker token cookie was removed.');
    } catch (err) {
      toast.error(err);
    } finally {
      setBusy(null);
    }
  };

  const put = async (change: Partial<Settings>) => {
    if (!local) return;
    const before = local;
    setLocal({ ...local, ...change });
    setBusy('settings');
    try {
      const saved = await api<Settings>('/api/settings', { method: 'PUT', body: change satisfies SettingsPatch });
      setLocal(saved);
      toast.success(`Auto plan ${saved.auto_plan ? 'on' : 'off'}, auto build ${saved.auto_build ? 'on' : 'off'}.`);
      refreshAll();
    } catch (err) {
      setLocal(before);
      toast.error(err);
    } finally {
      setBusy(null);
    }
  };

  const tokenText_: Record<string, string> = {
    'not-required': 'This server has no WORKER_TOKEN: every action is open, nothing to enter.',
    missing: 'This server needs a worker token for actions (uploads, retries, settings). None is stored in this browser.',
    valid: 'A valid worker token is stored in this browser (an HttpOnly cookie, 30 days).',
    'read-only': 'The token stored in this browser is the read token: pages load, but actions (uploads, retries, settings) need the worker token.',
    invalid: 'The token stored in this browser is not valid for this server. Enter the right one.',
    unknown: 'The token state is not known (the API may be down).',
  };

  return (
    <div className="page">
      <div className="page-head">
        <h1>Settings</h1>
        <p className="lede">Where this dashboard finds the API, the worker token, and what happens by itself after an upload.</p>
      </div>

      <Card title="Automation" id="automation">
        {settings.error && !local ? <ErrorBox error={settings.error} what="the settings" onRetry={settings.reload} /> : null}
        {!local && !settings.error && <Skeleton lines={2} />}
        {local && (
          <div className="stack">
            <Switch
              label="Auto plan"
              description="Plan every upload as soon as it arrives (otherwise press Enqueue on the Inputs page)."
              checked={local.auto_plan}
              disabled={busy === 'settings'}
              onChange={(v) => void put({ auto_plan: v })}
            />
            <Switch
              label="Auto build"
              description="Queue the builds of every new plan (otherwise press Enqueue builds on the plan)."
              checked={local.auto_build}
              disabled={busy === 'settings'}
              onChange={(v) => void put({ auto_build: v })}
            />
          </div>
        )}
      </Card>

      <Card title="Worker token" id="token">
        <p>{tokenText_[token]}</p>
        {token !== 'not-required' && (
          <form onSubmit={saveToken} className="row gap wrap end">
            <input type="text" name="username" autoComplete="username" value="refinery" readOnly hidden />
            <label className="field">
              Worker token
              <input
                type="password"
                autoComplete="current-password"
                value={tokenText}
                onChange={(e) => setTokenText(e.target.value)}
                placeholder="the server's WORKER_TOKEN"
              />
            </label>
            <button type="submit" className="primary" disabled={!tokenText.trim() || busy === 'token'}>
              {busy === 'token' ? 'Saving…' : 'Save token'}
            </button>
            {(token === 'valid' || token === 'read-only' || token === 'invalid') && (
              <button type="button" onClick={() => void dropToken()} disabled={busy === 'forget'}>
                Forget token
              </button>
            )}
          </form>
        )}
        {tokenError && (
          <p className="error-text" role="alert">
            {tokenError}
          </p>
        )}
      </Card>

      <Card title="API" id="api">
        <form onSubmit={saveBase} className="row gap wrap end">
          <label className="field grow">
            API base URL
            <input
              type="url"
              value={base}
              onChange={(e) => setBase(e.target.value)}
              placeholder={`empty: ${window.location.origin} (the server that serves this page)`}
            />
          </label>
          <button type="submit">Save</button>
          {apiBase() && (
            <button
              type="button"
              onClick={() => {
                setBase('');
                setApiBase('');
                void recheck();
                refreshAll();
              }}
            >
              Use this server
            </button>
          )}
        </form>
        <p className="muted small">
          Leave it empty when <code>refinery serve</code> serves this page. Another origin must allow this one (CORS), and
          the token cookie only works on the same origin; in development, <code>VITE_API_BASE=http://host:8080 npm run dev</code>{' '}
          proxies the API instead.
        </p>
        {server && (
          <p className="muted small">
            Connected to refinery {server.version}, queue on {server.queue}.{' '}
            <a href={`${apiBase()}/api/openapi.json`}>OpenAPI</a> · <a href={`${apiBase()}/simple/`}>pip index</a> ·{' '}
            <a href={`${apiBase()}/metrics`}>metrics</a>
          </p>
        )}
      </Card>
    </div>
  );
}
