/**
 * Delegated authentication: a tunnel opening a connection to its session's target relays the server's
 * challenge, and the hub answers it with the password (or signs it with the SSH key) only the hub holds. Each answer is authorized (the
 * caller's own open session, its grant still valid, the caller still entitled, the session's own target),
 * recorded with the session and the connection's number, and rate-limited per session; a closed or
 * revoked session gets none, so revocation cuts off new connections even from a tunnel that misbehaves.
 */
import type { Identity, Proof, ProofRecord, ProofRequest } from '../api/types.ts';
import { CredentialsError, resolveCredentials } from '../config/credentials.ts';
import type { PostgresTargetConfig, TargetConfig } from '../config/hub-config.ts';
import { ChallengeError, PostgresProver } from '../delegation/postgres-proofs.ts';
import { addSeconds, iso } from './clock.ts';
import { findTarget, isAuditor, isRelay, memberOf, type ServiceContext } from './context.ts';
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  UnavailableError,
  ValidationError,
} from './errors.ts';
import type { SessionRow } from './rows.ts';
import { signSshProof } from './ssh-proofs.ts';

const WINDOW_SECONDS = 60;

/** The database role and password a session's connections authenticate as. */
export interface SessionCredentials {
  user: string;
  password: string;
}

/** Where a session's credentials come from: the target's own, or (later) a role provisioned for it. */
export type CredentialSource = (
  session: SessionRow,
  target: PostgresTargetConfig,
) => Promise<SessionCredentials>;

export class ProofService {
  private readonly prover = new PostgresProver();

  constructor(
    private readonly ctx: ServiceContext,
    private readonly credentials: CredentialSource = (_session, target) =>
      targetCredentials(this.ctx, target),
  ) {}

  /** Answers one challenge for a connection of the caller's open session. */
  async prove(identity: Identity, sessionId: string, request: ProofRequest): Promise<Proof> {
    const { session, target } = await this.authorize(identity, sessionId);
    await this.checkRate(session);
    let proof: Proof;
    let user: string;
    if (request.method === 'ssh-signature') {
      const signed = await signSshProof(this.ctx, target, request);
      proof = { method: 'ssh-signature', signature: signed.signature };
      user = signed.user;
    } else {
      if (target.kind !== 'postgres') {
        throw new ValidationError(
          'method',
          `${target.id} is an SSH target: its connections take ssh-signature proofs`,
        );
      }
      const credentials = await this.credentials(session, target);
      proof = await this.answer(credentials, request);
      user = credentials.user;
    }
    await this.record(session, identity, request, user);
    return proof;
  }

  /**
   * Records the proof in the same statement that checks its session (and a relay connection's parent) is
   * still open: a session closed or revoked while the proof was made gets no proof, not even one.
   */
  private async record(session: SessionRow, identity: Identity, request: ProofRequest, user: string) {
    const { db } = this.ctx.hub;
    const open = (id: string) =>
      db.selectFrom('sessions').select('id').where('id', '=', id).where('status', '=', 'open');
    const result = await db
      .insertInto('session_proofs')
      .columns([
        'session_id',
        'connection',
        'purpose',
        'method',
        'db_user',
        'requester_subject',
        'requester_name',
        'created_at',
      ])
      .expression(
        db
          .selectNoFrom((eb) => [
            eb.val(session.id).as('session_id'),
            eb.val(request.connection).as('connection'),
            eb.val(request.purpose ?? 'client').as('purpose'),
            eb.val(request.method).as('method'),
            eb.val(user).as('db_user'),
            eb.val(identity.subject).as('requester_subject'),
            eb.val(identity.name).as('requester_name'),
            eb.val(iso(this.ctx.clock.now())).as('created_at'),
          ])
          .where((eb) =>
            eb.and([
              eb.exists(open(session.id)),
              ...(session.parent_id === null ? [] : [eb.exists(open(session.parent_id))]),
            ]),
          ),
      )
      .executeTakeFirst();
    if (Number(result.numInsertedOrUpdatedRows ?? 0n) === 0) {
      const closed = session.parent_id === null ? session.id : `${session.id} or its relay connection`;
      throw new ConflictError(`session ${closed} is closed: it opens no more connections`);
    }
  }

  /** The proofs given for a session, oldest first: for its owner, auditors and admins. */
  async list(identity: Identity, sessionId: string): Promise<ProofRecord[]> {
    const session = await this.session(sessionId);
    if (session.subject !== identity.subject && !isAuditor(this.ctx.config(), identity)) {
      throw new ForbiddenError(`session ${sessionId} belongs to someone else; only auditors read it`);
    }
    const rows = await this.ctx.hub.db
      .selectFrom('session_proofs')
      .selectAll()
      .where('session_id', '=', sessionId)
      .orderBy('id')
      .execute();
    return rows.map((row) => ({
      id: Number(row.id),
      sessionId: row.session_id,
      connection: Number(row.connection),
      purpose: row.purpose,
      method: row.method,
      user: row.db_user,
      requester: { subject: row.requester_subject, name: row.requester_name },
      at: row.created_at,
    }));
  }

