/** Numbers, sizes and times for people. */

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** "in 29 min", "3 h ago", "just now". */
export function relative(iso: string | null, now = Date.now()): string {
  if (!iso) return '—';
  const delta = Date.parse(iso) - now;
  const minutes = Math.round(Math.abs(delta) / 60_000);
  if (minutes < 1) return delta >= 0 ? 'in under a minute' : 'just now';
  const span =
    minutes < 120
      ? `${minutes} min`
      : minutes < 48 * 60
        ? `${Math.round(minutes / 60)} h`
        : `${Math.round(minutes / 1440)} days`;
  return delta >= 0 ? `in ${span}` : `${span} ago`;
}

/** "14:05" (local time). */
export function clock(iso: string | null): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
}

/** "2025-03-01 14:05:09" (local time). */
export function dateTime(iso: string | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function duration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
  return `${Math.round(seconds / 60)} min`;
}

/** "≈ 1,203 rows in payments", or null when nothing was estimated. */
export function estimate(
  context: { tables: string[]; writes: string[]; estimatedRows: number | null } | null,
): string | null {
  if (!context || context.estimatedRows === null) return null;
  const rows = Math.round(context.estimatedRows);
  const where = context.writes.length > 0 ? context.writes : context.tables;
  return `≈ ${count(rows)} row${rows === 1 ? '' : 's'}${where.length > 0 ? ` in ${where.join(', ')}` : ''}`;
}
