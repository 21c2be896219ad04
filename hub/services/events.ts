/**
 * The live event log behind the SSE stream. Services append events in the same transaction as the state
 * change they announce; the bus then reads new rows in id order and hands them to in-process listeners.
 *
 * Several hub instances on one PostgreSQL database: an append also sends `pg_notify(channel, id)` (delivered
 * on commit), and every instance LISTENs and, on a notification, reads the rows after the last id it saw.
 * Appends are serialised with a transaction-scoped advisory lock, so ids become visible in order and a
 * reader never skips an id that commits late.
 *
 * Subscribers get the stored events after the id they resume from (Last-Event-ID), then live ones.
 */
import { sql, type Kysely } from 'kysely';
import type { HubEvent, HubEventType, Identity } from '../api/types.ts';
import type { HubDatabase, Listener } from '../db/database.ts';
import type { HubSchema } from '../db/schema.ts';
import { iso, type Clock } from './clock.ts';
import type { Db } from './db-handle.ts';
import { toGroup, toSubject } from './event-recipients.ts';

export const EVENTS_CHANNEL = 'portcullis_events';
/** pg_advisory_xact_lock key for appends ("Port" in ASCII). */
const APPEND_LOCK = 0x506f7274;
const PAGE = 500;
const PRUNE_BATCH = 5000;

export interface Recipients {
  subjects?: readonly string[];
  groups?: readonly string[];
  /** Not delivered to this subject even through one of its groups (e.g. the requester among approvers). */
  exceptSubject?: string | null;
}

export interface NewEvent {
  type: HubEventType;
  payload: Record<string, unknown>;
  to: Recipients;
}

/** An event as the bus sees it: with its recipients, before filtering for one subscriber. */
export interface BusEvent extends HubEvent {
  recipients: readonly string[];
  exceptSubject: string | null;
}

/** Who is listening: an identity, or just the subject and groups of one. */
export type Audience = Pick<Identity, 'subject' | 'groups'>;

export interface SubscribeOptions {
  /** Resume after this event id (the SSE Last-Event-ID); without it, only events from now on. */
  after?: number;
  /** Ends the iteration (the HTTP connection closed). */
  signal?: AbortSignal;
}

export function isFor(event: BusEvent, audience: Audience): boolean {
  if (event.exceptSubject !== null && event.exceptSubject === audience.subject) return false;
  return (
    event.recipients.includes(toSubject(audience.subject)) ||
    audience.groups.some((group) => event.recipients.includes(toGroup(group)))
  );
}

export class EventBus {
  private lastSeen = 0;
  private readonly listeners = new Set<(event: BusEvent) => void>();
  private fetching: Promise<void> | null = null;
  private again = false;
  private retry: NodeJS.Timeout | undefined;
  private listener: Listener | undefined;
  private closed = false;
  private readonly closeHandlers = new Set<() => void>();

  private constructor(
    private readonly hub: HubDatabase,
    private readonly clock: Clock,
  ) {}

  /** Starts at the current end of the log, LISTENing on PostgreSQL. */
  static async start(hub: HubDatabase, clock: Clock): Promise<EventBus> {
    const bus = new EventBus(hub, clock);
    const row = await hub.db
      .selectFrom('events')
      .select((eb) => eb.fn.max('id').as('max'))
      .executeTakeFirst();
    bus.lastSeen = Number(row?.max ?? 0);
    bus.listener = await hub.listen(
      EVENTS_CHANNEL,
      () => bus.poke(),
      () => bus.poke(),
    );
    return bus;
  }

  /** The last id this instance has read and dispatched. */
  get lastId(): number {
    return this.lastSeen;
  }

