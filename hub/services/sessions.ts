/**
 * Sessions: opened by the tunnel when a local client connects, closed when it ends, or asked to close
 * when the grant they ride on expires or is revoked. The material a session opens with says where and as
 * whom to connect, never with what secret: the tunnel's connections authenticate through the hub
 * (proofs.ts).
 */
import { randomUUID } from 'node:crypto';
import type {
  Identity,
  OpenedSession,
  SessionSummary,
  SessionToClose,
  SshHopMaterial,
} from '../api/types.ts';
import type { TargetConfig } from '../config/hub-config.ts';
import { iso } from './clock.ts';
import { actsFor, isAdmin, requireTarget, type ServiceContext } from './context.ts';
import type { EntitlementService } from './entitlements.ts';
import type { PolicyCheckService } from './policy-checks.ts';
import { ForbiddenError, NotFoundError, UnavailableError, ValidationError } from './errors.ts';
import type { ProvisionedRole, ProvisioningService } from './provisioning.ts';
import { sessionSummary, type SessionRow } from './rows.ts';
import { connectionMaterial, emptyRecording, policySpec, relayMaterial } from './session-material.ts';
import { sshMaterial } from './ssh-material.ts';

export class SessionService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly entitlements: EntitlementService,
    private readonly provisioning: ProvisioningService,
    private readonly policyChecks: PolicyCheckService,
  ) {}

  /**
   * Opens a session for the caller on a target they are entitled to now. Refused (ForbiddenError) with
   * the reason otherwise; UnavailableError when the target's password, CA or policy file cannot be read.
   */
  async openSession(identity: Identity, targetId: string): Promise<OpenedSession> {
    const target = requireTarget(this.ctx.config(), targetId);
    const access = await this.entitlements.accessNow(identity, target);
    if (!access) throw new ForbiddenError(this.entitlements.explainRefusal(identity, target));
    await this.policyChecks.requireUsable(target);

    // Everything that can fail is read before the session exists: the password or key too, though it
    // stays here.
    const relay = target.kind === 'postgres' && target.enforcement === 'relay';
    const local = relay ? undefined : await this.connectionMaterial(target);
    const relayEndpoint = relay && target.kind === 'postgres' ? await relayMaterial(target) : undefined;
    const policy = await policySpec(target);

    const id = randomUUID();
    const openedAt = iso(this.ctx.clock.now());
    await this.ctx.hub.db
      .insertInto('sessions')
      .values({
        ...emptyRecording(),
        id,
        target_id: target.id,
        subject: identity.subject,
        display_name: identity.name,
        kind: identity.kind,
        opened_at: openedAt,
        grant_id: access.via === 'grant' ? access.requestId : null,
      })
      .execute();
    const grant =
      access.via === 'grant' ? { requestId: access.requestId, expiresAt: access.expiresAt } : null;
    const provisioned = await this.provisionFor(identity, id, target, grant);
    return {
      sessionId: id,
      targetId: target.id,
      openedAt,
      enforcement: target.enforcement,
      // A provisioned session signs in as its own role; the proofs answer for that role (proofs.ts).
      connection:
        relayEndpoint ??
        (provisioned && local!.kind === 'postgres' ? { ...local!, user: provisioned.role } : local!),
      policy,
      grant,
      provisioned,
      holdTimeoutSeconds: this.ctx.config().approvals.holdTimeoutSeconds,
    };
  }

  private async connectionMaterial(target: TargetConfig): Promise<OpenedSession['connection']> {
    if (target.kind === 'ssh') return sshMaterial(target, this.ctx.env);
    return {
      ...(await connectionMaterial(this.ctx, target, null)),
      via: target.via === null ? null : await this.bastion(target.via),
    };
  }

  /** The SSH target a database is reached through (the catalogue says it is one). */
  private async bastion(targetId: string): Promise<SshHopMaterial> {
    const bastion = requireTarget(this.ctx.config(), targetId);
    if (bastion.kind !== 'ssh') throw new UnavailableError(`target ${targetId} is not an SSH target`);
    const { kind: _kind, ...hop } = await sshMaterial(bastion, this.ctx.env);
    return { targetId, ...hop };
  }

  /** The session's own database role, for targets that provision one; the session ends if it cannot be. */
  private async provisionFor(
    identity: Identity,
    sessionId: string,
    target: TargetConfig,
    grant: { expiresAt: string } | null,
  ): Promise<ProvisionedRole | null> {
    if (target.kind !== 'postgres' || !target.provision) return null;
    try {
      const owner = { id: sessionId, subject: identity.subject, name: identity.name };
      return await this.provisioning.provision(owner, target, grant?.expiresAt ?? null);
    } catch (error) {
      await this.end(sessionId, `the session's database role could not be created`);
      await this.provisioning.release(sessionId).catch(() => undefined);
      throw error;
    }
  }

  /** Marks the caller's session closed (admins may close anyone's). Closing a closed session is a no-op. */
  async closeSession(identity: Identity, sessionId: string, reason = 'closed'): Promise<SessionSummary> {
    if (reason.length > 500) throw new ValidationError('reason', 'must be at most 500 characters');
    const row = await this.ownSession(identity, sessionId, { allowAdmin: true });
    if (row.status !== 'closed') {
      await this.end(sessionId, row.status === 'closing' && row.close_reason ? row.close_reason : reason);
    }
    // Its database role goes with it; should that fail, the sweep tries again.
    await this.provisioning.release(sessionId).catch(() => undefined);
    return this.summary(sessionId);
  }

  private async end(sessionId: string, reason: string): Promise<void> {
    await this.ctx.hub.db
      .updateTable('sessions')
      .set({ status: 'closed', closed_at: iso(this.ctx.clock.now()), close_reason: reason })
      .where('id', '=', sessionId)
      .where('status', '<>', 'closed')
      .execute();
  }

  /**
   * Sessions the tunnels must end: asked to close (grant revoked or expired by the sweep), or still
   * open on a grant whose time is up or that is no longer approved.
   */
  async sessionsToClose(now: Date = this.ctx.clock.now()): Promise<SessionToClose[]> {
    const rows = await this.ctx.hub.db
      .selectFrom('sessions as s')
      .leftJoin('access_requests as g', 'g.id', 's.grant_id')
      .select([
        's.id',
        's.subject',
        's.target_id',
        's.grant_id',
        's.status',
        's.close_reason',
        'g.state as grant_state',
      ])
      .where((eb) =>
        eb.or([
          eb('s.status', '=', 'closing'),
          eb.and([
            eb('s.status', '=', 'open'),
            eb('s.grant_id', 'is not', null),
            eb.or([
              eb('g.state', '<>', 'approved'),
              eb('g.expires_at', '<=', iso(now)),
              eb('g.id', 'is', null),
            ]),
          ]),
        ]),
      )
      .orderBy('s.opened_at')
      .execute();
    return rows.map((row) => ({
      sessionId: row.id,
      subject: row.subject,
      targetId: row.target_id,
      grantId: row.grant_id,
      reason:
        row.close_reason === 'grant-revoked' ||
        row.grant_state === 'revoked' ||
        row.grant_state === 'cancelled'
          ? 'grant-revoked'
          : 'grant-expired',
    }));
  }

  /**
   * Connections relays serve that must end: the user's session they belong to was closed or revoked, or
   * its grant ended (what the relay's poll asks, every few seconds).
   */
  async relayConnectionsToClose(now: Date = this.ctx.clock.now()): Promise<SessionToClose[]> {
    const rows = await this.ctx.hub.db
      .selectFrom('sessions as c')
      .innerJoin('sessions as p', 'p.id', 'c.parent_id')
      .leftJoin('access_requests as g', 'g.id', 'c.grant_id')
      .select(['c.id', 'c.subject', 'c.target_id', 'c.grant_id', 'p.status as parent_status', 'g.state'])
      .where('c.status', '<>', 'closed')
      .where((eb) =>
        eb.or([
          eb('c.status', '=', 'closing'),
          eb('p.status', '<>', 'open'),
          eb.and([
            eb('c.grant_id', 'is not', null),
            eb.or([
              eb('g.state', '<>', 'approved'),
              eb('g.expires_at', '<=', iso(now)),
              eb('g.id', 'is', null),
            ]),
          ]),
        ]),
      )
      .execute();
    return rows.map((row) => ({
      sessionId: row.id,
      subject: row.subject,
      targetId: row.target_id,
      grantId: row.grant_id,
      reason:
        row.state === 'revoked' || row.state === 'cancelled'
          ? 'grant-revoked'
          : row.grant_id !== null && row.state !== 'approved'
            ? 'grant-expired'
            : row.parent_status === 'closing'
              ? 'grant-revoked'
              : 'session-closed',
    }));
  }

  private async ownSession(
    identity: Identity,
    sessionId: string,
    options: { allowAdmin: boolean },
  ): Promise<SessionRow> {
    const row = await this.ctx.hub.db
      .selectFrom('sessions')
      .selectAll()
      .where('id', '=', sessionId)
      .executeTakeFirst();
    if (!row) throw new NotFoundError(`no session ${sessionId}`);
    const config = this.ctx.config();
    if (!actsFor(config, identity, row) && !(options.allowAdmin && isAdmin(config, identity))) {
      throw new ForbiddenError(`session ${sessionId} belongs to someone else`);
    }
    return row;
  }

  private async summary(sessionId: string): Promise<SessionSummary> {
    const row = await this.ctx.hub.db
      .selectFrom('sessions')
      .selectAll()
      .where('id', '=', sessionId)
      .executeTakeFirstOrThrow();
    return sessionSummary(row);
  }
}
