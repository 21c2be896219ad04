/**
 * The ISO 8601 time an event is stamped with. Formatting a Date costs more than recording the rest of
 * a statement's event, and a busy tunnel records many events in the same millisecond: the text of the
 * last millisecond is kept and reused.
 */
let lastMs = Number.NaN;
let lastText = '';

export function eventTime(ms = Date.now()): string {
  if (ms !== lastMs) {
    lastText = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastText;
}