  /**
   * Appends inside the caller's transaction (always as its last step, after any row locks). Call
   * `poke()` after the commit so local listeners hear of it at once.
   */
  async appendIn(trx: Db, events: readonly NewEvent[]): Promise<number[]> {
    if (events.length === 0) return [];
    if (this.hub.dialect === 'postgres') {
      await sql`select pg_advisory_xact_lock(${sql.lit(APPEND_LOCK)})`.execute(trx);
    }
    const createdAt = iso(this.clock.now());
    const ids: number[] = [];
    for (const event of events) {
      const { id } = await trx
        .insertInto('events')
        .values({
          type: event.type,
          payload: JSON.stringify(event.payload),
          created_at: createdAt,
          exclude_subject: event.to.exceptSubject ?? null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      const recipients = new Set([
        ...(event.to.subjects ?? []).map(toSubject),
        ...(event.to.groups ?? []).map(toGroup),
      ]);
      if (recipients.size > 0) {
        await trx
          .insertInto('event_recipients')
          .values([...recipients].map((recipient) => ({ event_id: Number(id), recipient })))
          .execute();
      }
      ids.push(Number(id));
    }
    if (this.hub.dialect === 'postgres') {
      await sql`select pg_notify(${EVENTS_CHANNEL}, ${String(ids.at(-1))})`.execute(trx);
    }
    return ids;
  }

  /** Appends in a transaction of its own and dispatches. */
  async append(events: readonly NewEvent[]): Promise<number[]> {
    const ids = await this.hub.db.transaction().execute((trx) => this.appendIn(trx, events));
    this.poke();
    return ids;
  }

  /** Reads rows after the last seen id and dispatches them; cheap to call often. */
  poke(): void {
    if (this.closed) return;
    if (this.fetching) {
      this.again = true;
      return;
    }
    this.fetching = this.drain().finally(() => (this.fetching = null));
  }

  /** Resolves once every row committed before the call has been dispatched. */
  async settled(): Promise<void> {
    this.poke();
    while (this.fetching) await this.fetching;
  }

  /** Every event, whoever it is for (in-process consumers such as waitForDecision). */
  onEvent(listener: (event: BusEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called once when the bus closes (waiters give up). */
  onClose(handler: () => void): () => void {
    if (this.closed) {
      handler();
      return () => {};
    }
    this.closeHandlers.add(handler);
    return () => this.closeHandlers.delete(handler);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The events for one audience: stored ones after `after`, then live ones, until the signal aborts. */
  async *subscribe(audience: Audience, options: SubscribeOptions = {}): AsyncGenerator<HubEvent, void, void> {
    const { signal } = options;
    const queue: BusEvent[] = [];
    let wake: (() => void) | null = null;
    const off = this.onEvent((event) => {
      if (!isFor(event, audience)) return;
      queue.push(event);
      wake?.();
    });
    const onAbort = (): void => wake?.();
    signal?.addEventListener('abort', onAbort);
    const offClose = this.onClose(onAbort);
    try {
      let cursor = options.after ?? this.lastSeen;
      if (options.after !== undefined) {
        for (;;) {
          const page = await this.storedFor(audience, cursor, PAGE);
          for (const event of page) {
            if (signal?.aborted) return;
            cursor = event.id;
            yield event;
          }
          if (page.length < PAGE) break;
        }
      }
      while (!signal?.aborted && !this.closed) {
        const next = queue.shift();
        if (next) {
          if (next.id > cursor) {
            cursor = next.id;
            yield publicEvent(next);
          }
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    } finally {
      off();
      offClose();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Stored events for an audience after an id, oldest first. */
  async storedFor(audience: Audience, after: number, limit = PAGE): Promise<HubEvent[]> {
    const recipients = [toSubject(audience.subject), ...audience.groups.map(toGroup)];
    const rows = await this.hub.db
      .selectFrom('events as e')
      .selectAll('e')
      .where('e.id', '>', after)
      .where((eb) =>
        eb.or([eb('e.exclude_subject', 'is', null), eb('e.exclude_subject', '<>', audience.subject)]),
      )
      .where(({ exists, selectFrom }) =>
        exists(
          selectFrom('event_recipients as r')
            .select('r.event_id')
            .whereRef('r.event_id', '=', 'e.id')
            .where('r.recipient', 'in', recipients),
        ),
      )
      .orderBy('e.id')
      .limit(limit)
      .execute();
    return rows.map((row) => ({
      id: Number(row.id),
      type: row.type as HubEventType,
      payload: JSON.parse(row.payload) as Record<string, unknown>,
      createdAt: row.created_at,
    }));
  }

  /**
   * Deletes events created before a time (the stream's retention), with their recipients, in batches so
   * that appends on other instances never wait long behind it. Returns how many.
   */
  async prune(before: Date): Promise<number> {
    let deleted = 0;
    for (;;) {
      const rows = await this.hub.db
        .selectFrom('events')
        .select('id')
        .where('created_at', '<', iso(before))
        .orderBy('id')
        .limit(PRUNE_BATCH)
        .execute();
      if (rows.length === 0) return deleted;
      const result = await this.hub.db
        .deleteFrom('events')
        .where(
          'id',
          'in',
          rows.map((row) => row.id),
        )
        .executeTakeFirst();
      deleted += Number(result.numDeletedRows);
      if (rows.length < PRUNE_BATCH) return deleted;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    await this.listener?.close();
    await this.fetching;
    for (const handler of [...this.closeHandlers]) handler();
    this.closeHandlers.clear();
    this.listeners.clear();
  }

  private async drain(): Promise<void> {
    do {
      this.again = false;
      try {
        while (await this.fetchPage(this.hub.db)) {
          /* until a short page */
        }
      } catch {
        // The store is unreachable for now; try again shortly (live delivery resumes where it stopped).
        if (!this.closed && !this.retry) {
          this.retry = setTimeout(() => {
            this.retry = undefined;
            this.poke();
          }, 1000);
          this.retry.unref();
        }
        return;
      }
    } while (this.again && !this.closed);
  }

  /** Reads and dispatches one page; true when there may be more. */
  private async fetchPage(db: Kysely<HubSchema>): Promise<boolean> {
    const rows = await db
      .selectFrom('events')
      .selectAll()
      .where('id', '>', this.lastSeen)
      .orderBy('id')
      .limit(PAGE)
      .execute();
    if (rows.length === 0) return false;
    const ids = rows.map((row) => Number(row.id));
    const recipientRows = await db
      .selectFrom('event_recipients')
      .select(['event_id', 'recipient'])
      .where('event_id', 'in', ids)
      .execute();
    const recipients = new Map<number, string[]>();
    for (const r of recipientRows) {
      const list = recipients.get(Number(r.event_id)) ?? [];
      list.push(r.recipient);
      recipients.set(Number(r.event_id), list);
    }
    for (const row of rows) {
      const id = Number(row.id);
      if (id <= this.lastSeen) continue;
      this.lastSeen = id;
      const event: BusEvent = {
        id,
        type: row.type as HubEventType,
        payload: JSON.parse(row.payload) as Record<string, unknown>,
        createdAt: row.created_at,
        recipients: recipients.get(id) ?? [],
        exceptSubject: row.exclude_subject,
      };
      for (const listener of [...this.listeners]) {
        try {
          listener(event);
        } catch {
          // One faulty listener does not stop delivery to the others.
        }
      }
    }
    return rows.length === PAGE;
  }
}

function publicEvent(event: BusEvent): HubEvent {
  return { id: event.id, type: event.type, payload: event.payload, createdAt: event.createdAt };
}
