/**
 * Relays: the engine run next to the databases for targets whose client machines are not trusted. The
 * user's tunnel connects to a relay over TLS and presents the user's access token and session; the relay
 * asks the hub to admit the connection. The hub checks the token is the session owner's, the session is
 * open on a target enforced at a relay and still entitled, and opens the connection a session of its own
 * (under the user's), which the relay records into and proves the database connection for. Only relays
 * get there: the user's own token opens nothing at the database of such a target.
 */
import { randomUUID } from 'node:crypto';
import type { Identity, RelayAdmission, RelayConnectionInput } from '../api/types.ts';
import type { TargetConfig } from '../config/hub-config.ts';
import { addSeconds, iso } from './clock.ts';
import { findTarget, isRelay, memberOf, type ServiceContext } from './context.ts';
import { ConflictError, ForbiddenError, NotFoundError, RateLimitedError } from './errors.ts';
import type { SessionRow } from './rows.ts';
import { connectionMaterial, emptyRecording, policySpec } from './session-material.ts';

const WINDOW_SECONDS = 60;

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
