const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Parses "30m", "4h", "1h30m", "90s", "2d" into whole seconds; undefined when malformed or zero. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match || text.trim() === '') return undefined;
  const [, d = '0', h = '0', m = '0', s = '0'] = match;
  const seconds = Number(d) * 86_400 + Number(h) * 3_600 + Number(m) * 60 + Number(s);
  return Number.isSafeInteger(seconds) && seconds > 0 ? seconds : undefined;
}

/** The shortest way to write whole seconds back: 14400 → "4h", 5400 → "1h30m". */
export function formatDuration(seconds: number): string {
  const parts: string[] = [];
  let rest = Math.max(0, Math.floor(seconds));
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('') || '0s';
}
