// Data shaping of the dashboard's charts.

export interface Bucket {
  start: number;
  label: string;
  ok: number;
  bad: number;
}

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/**
 * Groups finished builds into time buckets ending now: 24 hourly buckets when everything
 * is from the last day, daily ones otherwise (at most 30).
 */
export function bucketize(points: { ms: number; ok: boolean }[], now: number): Bucket[] {
  if (!points.length) return [];
  const oldest = Math.min(...points.map((p) => p.ms));
  const span = now - oldest;
  const size = span <= DAY ? HOUR : DAY;
  // A fixed window (the last 24 hours, or up to 30 days), so one busy hour is one bar.
  const n = size === HOUR ? 24 : Math.min(30, Math.max(2, Math.ceil((span + 1) / size)));
  const end = Math.floor(now / size) * size + size;
  const first = end - n * size;
  const buckets: Bucket[] = Array.from({ length: n }, (_, i) => {
    const start = first + i * size;
    const d = new Date(start);
    const label =
      size === HOUR
        ? `${String(d.getHours()).padStart(2, '0')}:00`
        : `${d.getMonth() + 1}/${d.getDate()}`;
    return { start, label, ok: 0, bad: 0 };
  });
  for (const p of points) {
    const i = Math.floor((p.ms - first) / size);
    if (i < 0 || i >= n) continue;
    if (p.ok) buckets[i].ok++;
    else buckets[i].bad++;
  }
  return buckets;
}

const BOUNDS = [10, 30, 60, 120, 300, 600, 1800];

function boundLabel(s: number): string {
  return s < 60 ? `${s}s` : `${s / 60}m`;
}

/** Durations in seconds into fixed bins: ≤10 s, ≤30 s, … , > 30 min. */
export function histogram(secs: number[]): { label: string; count: number }[] {
  const bins = BOUNDS.map((b) => ({ label: `≤${boundLabel(b)}`, count: 0 }));
  bins.push({ label: `>${boundLabel(BOUNDS[BOUNDS.length - 1])}`, count: 0 });
  for (const s of secs) {
    const i = BOUNDS.findIndex((b) => s <= b);
    bins[i === -1 ? bins.length - 1 : i].count++;
  }
  return bins;
}
