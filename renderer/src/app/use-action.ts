/** Runs one action at a time for a button or a form: busy while it runs, its error until the next try. */
import { useCallback, useRef, useState } from 'react';

export interface Action<A extends unknown[]> {
  run: (...args: A) => Promise<boolean>;
  busy: boolean;
  error: string | null;
  clear: () => void;
}

export function useAction<A extends unknown[]>(body: (...args: A) => Promise<unknown>): Action<A> {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const running = useRef(false);
  const latest = useRef(body);
  latest.current = body;
  const run = useCallback(async (...args: A): Promise<boolean> => {
    if (running.current) return false;
    running.current = true;
    setBusy(true);
    setError(null);
    try {
      await latest.current(...args);
      return true;
    } catch (caught) {
      setError((caught as Error).message);
      return false;
    } finally {
      running.current = false;
      setBusy(false);
    }
  }, []);
  return { run, busy, error, clear: useCallback(() => setError(null), []) };
}