  private async authorize(
    identity: Identity,
    sessionId: string,
  ): Promise<{ session: SessionRow; target: TargetConfig }> {
    const config = this.ctx.config();
    const session = await this.session(sessionId);
    const target = findTarget(config, session.target_id);
    if (!target) throw new ConflictError(`target ${session.target_id} is no longer in the catalogue`);
    if (target.enforcement === 'relay') {
      // The way in is the relay's alone: the user's own token gets no proof for such a target.
      if (!isRelay(config, identity) || session.parent_id === null) {
        throw new ForbiddenError(`target ${target.id} is enforced at a relay: only the relay connects to it`);
      }
      const parent = await this.session(session.parent_id);
      if (parent.status !== 'open') {
        throw new ConflictError(`session ${parent.id} is ${parent.status}: it opens no more connections`);
      }
    } else if (session.subject !== identity.subject) {
      throw new ForbiddenError(`session ${sessionId} belongs to someone else`);
    }
    if (session.status !== 'open') {
      throw new ConflictError(`session ${sessionId} is ${session.status}: it opens no more connections`);
    }
    if (!(await this.stillEntitled(identity, session, target))) {
      throw new ForbiddenError(
        session.grant_id === null
          ? `you are no longer entitled to ${target.id}`
          : `the grant session ${sessionId} rides on has ended`,
      );
    }
    return { session, target };
  }

  /** A session on a grant needs that grant still approved and unexpired; one on standing access, the group. */
  private async stillEntitled(
    identity: Identity,
    session: SessionRow,
    target: TargetConfig,
  ): Promise<boolean> {
    // A relay's connection was checked against the owner's groups when the hub admitted it.
    if (session.grant_id === null) return session.parent_id !== null || memberOf(identity, target.access);
    const grant = await this.ctx.hub.db
      .selectFrom('access_requests')
      .select(['state', 'expires_at'])
      .where('id', '=', session.grant_id)
      .executeTakeFirst();
    return (
      grant?.state === 'approved' && grant.expires_at !== null && grant.expires_at > iso(this.ctx.clock.now())
    );
  }

  private async session(sessionId: string): Promise<SessionRow> {
    const row = await this.ctx.hub.db
      .selectFrom('sessions')
      .selectAll()
      .where('id', '=', sessionId)
      .executeTakeFirst();
    if (!row) throw new NotFoundError(`no session ${sessionId}`);
    return row;
  }

  /** Counted from the record itself, so every hub instance sharing the store enforces the same limit. */
  private async checkRate(session: SessionRow): Promise<void> {
    const limit = this.ctx.config().delegation.proofsPerMinute;
    const since = iso(addSeconds(this.ctx.clock.now(), -WINDOW_SECONDS));
    const { count } = await this.ctx.hub.db
      .selectFrom('session_proofs')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('session_id', '=', session.id)
      .where('created_at', '>', since)
      .executeTakeFirstOrThrow();
    if (Number(count) >= limit) {
      throw new RateLimitedError(
        `session ${session.id} opened ${limit} connections in the last minute; wait before opening more`,
        WINDOW_SECONDS,
      );
    }
  }

  private async answer(
    credentials: SessionCredentials,
    request: Exclude<ProofRequest, { method: 'ssh-signature' }>,
  ): Promise<Proof> {
    try {
      if (request.method === 'postgres-md5') {
        const salt = decodeBase64(request.salt, 'salt');
        return {
          method: request.method,
          response: this.prover.md5(credentials.user, credentials.password, salt),
        };
      }
      const binding = request.channelBinding ?? null;
      const answer = await this.prover.scram(credentials.password, {
        clientFirst: request.clientFirst,
        serverFirst: request.serverFirst,
        channelBinding: binding === null ? null : decodeBase64(binding, 'channelBinding'),
      });
      return { method: request.method, ...answer };
    } catch (error) {
      if (error instanceof ChallengeError) throw new ValidationError(error.field, error.message);
      throw error;
    }
  }
}

function decodeBase64(text: string, field: string): Buffer {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
    throw new ChallengeError(field, 'must be base64');
  }
  return Buffer.from(text, 'base64');
}

/** The target's configured role and password; unavailable (503) when the password cannot be read. */
export async function targetCredentials(
  ctx: ServiceContext,
  target: PostgresTargetConfig,
): Promise<SessionCredentials> {
  try {
    return await resolveCredentials(target, ctx.env);
  } catch (error) {
    if (error instanceof CredentialsError) throw new UnavailableError(error.message, { cause: error });
    throw error;
  }
}
