/**
 * Keeps the live event log (SSE) to its retention: every `events.prune_every`, one hub instance — whichever
 * claims the job first — deletes the events older than `events.retention`. Instances share nothing but the
 * store, so the claim is one conditional UPDATE of the job's last run: only one instance per interval sees
 * its row change. Recordings and the audit trail are other tables and are never pruned here.
 */
import { addSeconds, iso } from './clock.ts';
import type { ServiceContext } from './context.ts';

const JOB = 'prune-events';

export class EventRetention {
  constructor(private readonly ctx: ServiceContext) {}

  /** Prunes if the job is due and this instance claims it; returns the events deleted, 0 otherwise. */
  async run(now: Date = this.ctx.clock.now()): Promise<number> {
    const { retentionSeconds, pruneEverySeconds } = this.ctx.config().events;
    if (!(await this.claim(now, pruneEverySeconds))) return 0;
    return this.ctx.events.prune(addSeconds(now, -retentionSeconds));
  }

  /** Whether this instance runs the job now: its last run (on any instance) is at least `every` ago. */
  private async claim(now: Date, everySeconds: number): Promise<boolean> {
    const db = this.ctx.hub.db;
    const updated = await db
      .updateTable('hub_jobs')
      .set({ last_run_at: iso(now) })
      .where('name', '=', JOB)
      .where('last_run_at', '<=', iso(addSeconds(now, -everySeconds)))
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) > 0) return true;
    // The first run ever: whichever instance inserts the row runs it.
    const inserted = await db
      .insertInto('hub_jobs')
      .values({ name: JOB, last_run_at: iso(now) })
      .onConflict((conflict) => conflict.column('name').doNothing())
      .returning('name')
      .executeTakeFirst();
    return inserted !== undefined;
  }
}
