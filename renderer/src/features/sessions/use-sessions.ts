/** Searching recorded sessions, replaying one as a timeline, exporting it. */
import { useCallback, useEffect, useState } from 'react';
import type { ReplayView, SessionQuery, SessionRow } from '../../../../preload/api.ts';
import { api, unwrap } from '../../app/api.ts';
import { useAction } from '../../app/use-action.ts';

type Load<T> = { status: 'loading' } | { status: 'ready'; value: T } | { status: 'error'; message: string };

export function useSessionSearch() {
  const [query, setQuery] = useState<SessionQuery>({});
  const [result, setResult] = useState<Load<SessionRow[]>>({ status: 'loading' });
  const search = useCallback(async (q: SessionQuery) => {
    setResult({ status: 'loading' });
    try {
      setResult({ status: 'ready', value: await unwrap(api().sessions.search(q)) });
    } catch (error) {
      setResult({ status: 'error', message: (error as Error).message });
    }
  }, []);
  useEffect(() => {
    void search({});
  }, [search]);
  return { query, setQuery, result, search };
}

/** What the replay's parts read and do. */
export type Replay = ReturnType<typeof useReplay>;

export function useReplay(sessionId: string) {
  const [replay, setReplay] = useState<Load<ReplayView>>({ status: 'loading' });
  const load = useCallback(async () => {
    setReplay({ status: 'loading' });
    try {
      setReplay({ status: 'ready', value: await unwrap(api().sessions.replay(sessionId)) });
    } catch (error) {
      setReplay({ status: 'error', message: (error as Error).message });
    }
  }, [sessionId]);
  useEffect(() => {
    void load();
  }, [load]);
  const [exported, setExported] = useState<string | null>(null);
  const exportSession = useAction(async () => {
    setExported(null);
    try {
      const done = await unwrap(api().sessions.export(sessionId));
      setExported(`Saved ${done.lines} lines to ${done.path}`);
    } catch (error) {
      if ((error as { code?: string }).code !== 'cancelled') throw error;
    }
  });
  return { replay, load, exportSession, exported };
}
