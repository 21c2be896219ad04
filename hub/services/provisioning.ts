/**
 * Per-session database roles for targets with `credentials.provision`: created when a session opens,
 * renewed while it stays open on standing access, and dropped (backends terminated) once the session is
 * closed, revoked or its grant has ended. What was created is recorded first, so a hub that crashed or
 * restarted drops what it left behind on its next sweep; every instance sharing the store may do it.
 */
import type pg from 'pg';
import type { PostgresTargetConfig, TargetConfig } from '../config/hub-config.ts';
import { connectAsAdmin } from '../provisioning/admin-connection.ts';
import {
  createSessionRole,
  dropSessionRole,
  renewSessionRole,
  sessionRoleName,
  sessionRolePassword,
} from '../provisioning/session-roles.ts';
import { addSeconds, iso } from './clock.ts';
import { findTarget, type ServiceContext } from './context.ts';
import { ConflictError, UnavailableError } from './errors.ts';
import { targetCredentials, type SessionCredentials } from './proofs.ts';

export interface ProvisionedRole {
  role: string;
  validUntil: string;
}

export interface ReconcileResult {
  dropped: number;
  renewed: number;
  failed: number;
}

interface RoleRow {
  session_id: string;
  target_id: string;
  role: string;
}

export class ProvisioningService {
  constructor(private readonly ctx: ServiceContext) {
    // A revocation or expiry on any instance reaches every instance's bus: drop at once, not at the sweep.
    ctx.events.onEvent((event) => {
      const sessionId = event.payload.sessionId;
      if (event.type === 'session.revoked' && typeof sessionId === 'string') {
        void this.release(sessionId).catch(() => undefined);
      }
    });
  }

