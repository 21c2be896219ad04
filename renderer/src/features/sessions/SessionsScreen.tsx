import { Replay } from './Replay.tsx';
import { SessionSearch } from './SessionSearch.tsx';

export function SessionsScreen({ sessionId }: { sessionId?: string }) {
  return sessionId ? <Replay key={sessionId} sessionId={sessionId} /> : <SessionSearch />;
}
