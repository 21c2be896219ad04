import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUniqueViolation, openHubDatabase, type HubDatabase } from '../../hub/db/index.ts';
import { hubMigrations } from '../../hub/db/migrations.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

/** Every migration the hub ships, each applied exactly once. */
async function migrationNames(): Promise<string[]> {
  return Object.keys(await hubMigrations('sqlite').getMigrations()).sort();
}

type Backend = 'sqlite' | 'postgres';

let postgres: TestPostgres;
let scratch: string;
let databases = 0;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'portcullis-hub-storage-'));
  postgres = await startPostgres();
});

afterAll(async () => {
  await postgres?.stop();
  await rm(scratch, { recursive: true, force: true });
});

/** A store nobody used yet: an SQLite file in a temporary folder, or a new PostgreSQL database. */
async function freshStore(backend: Backend): Promise<string> {
  databases++;
  if (backend === 'sqlite') return path.join(scratch, `hub-${databases}`, 'hub.db');
  const name = `hub_storage_${databases}`;
  return postgres.createDatabase(name);
}

const TABLES = [
  'access_decisions',
  'access_requests',
  'command_approvals',
  'event_recipients',
  'events',
  'hub_jobs',
  'provisioned_roles',
  'recording_anomalies',
  'session_events',
  'session_proofs',
  'sessions',
];

function session(id: string) {
  return {
    id,
    target_id: 'payments-db',
    subject: 'alice',
    display_name: 'Alice',
    kind: 'person' as const,
    opened_at: '2025-01-01T09:00:00.000Z',
    closed_at: null,
    close_reason: null,
    grant_id: null,
    status: 'open' as const,
    chain_status: 'ok' as const,
    last_seq: 0,
    last_hash: '0'.repeat(64),
    max_seq: 0,
    chain_broken: 0,
    gap_flagged: 0,
    event_count: 0,
    statement_count: 0,
    denied_count: 0,
    held_count: 0,
    anomaly_count: 0,
  };
}

