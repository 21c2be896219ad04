import type { Adapter } from 'oidc-provider';

type Payload = Record<string, unknown>;

interface Entry {
  payload: Payload;
  /** Epoch milliseconds; Infinity for entries without an expiry. */
  expiresAt: number;
}

/** Models whose instances belong to a grant and are revoked with it. */
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

const SWEEP_EVERY = 200;

/** One stored entry as it is saved to disk: `key` is `${model}:${id}`; `expiresAt` null for never. */
export interface SavedEntry {
  key: string;
  payload: Payload;
  expiresAt: number | null;
}

export interface MemoryStore {
  /** oidc-provider's `adapter` option. */
  adapter: (model: string) => Adapter;
  /** The live entries, for saving. */
  snapshot(): SavedEntry[];
}

/**
 * The development IdP's storage: one in-memory store per IdP instance (oidc-provider's own memory adapter is
 * a process-wide singleton and warns on every start). Entries expire lazily on read and in periodic sweeps.
 * It may start from saved entries and report every change, so that its owner can keep it across restarts.
 */
export function createMemoryStore(options: { saved?: SavedEntry[]; changed?: () => void } = {}): MemoryStore {
  const entries = new Map<string, Entry>();
  const byGrant = new Map<string, Set<string>>();
  const sessionByUid = new Map<string, string>();
  const byUserCode = new Map<string, string>();
  const changed = options.changed ?? (() => {});
  let writes = 0;

  const index = (model: string, id: string, payload: Payload): void => {
    const key = `${model}:${id}`;
    if (model === 'Session' && typeof payload.uid === 'string') sessionByUid.set(payload.uid, id);
    if (typeof payload.userCode === 'string') byUserCode.set(payload.userCode, id);
    if (GRANTABLE.has(model) && typeof payload.grantId === 'string') {
      const keys = byGrant.get(payload.grantId) ?? new Set<string>();
      keys.add(key);
      byGrant.set(payload.grantId, keys);
    }
  };
  for (const saved of options.saved ?? []) {
    const split = saved.key.indexOf(':');
    const expiresAt = saved.expiresAt ?? Infinity;
    if (split <= 0 || expiresAt <= Date.now()) continue;
    entries.set(saved.key, { payload: saved.payload, expiresAt });
    index(saved.key.slice(0, split), saved.key.slice(split + 1), saved.payload);
  }

  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };

  const sweep = (): void => {
    const now = Date.now();
    for (const [key, entry] of entries) {
      if (entry.expiresAt <= now) entries.delete(key);
    }
    for (const [grantId, keys] of byGrant) {
      for (const key of keys) if (!entries.has(key)) keys.delete(key);
      if (keys.size === 0) byGrant.delete(grantId);
    }
  };

  const adapter = (model: string): Adapter => {
    const keyFor = (id: string): string => `${model}:${id}`;
    return {
      async upsert(id, payload, expiresIn) {
        const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
        entries.set(keyFor(id), { payload, expiresAt });
        index(model, id, payload);
        if (++writes % SWEEP_EVERY === 0) sweep();
        changed();
      },
      async find(id) {
        return live(keyFor(id))?.payload;
      },
      async findByUid(uid) {
        const id = sessionByUid.get(uid);
        return id === undefined ? undefined : live(keyFor(id))?.payload;
      },
      async findByUserCode(userCode) {
        const id = byUserCode.get(userCode);
        return id === undefined ? undefined : live(keyFor(id))?.payload;
      },
      async consume(id) {
        const entry = live(keyFor(id));
        if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
        changed();
      },
      async destroy(id) {
        const key = keyFor(id);
        const entry = entries.get(key);
        entries.delete(key);
        if (entry && typeof entry.payload.uid === 'string' && sessionByUid.get(entry.payload.uid) === id) {
          sessionByUid.delete(entry.payload.uid);
        }
        changed();
      },
      async revokeByGrantId(grantId) {
        for (const key of byGrant.get(grantId) ?? []) entries.delete(key);
        byGrant.delete(grantId);
        changed();
      },
    };
  };

  return {
    adapter,
    snapshot() {
      sweep();
      return [...entries].map(([key, entry]) => ({
        key,
        payload: entry.payload,
        expiresAt: Number.isFinite(entry.expiresAt) ? entry.expiresAt : null,
      }));
    },
  };
}
