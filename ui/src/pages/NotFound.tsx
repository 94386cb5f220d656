import { Link, useLocation } from '../lib/router';

export function NotFound({ what, hint }: { what?: string; hint?: string }) {
  const { pathname } = useLocation();
  return (
    <div className="page not-found">
      <h1>Not found</h1>
      <p className="lede">{what ? `There is no ${what}.` : <>There is no page at <code>{pathname}</code>.</>}</p>
      {hint && <p>{hint}</p>}
      <p>
        Go to the <Link to="/">dashboard</Link>, the <Link to="/builds">build queue</Link> or the{' '}
        <Link to="/packages">packages</Link>.
      </p>
    </div>
  );
}