describe.each<Backend>(['sqlite', 'postgres'])('the hub store on %s', (backend) => {
  let location: string;
  let hub: HubDatabase;

  beforeAll(async () => {
    location = await freshStore(backend);
    hub = await openHubDatabase(location);
  });

  afterAll(async () => {
    await hub?.close();
  });

  it('is recognised by its location: a postgres:// URL or an SQLite file path', () => {
    expect(hub.dialect).toBe(backend);
  });

  it('creates the schema on first open, through the migrator', async () => {
    const tables = (await hub.db.introspection.getTables())
      .map((t) => t.name)
      .filter((n) => !n.startsWith('kysely'));
    expect(tables.sort()).toEqual(TABLES);
    const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(
      hub.db,
    );
    expect(applied.rows.map((r) => r.name)).toEqual(await migrationNames());
  });

  it('opens again without migrating twice, keeping the data', async () => {
    await hub.db.insertInto('sessions').values(session('s-reopen')).execute();
    const again = await openHubDatabase(location);
    try {
      const row = await again.db
        .selectFrom('sessions')
        .select('id')
        .where('id', '=', 's-reopen')
        .executeTakeFirst();
      expect(row?.id).toBe('s-reopen');
      const applied = await sql<{ n: number }>`select count(*) as n from kysely_migration`.execute(again.db);
      expect(Number(applied.rows[0]!.n)).toBe((await migrationNames()).length);
    } finally {
      await again.close();
    }
  });

  it('keys session events on (session, seq) and says so when a second one arrives', async () => {
    await hub.db.insertInto('sessions').values(session('s-events')).execute();
    const event = {
      session_id: 's-events',
      seq: 1,
      at: '2025-01-01T09:00:01.000Z',
      type: 'statement',
      payload: '{"sql":"select 1"}',
      prev_hash: '0'.repeat(64),
      hash: 'a'.repeat(64),
      chain_ok: 1,
      received_at: '2025-01-01T09:00:02.000Z',
    };
    await hub.db.insertInto('session_events').values(event).execute();
    const duplicate = await hub.db
      .insertInto('session_events')
      .values({ ...event, hash: 'b'.repeat(64) })
      .execute()
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(isUniqueViolation(duplicate)).toBe(true);
    const stored = await hub.db
      .selectFrom('session_events')
      .selectAll()
      .where('session_id', '=', 's-events')
      .execute();
    expect(stored).toEqual([event]);
  });

  it('numbers the event log with increasing JavaScript numbers', async () => {
    const ids: number[] = [];
    for (const type of ['a', 'b', 'c']) {
      const row = await hub.db
        .insertInto('events')
        .values({ type, payload: '{}', created_at: '2025-01-01T09:00:00.000Z', exclude_subject: null })
        .returning('id')
        .executeTakeFirstOrThrow();
      ids.push(row.id);
    }
    expect(ids.every((id) => typeof id === 'number')).toBe(true);
    expect(ids[1]! - ids[0]!).toBe(1);
    expect(ids[2]! - ids[1]!).toBe(1);
    const count = await hub.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(3);
  });

  it('compares stored times as text, in time order', async () => {
    await hub.db
      .insertInto('sessions')
      .values([
        { ...session('s-early'), opened_at: '2025-01-01T08:59:59.999Z' },
        { ...session('s-late'), opened_at: '2025-01-01T10:00:00.000Z' },
      ])
      .execute();
    const rows = await hub.db
      .selectFrom('sessions')
      .select('id')
      .where('opened_at', '>=', '2025-01-01T09:00:00.000Z')
      .where('opened_at', '<', '2025-01-01T09:30:00.000Z')
      .orderBy('id')
      .execute();
    expect(rows.map((r) => r.id)).toEqual(['s-events', 's-reopen']);
  });

  it('refuses values outside the allowed states', async () => {
    const bad = await hub.db
      .insertInto('sessions')
      .values({ ...session('s-bad'), status: 'sideways' as never })
      .execute()
      .then(
        () => 'accepted',
        () => 'refused',
      );
    expect(bad).toBe('refused');
  });

  if (backend === 'sqlite') {
    it('keeps the store owner-only: a directory it creates 0700, the file and its WAL 0600', async () => {
      const root = mkdtempSync(path.join(tmpdir(), 'portcullis-hub-private-'));
      try {
        const fresh = path.join(root, 'new-dir', 'hub.db');
        const opened = await openHubDatabase(fresh);
        await sql`insert into events (type, payload, created_at) values ('t', '{}', 'now')`.execute(
          opened.db,
        );
        for (const file of [fresh, `${fresh}-wal`, `${fresh}-shm`]) {
          expect(statSync(file).mode & 0o777, file).toBe(0o600);
        }
        expect(statSync(path.dirname(fresh)).mode & 0o777).toBe(0o700);
        await opened.close();
        // A store an older version left readable is made owner-only again when it is opened.
        for (const file of [fresh, `${fresh}-wal`, `${fresh}-shm`]) {
          if (existsSync(file)) chmodSync(file, 0o644);
        }
        const reopened = await openHubDatabase(fresh);
        for (const file of [fresh, `${fresh}-wal`, `${fresh}-shm`]) {
          if (existsSync(file)) expect(statSync(file).mode & 0o777, file).toBe(0o600);
        }
        await reopened.close();
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });

    it('runs SQLite in WAL mode with a busy timeout and foreign keys on', async () => {
      const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(hub.db);
      expect(mode.rows[0]!.journal_mode).toBe('wal');
      const busy = await sql<{ timeout: number }>`pragma busy_timeout`.execute(hub.db);
      expect(busy.rows[0]!.timeout).toBe(5000);
      const keys = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(hub.db);
      expect(keys.rows[0]!.foreign_keys).toBe(1);
    });
  }

  if (backend === 'postgres') {
    it('lets several hub instances start on one new database at once (migrations run once)', async () => {
      const shared = await freshStore('postgres');
      const instances = await Promise.all([
        openHubDatabase(shared),
        openHubDatabase(shared),
        openHubDatabase(shared),
      ]);
      try {
        const applied = await sql<{ n: number }>`select count(*) as n from kysely_migration`.execute(
          instances[0]!.db,
        );
        expect(Number(applied.rows[0]!.n)).toBe((await migrationNames()).length);
      } finally {
        await Promise.all(instances.map((i) => i.close()));
      }
    });

    it('delivers NOTIFY to a LISTENing instance', async () => {
      const other = await openHubDatabase(location);
      const received: string[] = [];
      const heard = new Promise<void>((resolve) => {
        void other.listen(
          'hub_storage_test',
          (payload) => {
            received.push(payload);
            resolve();
          },
          () => {},
        );
      });
      try {
        // The listener may still be connecting: notify until it hears.
        for (let i = 0; received.length === 0 && i < 50; i++) {
          await sql`select pg_notify('hub_storage_test', 'hello')`.execute(hub.db);
          await Promise.race([heard, new Promise((r) => setTimeout(r, 50))]);
        }
        expect(received[0]).toBe('hello');
      } finally {
        await other.close();
      }
    });
  }
});
