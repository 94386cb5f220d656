// Plain SVG charts: builds over time (stacked bars) and a duration histogram.
import { bucketize, histogram, type Bucket } from '../lib/charts';
import { fmtDuration } from '../lib/format';

const W = 560;
const H = 180;
const PAD = { l: 36, r: 8, t: 10, b: 28 };

function niceMax(v: number): number {
  if (v <= 5) return Math.max(1, v);
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return v;
}

function Axis({ max }: { max: number }) {
  const ticks = [0, max / 2, max];
  const ih = H - PAD.t - PAD.b;
  return (
    <g className="axis">
      {ticks.map((t) => {
        const y = PAD.t + ih - (t / max) * ih;
        return (
          <g key={t}>
            <line x1={PAD.l} x2={W - PAD.r} y1={y} y2={y} className="grid" />
            <text x={PAD.l - 4} y={y + 4} textAnchor="end">
              {Number.isInteger(t) ? t : t.toFixed(1)}
            </text>
          </g>
        );
      })}
    </g>
  );
}

export interface TimePoint {
  ms: number;
  ok: boolean;
}

// eslint-disable-next-line react-hooks/purity -- the chart is drawn relative to this render; polling re-renders it
export function BuildsOverTime({ points, now = Date.now() }: { points: TimePoint[]; now?: number }) {
  const buckets: Bucket[] = bucketize(points, now);
  const max = niceMax(Math.max(0, ...buckets.map((b) => b.ok + b.bad)));
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const bw = buckets.length ? iw / buckets.length : iw;
  const total = points.length;
  const okN = points.filter((p) => p.ok).length;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Finished builds over time: ${okN} succeeded, ${total - okN} failed`}>
        <Axis max={max} />
        {buckets.map((b, i) => {
          const x = PAD.l + i * bw + 1;
          const hOk = (b.ok / max) * ih;
          const hBad = (b.bad / max) * ih;
          return (
            <g key={b.start}>
              <title>{`${b.label}: ${b.ok} built, ${b.bad} failed`}</title>
              <rect x={x} width={Math.max(1, bw - 2)} y={PAD.t + ih - hOk} height={hOk} className="bar-ok" />
              <rect x={x} width={Math.max(1, bw - 2)} y={PAD.t + ih - hOk - hBad} height={hBad} className="bar-bad" />
            </g>
          );
        })}
        {buckets.length > 0 &&
          [0, Math.floor(buckets.length / 2), buckets.length - 1].map((i) => (
            <text key={i} x={PAD.l + i * bw + bw / 2} y={H - 8} textAnchor="middle" className="axis-label">
              {buckets[i].label}
            </text>
          ))}
      </svg>
      <figcaption>
        <span className="legend ok" /> built <span className="legend bad" /> failed — {total} finished builds
      </figcaption>
    </figure>
  );
}

export function DurationHistogram({ secs }: { secs: number[] }) {
  const bins = histogram(secs);
  const max = niceMax(Math.max(0, ...bins.map((b) => b.count)));
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const bw = bins.length ? iw / bins.length : iw;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Build durations of ${secs.length} builds`}>
        <Axis max={max} />
        {bins.map((b, i) => {
          const h = (b.count / max) * ih;
          const x = PAD.l + i * bw + 1;
          return (
            <g key={b.label}>
              <title>{`${b.label}: ${b.count} builds`}</title>
              <rect x={x} width={Math.max(1, bw - 2)} y={PAD.t + ih - h} height={h} className="bar-dur" />
              <text x={x + bw / 2} y={H - 8} textAnchor="middle" className="axis-label">
                {b.label}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption>
        Build durations{secs.length ? `: median ${fmtDuration(median(secs))}, slowest ${fmtDuration(Math.max(...secs))}` : ''}
      </figcaption>
    </figure>
  );
}

export function median(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
