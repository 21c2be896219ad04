/**
 * One database role per session: named after the person and the session (so the database's own logs say
 * who), valid until the grant's end, a member only of the roles the target names, and dropped — its
 * backends terminated first — when the session ends. The role's password is derived from the provisioning
 * administrator's and the role's name, so no hub store holds it and any hub instance can answer for it;
 * the server only ever sees its SCRAM verifier.
 */
import { createHmac } from 'node:crypto';
import type pg from 'pg';
import { scramVerifier } from '../delegation/postgres-proofs.ts';

const PREFIX = 'pc_';

/** `pc_<who>_<session>`: lowercase letters, digits and underscores, within PostgreSQL's 63 bytes. */
export function sessionRoleName(subject: string, sessionId: string): string {
  const who = subject
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 40);
  const session = sessionId
    .replace(/[^a-z0-9]/gi, '')
    .slice(0, 12)
    .toLowerCase();
  return `${PREFIX}${who || 'user'}_${session}`;
}

/** The role's password: only someone holding the administrator's password can derive it. */
export function sessionRolePassword(adminPassword: string, role: string): string {
  return createHmac('sha256', adminPassword).update(`portcullis session role ${role}`).digest('base64url');
}

export interface SessionRole {
  role: string;
  password: string;
  validUntil: string;
  /** Roles it becomes a member of. */
  grant: readonly string[];
  connectionLimit: number;
  /** Said in COMMENT ON ROLE: who and which session. */
  comment: string;
}

const quote = (client: pg.Client, identifier: string): string => client.escapeIdentifier(identifier);

export async function createSessionRole(admin: pg.Client, spec: SessionRole): Promise<void> {
  const role = quote(admin, spec.role);
  const verifier = await scramVerifier(spec.password);
  await admin.query('BEGIN');
  try {
    await admin.query(
      `CREATE ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT ` +
        `CONNECTION LIMIT ${spec.connectionLimit} VALID UNTIL ${admin.escapeLiteral(spec.validUntil)} ` +
        `PASSWORD ${admin.escapeLiteral(verifier)}`,
    );
    for (const granted of spec.grant) await admin.query(`GRANT ${quote(admin, granted)} TO ${role}`);
    await admin.query(`COMMENT ON ROLE ${role} IS ${admin.escapeLiteral(spec.comment)}`);
    await admin.query('COMMIT');
  } catch (error) {
    await admin.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

export async function renewSessionRole(admin: pg.Client, role: string, validUntil: string): Promise<void> {
  await admin.query(`ALTER ROLE ${quote(admin, role)} VALID UNTIL ${admin.escapeLiteral(validUntil)}`);
}

/**
 * No new logins, its backends ended, then the role. A role that is already gone counts as dropped. A
 * session's role holds only memberships, which DROP ROLE removes; should it own something after all (a
 * grant that allowed CREATE), DROP OWNED clears the target database first — which needs an administrator
 * with the role's privileges, or the drop fails and the sweep says why until someone looks.
 */
export async function dropSessionRole(admin: pg.Client, role: string): Promise<void> {
  const exists = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  if (exists.rowCount === 0) return;
  const quoted = quote(admin, role);
  await admin.query(`ALTER ROLE ${quoted} NOLOGIN`);
  // Waits (up to 5 s each) for the backends to be gone, so nothing of theirs outlives the drop.
  await admin.query('SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = $1', [
    role,
  ]);
  try {
    await admin.query(`DROP ROLE ${quoted}`);
  } catch (error) {
    if ((error as { code?: string }).code !== DEPENDENT_OBJECTS_STILL_EXIST) throw error;
    await admin.query(`DROP OWNED BY ${quoted}`);
    await admin.query(`DROP ROLE ${quoted}`);
  }
}

const DEPENDENT_OBJECTS_STILL_EXIST = '2BP01';
