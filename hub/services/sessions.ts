/**
 * Sessions: opened by the tunnel when a local client connects, closed when it ends, or asked to close
 * when the grant they ride on expires or is revoked. The material a session opens with says where and as
 * whom to connect, never with what secret: the tunnel's connections authenticate through the hub
 * (proofs.ts).
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { GENESIS_HASH } from '../api/recording-chain.ts';
import type {
  Identity,
  OpenedSession,
  PolicySpec,
  SessionSummary,
  SessionToClose,
  SshHopMaterial,
  TlsMaterial,
} from '../api/types.ts';
import type { PostgresTargetConfig, TargetConfig } from '../config/hub-config.ts';
import { iso } from './clock.ts';
import { isAdmin, requireTarget, type ServiceContext } from './context.ts';
import type { EntitlementService } from './entitlements.ts';
import type { PolicyCheckService } from './policy-checks.ts';
import { ForbiddenError, NotFoundError, UnavailableError, ValidationError } from './errors.ts';
import { targetCredentials } from './proofs.ts';
import type { ProvisionedRole, ProvisioningService } from './provisioning.ts';
import { sessionSummary, type SessionRow } from './rows.ts';
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
    const connection = await this.connectionMaterial(target);
    const policy = await policySpec(target);

    const id = randomUUID();
    const openedAt = iso(this.ctx.clock.now());
    await this.ctx.hub.db
      .insertInto('sessions')
      .values({
        id,
        target_id: target.id,
        subject: identity.subject,
        display_name: identity.name,
        kind: identity.kind,
        opened_at: openedAt,
        closed_at: null,
        close_reason: null,
        grant_id: access.via === 'grant' ? access.requestId : null,
        status: 'open',
        chain_status: 'ok',
        last_seq: 0,
        last_hash: GENESIS_HASH,
        max_seq: 0,
        chain_broken: 0,
        gap_flagged: 0,
        event_count: 0,
        statement_count: 0,
        denied_count: 0,
        held_count: 0,
        anomaly_count: 0,
      })
      .execute();
    const grant =
      access.via === 'grant' ? { requestId: access.requestId, expiresAt: access.expiresAt } : null;
    let provisioned: ProvisionedRole | null = null;
    if (target.kind === 'postgres' && target.provision) {
      try {
        const owner = { id, subject: identity.subject, name: identity.name };
        provisioned = await this.provisioning.provision(owner, target, grant?.expiresAt ?? null);
      } catch (error) {
        await this.end(id, `the session's database role could not be created`);
        await this.provisioning.release(id).catch(() => undefined);
        throw error;
      }
    }
    return {
      sessionId: id,
      targetId: target.id,
      openedAt,
      enforcement: 'local',
      // A provisioned session signs in as its own role; the proofs answer for that role (proofs.ts).
      connection:
        provisioned && connection.kind === 'postgres'
          ? { ...connection, user: provisioned.role }
          : connection,
      policy,
      grant,
      provisioned,
      holdTimeoutSeconds: this.ctx.config().approvals.holdTimeoutSeconds,
    };
  }

  private async connectionMaterial(target: TargetConfig): Promise<OpenedSession['connection']> {
    if (target.kind === 'ssh') return sshMaterial(target, this.ctx.env);
    const credentials = await targetCredentials(this.ctx, target);
    return {
      kind: 'postgres',
      host: target.host,
      port: target.port,
      database: target.database,
      user: credentials.user,
      tls: await tlsMaterial(target),
      authentication: { kind: 'delegated', methods: ['postgres-scram-sha-256', 'postgres-md5'] },
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
    if (row.subject !== identity.subject && !(options.allowAdmin && isAdmin(this.ctx.config(), identity))) {
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

async function tlsMaterial(target: PostgresTargetConfig): Promise<TlsMaterial> {
  const { sslmode, sslrootcert, sslservername } = target.tls;
  if (sslmode === 'disable') return { sslmode, sslrootcert: null, ca: null, sslservername };
  if (sslrootcert === null || sslrootcert === 'system') {
    return { sslmode, sslrootcert: sslrootcert === 'system' ? 'system' : null, ca: null, sslservername };
  }
  try {
    return { sslmode, sslrootcert: null, ca: await readFile(sslrootcert, 'utf8'), sslservername };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new UnavailableError(`target ${target.id}: cannot read tls.sslrootcert ${sslrootcert}: ${code}`);
  }
}

async function policySpec(target: TargetConfig): Promise<PolicySpec> {
  if (target.policy.kind === 'preset') return { kind: 'preset', name: target.policy.name };
  try {
    return { kind: 'file', name: target.policy.name, yaml: await readFile(target.policy.path, 'utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new UnavailableError(`target ${target.id}: cannot read policy file ${target.policy.path}: ${code}`);
  }
}
