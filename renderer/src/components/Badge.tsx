/** A short state word with a colour that is never the only signal (the word says it). */
export type Tone = 'neutral' | 'good' | 'warn' | 'bad' | 'info';

export function Badge({ tone, children }: { tone: Tone; children: string }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}
