/**
 * Relays: the engine run next to the databases for targets whose client machines are not trusted. The
 * user's tunnel connects to a relay over TLS and presents the user's access token and session; the relay
 * asks the hub to admit the connection. The hub checks the token is the session owner's, the session is
 * open on a target enforced at a relay and still entitled, and opens the connection a session of its own
 * (under the user's), which the relay records into and proves the database connection for. Only relays
 * get there: the user's own token opens nothing at the database of such a target.
 *
 * A relay holds a lease on each connection it serves and renews it while it serves it (every few seconds,
 * with its poll). A relay that dies renews nothing: the sweep closes its connections once their leases
 * run out, as the tunnel's own sessions are ended as abandoned when their process is found dead.
 */
import { randomUUID } from 'node:crypto';
import type {
  Identity,
  RelayAdmission,
  RelayConnectionInput,
  RelayLeaseInput,
  RelayLeaseResult,
} from '../api/types.ts';
import type { TargetConfig } from '../config/hub-config.ts';
import { addSeconds, iso } from './clock.ts';
import { findTarget, isRelay, memberOf, type ServiceContext } from './context.ts';
import { ConflictError, ForbiddenError, NotFoundError, RateLimitedError, ValidationError } from './errors.ts';
import type { SessionRow } from './rows.ts';
import { connectionMaterial, emptyRecording, policySpec } from './session-material.ts';

const WINDOW_SECONDS = 60;

/**
 * How long a relay's connection stays open at the hub without its relay renewing the lease. Relays renew
 * every few seconds; a minute rides out a hub restart or a short partition.
 */
export const RELAY_LEASE_SECONDS = 60;
const MAX_LEASES_PER_RENEWAL = 10_000;

