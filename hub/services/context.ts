/** What every service shares, and the role checks they all use. */
import type { Identity } from '../api/types.ts';
import type { HubConfig, TargetConfig } from '../config/hub-config.ts';
import type { HubDatabase } from '../db/database.ts';
import type { Clock } from './clock.ts';
import { NotFoundError } from './errors.ts';
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

export function findTarget(config: HubConfig, targetId: string): TargetConfig | undefined {
  return config.targets.find((t) => t.id === targetId);
}

export function requireTarget(config: HubConfig, targetId: string): TargetConfig {
  const target = findTarget(config, targetId);
  if (!target) throw new NotFoundError(`no target ${JSON.stringify(targetId)}`);
  return target;
}