  /** Creates the session's role; throws UnavailableError (the session must not open) when it cannot. */
  async provision(
    session: { id: string; subject: string; name: string },
    target: PostgresTargetConfig,
    grantExpiresAt: string | null,
  ): Promise<ProvisionedRole> {
    const provision = target.provision!;
    const now = this.ctx.clock.now();
    const role = sessionRoleName(session.subject, session.id);
    const validUntil = grantExpiresAt ?? iso(addSeconds(now, provision.leaseSeconds));
    const admin = await targetCredentials(this.ctx, target);
    await this.ctx.hub.db
      .insertInto('provisioned_roles')
      .values({
        session_id: session.id,
        target_id: target.id,
        role,
        valid_until: validUntil,
        created_at: iso(now),
        dropped_at: null,
        last_error: null,
      })
      .execute();
    try {
      await this.asAdmin(target, (client) =>
        createSessionRole(client, {
          role,
          password: sessionRolePassword(admin.password, role),
          validUntil,
          grant: provision.grant,
          connectionLimit: provision.connectionLimit,
          comment: `Portcullis session ${session.id} of ${session.name} (${session.subject})`,
        }),
      );
    } catch (error) {
      await this.noteError(session.id, error);
      throw new UnavailableError(
        `target ${target.id}: could not create the session's database role: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return { role, validUntil };
  }

  /** The role a session's connections log in as, and its password; null for targets without provision. */
  async credentialsFor(sessionId: string, target: TargetConfig): Promise<SessionCredentials | null> {
    if (target.kind !== 'postgres' || !target.provision) return null;
    const row = await this.ctx.hub.db
      .selectFrom('provisioned_roles')
      .select(['role', 'dropped_at'])
      .where('session_id', '=', sessionId)
      .executeTakeFirst();
    if (!row || row.dropped_at !== null) throw new ConflictError(`session ${sessionId} has no database role`);
    const admin = await targetCredentials(this.ctx, target);
    return { user: row.role, password: sessionRolePassword(admin.password, row.role) };
  }

  /** Drops the session's role if the session may no longer use it; a no-op otherwise. */
  async release(sessionId: string): Promise<void> {
    const due = await this.dueForDrop(this.ctx.clock.now(), sessionId);
    await this.dropAll(due);
  }

  /** The sweep: drops every role whose session ended, renews the leases of those still open. */
  async reconcile(now: Date = this.ctx.clock.now()): Promise<ReconcileResult> {
    const drops = await this.dropAll(await this.dueForDrop(now));
    const renewals = await this.renewLeases(now);
    return { dropped: drops.done, renewed: renewals.done, failed: drops.failed + renewals.failed };
  }

  private async dueForDrop(now: Date, sessionId?: string): Promise<RoleRow[]> {
    return this.ctx.hub.db
      .selectFrom('provisioned_roles as r')
      .innerJoin('sessions as s', 's.id', 'r.session_id')
      .leftJoin('access_requests as g', 'g.id', 's.grant_id')
      .select(['r.session_id', 'r.target_id', 'r.role'])
      .where('r.dropped_at', 'is', null)
      .$if(sessionId !== undefined, (qb) => qb.where('r.session_id', '=', sessionId!))
      .where((eb) =>
        eb.or([
          eb('s.status', '<>', 'open'),
          eb.and([
            eb('s.grant_id', 'is not', null),
            eb.or([
              eb('g.state', '<>', 'approved'),
              eb('g.expires_at', '<=', iso(now)),
              eb('g.id', 'is', null),
            ]),
          ]),
        ]),
      )
      .execute();
  }

  private async dropAll(rows: readonly RoleRow[]): Promise<{ done: number; failed: number }> {
    let done = 0;
    let failed = 0;
    for (const row of rows) {
      const target = findTarget(this.ctx.config(), row.target_id);
      try {
        if (target?.kind !== 'postgres') throw new Error(`target ${row.target_id} is no longer configured`);
        await this.asAdmin(target, (client) => dropSessionRole(client, row.role));
        await this.ctx.hub.db
          .updateTable('provisioned_roles')
          .set({ dropped_at: iso(this.ctx.clock.now()), last_error: null })
          .where('session_id', '=', row.session_id)
          .execute();
        done++;
      } catch (error) {
        await this.noteError(row.session_id, error);
        failed++;
      }
    }
    return { done, failed };
  }

  /** Standing access has no end of its own: its role lives on a lease, renewed at half-time. */
  private async renewLeases(now: Date): Promise<{ done: number; failed: number }> {
    const rows = await this.ctx.hub.db
      .selectFrom('provisioned_roles as r')
      .innerJoin('sessions as s', 's.id', 'r.session_id')
      .select(['r.session_id', 'r.target_id', 'r.role', 'r.valid_until', 'r.created_at'])
      .where('r.dropped_at', 'is', null)
      .where('s.status', '=', 'open')
      .where('s.grant_id', 'is', null)
      .execute();
    let done = 0;
    let failed = 0;
    for (const row of rows) {
      const target = findTarget(this.ctx.config(), row.target_id);
      if (target?.kind !== 'postgres' || !target.provision) continue;
      const lease = target.provision.leaseSeconds;
      if (Date.parse(row.valid_until) - now.getTime() > (lease * 1000) / 2) continue;
      const validUntil = iso(addSeconds(now, lease));
      try {
        await this.asAdmin(target, (client) => renewSessionRole(client, row.role, validUntil));
        await this.ctx.hub.db
          .updateTable('provisioned_roles')
          .set({ valid_until: validUntil, last_error: null })
          .where('session_id', '=', row.session_id)
          .execute();
        done++;
      } catch (error) {
        await this.noteError(row.session_id, error);
        failed++;
      }
    }
    return { done, failed };
  }

  private async asAdmin<T>(
    target: PostgresTargetConfig,
    work: (client: pg.Client) => Promise<T>,
  ): Promise<T> {
    const admin = await targetCredentials(this.ctx, target);
    const client = await connectAsAdmin(target, admin);
    try {
      return await work(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private async noteError(sessionId: string, error: unknown): Promise<void> {
    const message = (error instanceof Error ? error.message : String(error)).slice(0, 500);
    await this.ctx.hub.db
      .updateTable('provisioned_roles')
      .set({ last_error: message })
      .where('session_id', '=', sessionId)
      .execute()
      .catch(() => undefined);
  }
}
