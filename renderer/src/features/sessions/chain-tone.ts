import type { SessionRow } from '../../../../preload/api.ts';
import type { Tone } from '../../components/Badge.tsx';

/** How a recording's chain status is shown, in the list and in the replay alike. */
export const CHAIN_TONE: Record<SessionRow['chainStatus'], Tone> = {
  ok: 'good',
  incomplete: 'warn',
  broken: 'bad',
};
