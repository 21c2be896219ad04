/** What every service shares, and the role checks they all use. */
import type { Identity } from '../api/types.ts';
import type { HubConfig, TargetConfig } from '../config/hub-config.ts';
import type { HubDatabase } from '../db/database.ts';
import type { Clock } from './clock.ts';
import type { Db } from './db-handle.ts';
import { ConflictError, NotFoundError } from './errors.ts';
import type { EventBus } from './events.ts';

export interface ServiceContext {
  hub: HubDatabase;
  /** The configuration in force; services read it on every call, so a reload takes effect at once. */
  config(): HubConfig;
  clock: Clock;
  events: EventBus;
  /** Where password_env variables are read (process.env unless a test says otherwise). */
  env: Readonly<Record<string, string | undefined>>;
}

export type { Db } from './db-handle.ts';

/** What a decision's transaction returns when it found the thing decided on past its time (and expired it). */
export const EXPIRED = Symbol('expired');

/**
 * One decision on something pending (an access request decided or revoked, a held statement's approval
 * decided or withdrawn): `decide` loads and locks the row, checks, writes and appends its events in one
 * transaction; the event stream is woken once that has committed. A thing found past its time is
 * expired by `decide` (committed, so everyone hears of it) and then refused with `expiredMessage`.
 */
export async function decideInTransaction<T>(
  ctx: ServiceContext,
  decide: (trx: Db) => Promise<T | typeof EXPIRED>,
  expiredMessage = 'expired before a decision',
): Promise<T> {
  const outcome = await ctx.hub.db.transaction().execute(decide);
  ctx.events.poke();
  if (outcome === EXPIRED) throw new ConflictError(expiredMessage);
  return outcome;
}

export function memberOf(identity: Identity, groups: readonly string[]): boolean {
  return groups.some((group) => identity.groups.includes(group));
}

export function isAdmin(config: HubConfig, identity: Identity): boolean {
  return memberOf(identity, config.admins);
}

/** Auditors read everyone's recordings; admins may too. */
export function isAuditor(config: HubConfig, identity: Identity): boolean {
  return memberOf(identity, config.auditors) || isAdmin(config, identity);
}

/** A relay: an agent in one of the relays groups. */
export function isRelay(config: HubConfig, identity: Identity): boolean {
  return identity.kind === 'agent' && memberOf(identity, config.relays);
}

/**
 * Who writes to a session (records, holds, closes): its owner; for a target enforced at a relay, the
 * relays too; and for one connection a relay serves (a session with a parent), the relays alone, so that
 * the user's machine cannot write into what the relay records.
 */
export function actsFor(
  config: HubConfig,
  identity: Identity,
  session: { subject: string; target_id: string; parent_id?: string | null },
): boolean {
  const relayTarget = findTarget(config, session.target_id)?.enforcement === 'relay';
  const relay = relayTarget && isRelay(config, identity);
  if (session.parent_id) return relay;
  return session.subject === identity.subject || relay;
}

export function findTarget(config: HubConfig, targetId: string): TargetConfig | undefined {
  return config.targets.find((t) => t.id === targetId);
}

export function requireTarget(config: HubConfig, targetId: string): TargetConfig {
  const target = findTarget(config, targetId);
  if (!target) throw new NotFoundError(`no target ${JSON.stringify(targetId)}`);
  return target;
}
