/** "in 29 min", "3 h ago": a time relative to now, for people. */
export function relativeTime(iso: string | null, now = Date.now()): string {
  if (!iso) return '-';
  const delta = Date.parse(iso) - now;
  const minutes = Math.round(Math.abs(delta) / 60_000);
  const span =
    minutes < 1
      ? 'less than a minute'
      : minutes < 120
        ? `${minutes} min`
        : minutes < 48 * 60
          ? `${Math.round(minutes / 60)} h`
          : `${Math.round(minutes / 1440)} days`;
  return delta >= 0 ? `in ${span}` : `${span} ago`;
}
