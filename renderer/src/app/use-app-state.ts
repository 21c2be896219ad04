/**
 * The state main pushes, as React state: the snapshot asked for once, then every patch. Patches that
 * arrive before the snapshot are applied to it when it comes.
 */
import { useEffect, useState } from 'react';
import type { AppState, StatePush } from '../../../preload/api.ts';
import { api, unwrap } from './api.ts';

export type Loaded =
  { status: 'loading' } | { status: 'ready'; state: AppState } | { status: 'error'; message: string };

export function useAppState(): Loaded {
  const [loaded, setLoaded] = useState<Loaded>({ status: 'loading' });
  useEffect(() => {
    let early: Partial<AppState> = {};
    let ready = false;
    const stop = api().app.onState((push: StatePush) => {
      if (push.kind === 'snapshot') {
        ready = true;
        setLoaded({ status: 'ready', state: push.state });
        return;
      }
      if (!ready) {
        early = { ...early, ...push.patch };
        return;
      }
      setLoaded((current) =>
        current.status === 'ready'
          ? { status: 'ready', state: { ...current.state, ...push.patch } }
          : current,
      );
    });
    unwrap(api().app.state()).then(
      (state) => {
        if (ready) return;
        ready = true;
        setLoaded({ status: 'ready', state: { ...state, ...early } });
      },
      (error: Error) => setLoaded({ status: 'error', message: error.message }),
    );
    return stop;
  }, []);
  return loaded;
}
