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
  const table = new EntryTable(options.saved ?? []);
  const changed = options.changed ?? (() => {});
  return {
    adapter: (model) => modelAdapter(model, table, changed),
    snapshot: () => table.saved(),
  };
}

/** The entries with the indexes oidc-provider looks them up by: session uid, user code, grant. */
class EntryTable {
  private readonly entries = new Map<string, Entry>();
  private readonly byGrant = new Map<string, Set<string>>();
  private readonly sessionByUid = new Map<string, string>();
  private readonly byUserCode = new Map<string, string>();
  private writes = 0;

  constructor(saved: SavedEntry[]) {
    for (const entry of saved) {
      const split = entry.key.indexOf(':');
      const expiresAt = entry.expiresAt ?? Infinity;
      if (split <= 0 || expiresAt <= Date.now()) continue;
      this.entries.set(entry.key, { payload: entry.payload, expiresAt });
      this.index(entry.key.slice(0, split), entry.key.slice(split + 1), entry.payload);
    }
  }

  put(model: string, id: string, payload: Payload, expiresAt: number): void {
    this.entries.set(`${model}:${id}`, { payload, expiresAt });
    this.index(model, id, payload);
    if (++this.writes % SWEEP_EVERY === 0) this.sweep();
  }

  live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  sessionIdByUid(uid: string): string | undefined {
    return this.sessionByUid.get(uid);
  }

  idByUserCode(userCode: string): string | undefined {
    return this.byUserCode.get(userCode);
  }

  delete(model: string, id: string): void {
    const key = `${model}:${id}`;
    const entry = this.entries.get(key);
    this.entries.delete(key);
    if (entry && typeof entry.payload.uid === 'string' && this.sessionByUid.get(entry.payload.uid) === id) {
      this.sessionByUid.delete(entry.payload.uid);
    }
  }

  revokeGrant(grantId: string): void {
    for (const key of this.byGrant.get(grantId) ?? []) this.entries.delete(key);
    this.byGrant.delete(grantId);
  }

  saved(): SavedEntry[] {
    this.sweep();
    return [...this.entries].map(([key, entry]) => ({
      key,
      payload: entry.payload,
      expiresAt: Number.isFinite(entry.expiresAt) ? entry.expiresAt : null,
    }));
  }

  private index(model: string, id: string, payload: Payload): void {
    const key = `${model}:${id}`;
    if (model === 'Session' && typeof payload.uid === 'string') this.sessionByUid.set(payload.uid, id);
    if (typeof payload.userCode === 'string') this.byUserCode.set(payload.userCode, id);
    if (GRANTABLE.has(model) && typeof payload.grantId === 'string') {
      const keys = this.byGrant.get(payload.grantId) ?? new Set<string>();
      keys.add(key);
      this.byGrant.set(payload.grantId, keys);
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt <= now) this.entries.delete(key);
    }
    for (const [grantId, keys] of this.byGrant) {
      for (const key of keys) if (!this.entries.has(key)) keys.delete(key);
      if (keys.size === 0) this.byGrant.delete(grantId);
    }
  }
}

/** oidc-provider's adapter for one MODEL, reporting every change. */
function modelAdapter(model: string, table: EntryTable, changed: () => void): Adapter {
  const keyFor = (id: string): string => `${model}:${id}`;
  return {
    async upsert(id, payload, expiresIn) {
      const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
      table.put(model, id, payload, expiresAt);
      changed();
    },
    async find(id) {
      return table.live(keyFor(id))?.payload;
    },
    async findByUid(uid) {
      const id = table.sessionIdByUid(uid);
      return id === undefined ? undefined : table.live(keyFor(id))?.payload;
    },
    async findByUserCode(userCode) {
      const id = table.idByUserCode(userCode);
      return id === undefined ? undefined : table.live(keyFor(id))?.payload;
    },
    async consume(id) {
      const entry = table.live(keyFor(id));
      if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
      changed();
    },
    async destroy(id) {
      table.delete(model, id);
      changed();
    },
    async revokeByGrantId(grantId) {
      table.revokeGrant(grantId);
      changed();
    },
  };
}