export class RelayService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Admits one connection a relay accepted. `owner` is who the presented access token says (verified by
   * the HTTP layer); `relay` is the caller.
   */
  async admit(relay: Identity, owner: Identity, input: RelayConnectionInput): Promise<RelayAdmission> {
    const config = this.ctx.config();
    if (!isRelay(config, relay)) throw new ForbiddenError('only a relay admits connections');
    const session = await this.ctx.hub.db
      .selectFrom('sessions')
      .selectAll()
      .where('id', '=', input.sessionId)
      .executeTakeFirst();
    if (!session || session.parent_id !== null) throw new NotFoundError(`no session ${input.sessionId}`);
    if (session.subject !== owner.subject) {
      throw new ForbiddenError(`session ${input.sessionId} is not the token holder's`);
    }
    const target = findTarget(config, session.target_id);
    if (target?.kind !== 'postgres' || target.enforcement !== 'relay') {
      throw new ForbiddenError(`target ${session.target_id} is not enforced at a relay`);
    }
    if (session.status !== 'open') throw new ConflictError(`session ${session.id} is ${session.status}`);
    await this.checkEntitled(owner, session, target);
    await this.checkRate(session);

    const connectionSessionId = randomUUID();
    await this.ctx.hub.db
      .insertInto('sessions')
      .values({
        ...emptyRecording(),
        id: connectionSessionId,
        parent_id: session.id,
        target_id: session.target_id,
        subject: session.subject,
        display_name: session.display_name,
        kind: session.kind,
        opened_at: iso(this.ctx.clock.now()),
        grant_id: session.grant_id,
        lease_expires_at: iso(addSeconds(this.ctx.clock.now(), RELAY_LEASE_SECONDS)),
      })
      .execute();
    const provisioned = await this.ctx.hub.db
      .selectFrom('provisioned_roles')
      .select('role')
      .where('session_id', '=', session.id)
      .executeTakeFirst();
    const grant = session.grant_id
      ? await this.ctx.hub.db
          .selectFrom('access_requests')
          .select(['id', 'expires_at'])
          .where('id', '=', session.grant_id)
          .executeTakeFirstOrThrow()
      : undefined;
    return {
      connectionSessionId,
      sessionId: session.id,
      owner: { subject: session.subject, name: session.display_name, kind: session.kind },
      target: { id: target.id, name: target.name },
      connection: await connectionMaterial(this.ctx, target, provisioned?.role ?? null),
      policy: await policySpec(target),
      grant: grant ? { requestId: grant.id, expiresAt: grant.expires_at! } : null,
      holdTimeoutSeconds: config.approvals.holdTimeoutSeconds,
    };
  }

  /** Renews the leases of the connections a relay still serves; tells it which of them to end. */
  async renewLeases(relay: Identity, input: RelayLeaseInput): Promise<RelayLeaseResult> {
    if (!isRelay(this.ctx.config(), relay)) throw new ForbiddenError('only a relay holds leases');
    const ids = [...new Set(input.sessionIds)];
    if (ids.length > MAX_LEASES_PER_RENEWAL) {
      throw new ValidationError('sessionIds', `at most ${MAX_LEASES_PER_RENEWAL} per renewal`);
    }
    if (ids.length === 0) return { leaseSeconds: RELAY_LEASE_SECONDS, closed: [] };
    const now = this.ctx.clock.now();
    await this.ctx.hub.db
      .updateTable('sessions')
      .set({ lease_expires_at: iso(addSeconds(now, RELAY_LEASE_SECONDS)) })
      .where('id', 'in', ids)
      .where('parent_id', 'is not', null)
      .where('status', '<>', 'closed')
      .execute();
    const rows = await this.ctx.hub.db
      .selectFrom('sessions')
      .select(['id', 'status', 'close_reason', 'parent_id'])
      .where('id', 'in', ids)
      .execute();
    const known = new Map(rows.map((row) => [row.id, row]));
    const closed = ids.flatMap((sessionId) => {
      const row = known.get(sessionId);
      if (!row || row.parent_id === null) return [{ sessionId, reason: 'the hub knows no such connection' }];
      if (row.status !== 'closed') return [];
      return [{ sessionId, reason: `the hub closed it (${row.close_reason ?? 'closed'})` }];
    });
    return { leaseSeconds: RELAY_LEASE_SECONDS, closed };
  }

  /**
   * Closes the relay connections whose lease ran out: their relay died (killed, crashed, its machine
   * lost) or lost the hub for longer than a lease. Returns how many were closed.
   */
  async closeAbandoned(now: Date = this.ctx.clock.now()): Promise<number> {
    const result = await this.ctx.hub.db
      .updateTable('sessions')
      .set({
        status: 'closed',
        closed_at: iso(now),
        close_reason: `relay-lost: the relay serving this connection stopped renewing its lease`,
      })
      .where('parent_id', 'is not', null)
      .where('status', '<>', 'closed')
      .where('lease_expires_at', '<=', iso(now))
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  private async checkEntitled(owner: Identity, session: SessionRow, target: TargetConfig): Promise<void> {
    if (session.grant_id === null) {
      if (!memberOf(owner, target.access)) throw new ForbiddenError(`no longer entitled to ${target.id}`);
      return;
    }
    const grant = await this.ctx.hub.db
      .selectFrom('access_requests')
      .select(['state', 'expires_at'])
      .where('id', '=', session.grant_id)
      .executeTakeFirst();
    const valid = grant?.state === 'approved' && grant.expires_at! > iso(this.ctx.clock.now());
    if (!valid) throw new ForbiddenError(`the grant session ${session.id} rides on has ended`);
  }

  /** Connections per session and minute, as for delegated proofs. */
  private async checkRate(session: SessionRow): Promise<void> {
    const limit = this.ctx.config().delegation.proofsPerMinute;
    const since = iso(addSeconds(this.ctx.clock.now(), -WINDOW_SECONDS));
    const { count } = await this.ctx.hub.db
      .selectFrom('sessions')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('parent_id', '=', session.id)
      .where('opened_at', '>', since)
      .executeTakeFirstOrThrow();
    if (Number(count) >= limit) {
      throw new RateLimitedError(
        `session ${session.id} opened ${limit} connections in the last minute; wait before opening more`,
        WINDOW_SECONDS,
      );
    }
  }
}
