/**
 * hub.yaml: identity, roles, the target catalogue with entitlements, and the hub's timings. A file that
 * cannot be used is refused with its file, line and field named (HubConfigError). Target passwords are
 * never in the file: only the name of an environment variable or the path of a file, read when a
 * session opens (credentials.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { z } from 'zod';
import type { PolicyPreset, SslMode } from '../api/types.ts';
import { parseDuration } from '../api/duration.ts';
import {
  DEFAULT_SSH_PORT,
  normalizeSsh,
  sshCredentialsSchema,
  sshHostKeyFields,
  type SshCredentials,
  type SshHostKeys,
} from './ssh-target.ts';

/** Enough for a pool opening its connections at once, and for a busy agent; low enough to notice abuse. */
const DEFAULT_PROOFS_PER_MINUTE = 300;

export const POLICY_PRESETS: readonly PolicyPreset[] = ['read-only', 'guarded', 'observe'];
export const SSL_MODES: readonly SslMode[] = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'];

export interface HubConfig {
  /** The file the configuration came from (as given to loadHubConfig / parseHubConfig). */
  file: string;
  identity: {
    issuer: string;
    audience: string;
    groupsClaim: string;
    /** The public OIDC client the desktop app and the CLI sign people in with (PKCE, loopback redirect). */
    clientId: string;
    /** When the IdP's JWKS is not at the issuer's discovered jwks_uri. */
    jwksUri: string | null;
  };
  /** Groups whose members administer the hub: they see every target and may revoke any grant. */
  admins: string[];
  /** Groups whose members read everyone's recordings. */
  auditors: string[];
  /**
   * Groups of the relays' own identities (agents, client credentials): they admit connections to targets
   * enforced at a relay, and there alone prove, hold, record and close for the session's owner.
   */
  relays: string[];
  /** The hub's store: a postgres:// URL, or an SQLite file (resolved against hub.yaml's folder). */
  database: string | null;
  jit: {
    /** A request nobody decided expires after this long. */
    pendingTtlSeconds: number;
    /** The requester is told this long before a grant expires. */
    expiryWarningSeconds: number;
  };
  approvals: {
    /** How long a held statement waits for an approver, unless the tunnel asks for less. */
    holdTimeoutSeconds: number;
    /** The longest hold a tunnel may ask for. */
    maxHoldTimeoutSeconds: number;
    /** New held statements a session may send for approval per minute (identical ones join the first). */
    perSessionPerMinute: number;
    /** New held statements a person or agent may send for approval per minute, all sessions together. */
    perRequesterPerMinute: number;
    /** Held statements of one person or agent waiting for a decision at once. */
    maxPendingPerRequester: number;
  };
  recordings: {
    /** How long after a session closed a gap in its recording may still fill before it counts as broken. */
    gapGraceSeconds: number;
  };
  events: {
    /**
     * How long the live event log keeps an event: how far back an event stream can resume
     * (Last-Event-ID). Recordings and the audit trail are a separate store and are not pruned.
     */
    retentionSeconds: number;
    /** How often one of the hub instances prunes it. */
    pruneEverySeconds: number;
  };
  delegation: {
    /** How many connections' authentication the hub answers per session and minute. */
    proofsPerMinute: number;
  };
  targets: TargetConfig[];
}

export type TargetPolicy =
  | { kind: 'preset'; name: PolicyPreset }
  /** `name` as written in hub.yaml; `path` resolved against hub.yaml's folder. */
  | { kind: 'file'; name: string; path: string };

/** What every target has, whatever it is. */
interface TargetBase {
  id: string;
  name: string;
  /** As written: host:port. */
  address: string;
  host: string;
  port: number;
  policy: TargetPolicy;
  /** Groups with standing access. */
  access: string[];
  /** Just-in-time access; null when the target cannot be requested. */
  jit: {
    requesters: string[];
    approvers: string[];
    maxDurationSeconds: number;
    minApprovals: number;
  } | null;
  /** Groups whose members decide held statements (and held commands) on this target. */
  approvers: string[];
  /**
   * Where the policy is enforced: the user's own tunnel, or a relay (which alone holds the way in).
   * SSH targets: always the tunnel.
   */
  enforcement: 'local' | 'relay';
  /** With `enforcement: relay`: where the relays listen (behind a load balancer, say), always verify-full. */
  relay: RelayEndpoint | null;
}

export interface PostgresTargetConfig extends TargetBase {
  kind: 'postgres';
  database: string;
  tls: {
    sslmode: SslMode;
    /** An absolute path to a PEM file of trusted CAs, "system" for the default store, or null. */
    sslrootcert: string | null;
    sslservername: string | null;
  };
  /** The role sessions use; with `provision`, the administrator that creates and drops theirs. */
  credentials: {
    user: string;
    /** Exactly one of passwordEnv and passwordFile is set. */
    passwordEnv: string | null;
    /** Absolute (resolved against hub.yaml's folder). */
    passwordFile: string | null;
  };
  /**
   * A role of its own for each session, created when it opens (VALID UNTIL the grant's end, or a lease
   * renewed while the session is open) and dropped, its backends terminated, when it closes or its grant
   * ends; null: sessions use the target's role.
   */
  provision: {
    /** Roles the session's role is made a member of: its rights in the database. */
    grant: string[];
    leaseSeconds: number;
    connectionLimit: number;
  } | null;
  /** An SSH target the tunnel reaches the database through (a bastion), or null. */
  via: string | null;
}

export interface RelayEndpoint {
  address: string;
  host: string;
  port: number;
  /** An absolute path to a PEM file of trusted CAs, or "system". */
  sslrootcert: string;
  /** The name checked against the relay's certificate instead of the host. */
  sslservername: string | null;
}

export interface SshTargetConfig extends TargetBase {
  kind: 'ssh';
  hostKeys: SshHostKeys;
  credentials: SshCredentials;
}

export type TargetConfig = PostgresTargetConfig | SshTargetConfig;

/** A configuration that cannot be used: names the file, the line (1-based; 0 when unknown) and the field. */
export class HubConfigError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string,
    readonly problem: string,
    /** Every problem found, first (by line) first. */
    readonly problems: readonly { line: number; field: string; problem: string }[] = [
      { line, field, problem },
    ],
  ) {
    super(`${line > 0 ? `${file}:${line}` : file}: ${field}: ${problem}`);
    this.name = 'HubConfigError';
  }
}

// ---------------------------------------------------------------------------------------------------
// The schema (the file's shape, snake_case as written)

const group = z.string().trim().min(1, 'must be a group name');
const groups = z.array(group);
const duration = (example: string) =>
  z
    .string({ error: `must be a duration such as ${example}` })
    .refine((value) => parseDuration(value) !== undefined, `must be a duration such as ${example}`);

const ADDRESS = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/;

function parseAddress(address: string, defaultPort = 5432): { host: string; port: number } | undefined {
  const match = ADDRESS.exec(address);
  if (!match) return undefined;
  const port = match[3] === undefined ? defaultPort : Number(match[3]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: (match[1] ?? match[2])!, port };
}

/** A database role and where its password is read: the target's own, or a provisioning administrator's. */
const login = z.strictObject({
  user: z.string().min(1, 'must name the database user'),
  password_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable')
    .optional(),
  password_file: z.string().min(1).optional(),
  password: z
    .never({ error: 'a literal password is not accepted here; use password_env or password_file' })
    .optional(),
});

/** Per-session roles may open this many connections at once unless hub.yaml says otherwise. */
const DEFAULT_CONNECTION_LIMIT = 20;

const targetCommon = {
  id: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/,
      'must be 1-63 letters, digits, dots, dashes or underscores, starting with a letter or digit',
    ),
  name: z.string().min(1).optional(),
  address: z
    .string()
    .refine((value) => parseAddress(value) !== undefined, 'must be host:port (or [ipv6]:port)'),
  policy: z.string().min(1).default('guarded'),
  access: groups.default([]),
  jit: z
    .strictObject({
      requesters: groups.min(1, 'must list at least one group'),
      approvers: groups.min(1, 'must list at least one group'),
      max_duration: duration('30m or 4h'),
      min_approvals: z.number().int().min(1, 'must be at least 1').default(1),
    })
    .optional(),
  approvers: groups.default([]),
};

const postgresTargetSchema = z.strictObject({
  ...targetCommon,
  kind: z.literal('postgres'),
  database: z.string().min(1, 'must name the database'),
  tls: z
    .strictObject({
      sslmode: z.enum(SSL_MODES as [SslMode, ...SslMode[]], {
        error: `must be one of ${SSL_MODES.join(', ')}`,
      }),
      sslrootcert: z.string().min(1).optional(),
      sslservername: z.string().min(1).optional(),
    })
    .optional(),
  credentials: z.strictObject({
    ...login.shape,
    user: login.shape.user.optional(),
    provision: z
      .strictObject({
        admin: login,
        grant: z.array(z.string().min(1).max(63)).min(1, 'must name at least one role to grant'),
        lease: duration('1h').default('1h'),
        connection_limit: z.number().int().min(1, 'must be at least 1').default(DEFAULT_CONNECTION_LIMIT),
      })
      .optional(),
  }),
  via: z.string().min(1, 'must name an SSH target').optional(),
  enforcement: z.enum(['local', 'relay'], { error: 'must be local or relay' }).default('local'),
  relay: z
    .strictObject({
      address: z
        .string()
        .refine((value) => parseAddress(value) !== undefined, 'must be host:port (or [ipv6]:port)'),
      sslrootcert: z.string().min(1).optional(),
      sslservername: z.string().min(1).optional(),
    })
    .optional(),
});

const sshTargetSchema = z.strictObject({
  ...targetCommon,
  kind: z.literal('ssh'),
  ...sshHostKeyFields,
  credentials: sshCredentialsSchema,
});

const targetSchema = z.discriminatedUnion('kind', [postgresTargetSchema, sshTargetSchema], {
  error: 'must be postgres or ssh',
});

const positive = z.number().int().min(1, 'must be at least 1');

const hubSchema = z.strictObject({
  identity: z.strictObject({
    issuer: z.url({ error: 'must be the IdP issuer URL' }),
    audience: z.string().min(1, 'must name the audience the hub accepts'),
    groups_claim: z.string().min(1).default('groups'),
    client_id: z.string().min(1).default('portcullis-desktop'),
    jwks_uri: z.url().optional(),
  }),
  admins: groups.default([]),
  auditors: groups.default([]),
  relays: groups.default([]),
  database: z.string().min(1).optional(),
  jit: z
    .strictObject({
      pending_ttl: duration('24h').default('24h'),
      expiry_warning: duration('10m').default('10m'),
    })
    .default({ pending_ttl: '24h', expiry_warning: '10m' }),
  approvals: z
    .strictObject({
      hold_timeout: duration('5m').default('5m'),
      max_hold_timeout: duration('1h').default('1h'),
      per_session_per_minute: positive.default(20),
      per_requester_per_minute: positive.default(60),
      max_pending_per_requester: positive.default(20),
    })
    .default({
      hold_timeout: '5m',
      max_hold_timeout: '1h',
      per_session_per_minute: 20,
      per_requester_per_minute: 60,
      max_pending_per_requester: 20,
    }),
  recordings: z.strictObject({ gap_grace: duration('10m').default('10m') }).default({ gap_grace: '10m' }),
  events: z
    .strictObject({
      retention: duration('3d').default('3d'),
      prune_every: duration('1h').default('1h'),
    })
    .default({ retention: '3d', prune_every: '1h' }),
  delegation: z
    .strictObject({
      proofs_per_minute: z.number().int().min(1, 'must be at least 1').default(DEFAULT_PROOFS_PER_MINUTE),
    })
    .default({ proofs_per_minute: DEFAULT_PROOFS_PER_MINUTE }),
  targets: z.array(targetSchema).default([]),
});

type HubFile = z.output<typeof hubSchema>;
type Path = readonly PropertyKey[];

interface Problem {
  path: Path;
  /** For an unknown key: the key, so the line is the key's own. */
  key?: string;
  problem: string;
}

// ---------------------------------------------------------------------------------------------------
// Loading

export function loadHubConfig(file: string): HubConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new HubConfigError(file, 0, 'file', `cannot be read (${reason})`);
  }
  return parseHubConfig(text, file);
}

/** Parses hub.yaml's text; relative paths in it are resolved against `file`'s folder. */
export function parseHubConfig(text: string, file: string): HubConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const error = doc.errors[0]!;
    throw new HubConfigError(file, lines.linePos(error.pos[0]).line, 'yaml', error.message.split('\n')[0]!);
  }
  const fail = (problems: Problem[]): never => {
    const located = problems
      .map((p) => ({ line: lineOf(doc, lines, p), field: fieldName(p), problem: p.problem }))
      .sort((a, b) => a.line - b.line);
    const first = located[0]!;
    throw new HubConfigError(file, first.line, first.field, first.problem, located);
  };

  const raw: unknown = doc.contents === null ? {} : doc.toJS({ maxAliasCount: 100 });
  const parsed = hubSchema.safeParse(raw);
  if (!parsed.success) {
    fail(
      parsed.error.issues.flatMap((issue): Problem[] => {
        if (issue.code === 'unrecognized_keys') {
          return issue.keys.map((key) => ({ path: issue.path, key, problem: 'unknown key' }));
        }
        const missing = issue.code === 'invalid_type' && /received undefined$/.test(issue.message);
        return [{ path: issue.path, problem: missing ? 'is required' : issue.message }];
      }),
    );
  }
  const base = path.dirname(path.resolve(file));
  const { config, problems } = normalize(parsed.data!, file, base);
  if (problems.length > 0) fail(problems);
  return config;
}

function normalize(input: HubFile, file: string, base: string): { config: HubConfig; problems: Problem[] } {
  const problems: Problem[] = [];
  const seen = new Map<string, number>();
  const targets = input.targets.map((t, index) => normalizeTarget(t, index, base, seen, problems));
  checkVias(targets, problems);
  return { problems, config: { file, ...hubSettings(input, base, problems), targets } };
}

const seconds = (value: string): number => parseDuration(value)!;

/** Everything but the catalogue: identity, roles, the store and the timings. */
function hubSettings(input: HubFile, base: string, problems: Problem[]): Omit<HubConfig, 'file' | 'targets'> {
  const holdTimeoutSeconds = seconds(input.approvals.hold_timeout);
  const maxHoldTimeoutSeconds = seconds(input.approvals.max_hold_timeout);
  if (holdTimeoutSeconds > maxHoldTimeoutSeconds) {
    problems.push({
      path: ['approvals', 'hold_timeout'],
      problem: 'must not exceed approvals.max_hold_timeout',
    });
  }
  const database = input.database ?? null;
  return {
    identity: {
      issuer: input.identity.issuer,
      audience: input.identity.audience,
      groupsClaim: input.identity.groups_claim,
      clientId: input.identity.client_id,
      jwksUri: input.identity.jwks_uri ?? null,
    },
    admins: input.admins,
    auditors: input.auditors,
    relays: input.relays,
    database:
      database === null || /^postgres(?:ql)?:\/\//.test(database) || database === ':memory:'
        ? database
        : path.resolve(base, database),
    jit: {
      pendingTtlSeconds: seconds(input.jit.pending_ttl),
      expiryWarningSeconds: seconds(input.jit.expiry_warning),
    },
    approvals: {
      holdTimeoutSeconds,
      maxHoldTimeoutSeconds,
      perSessionPerMinute: input.approvals.per_session_per_minute,
      perRequesterPerMinute: input.approvals.per_requester_per_minute,
      maxPendingPerRequester: input.approvals.max_pending_per_requester,
    },
    recordings: { gapGraceSeconds: seconds(input.recordings.gap_grace) },
    events: {
      retentionSeconds: seconds(input.events.retention),
      pruneEverySeconds: seconds(input.events.prune_every),
    },
    delegation: { proofsPerMinute: input.delegation.proofs_per_minute },
  };
}

/** The catalogue's INDEXth target; SEEN holds the ids of the targets before it. */
function normalizeTarget(
  t: HubFile['targets'][number],
  index: number,
  base: string,
  seen: Map<string, number>,
  problems: Problem[],
): TargetConfig {
  const at = (...rest: PropertyKey[]): Path => ['targets', index, ...rest];
  if (seen.has(t.id)) {
    problems.push({ path: at('id'), problem: `duplicate target id (also targets[${seen.get(t.id)}])` });
  } else seen.set(t.id, index);
  const policy = targetPolicy(t.policy, base, at, problems);
  if (t.jit && t.jit.requesters.length > 0 && t.jit.min_approvals > 1 && t.jit.approvers.length === 0) {
    problems.push({ path: at('jit', 'approvers'), problem: 'must list at least one group' });
  }

  const relay = t.kind === 'postgres' ? relayOf(t, base, at, problems) : null;
  const { host, port } = parseAddress(t.address, t.kind === 'ssh' ? DEFAULT_SSH_PORT : 5432)!;
  const common = {
    id: t.id,
    name: t.name ?? t.id,
    address: t.address,
    host,
    port,
    policy,
    access: t.access,
    jit: t.jit
      ? {
          requesters: t.jit.requesters,
          approvers: t.jit.approvers,
          maxDurationSeconds: seconds(t.jit.max_duration),
          minApprovals: t.jit.min_approvals,
        }
      : null,
    approvers: t.approvers,
    enforcement: t.kind === 'postgres' ? t.enforcement : ('local' as const),
    relay,
  };
  if (t.kind === 'ssh') {
    const ssh = normalizeSsh(t, base);
    ssh.problems.forEach((p) => problems.push({ path: at(...p.field), problem: p.problem }));
    return { ...common, kind: 'ssh', hostKeys: ssh.hostKeys, credentials: ssh.credentials };
  }
  return { ...common, ...postgresFields(t, base, at, problems) };
}

/** A preset by its name, or a policy file (which must exist) by its path. */
function targetPolicy(
  policy: string,
  base: string,
  at: (...rest: PropertyKey[]) => Path,
  problems: Problem[],
): TargetPolicy {
  if ((POLICY_PRESETS as readonly string[]).includes(policy)) {
    return { kind: 'preset', name: policy as PolicyPreset };
  }
  const file: TargetPolicy = { kind: 'file', name: policy, path: path.resolve(base, policy) };
  if (!existsSync(file.path)) {
    problems.push({
      path: at('policy'),
      problem: `not a preset (${POLICY_PRESETS.join(', ')}) nor an existing policy file (${file.path})`,
    });
  }
  return file;
}

type PostgresInput = z.output<typeof postgresTargetSchema>;

function postgresFields(
  t: PostgresInput,
  base: string,
  at: (...rest: PropertyKey[]) => Path,
  problems: Problem[],
): Omit<PostgresTargetConfig, keyof TargetBase> {
  const provision = t.credentials.provision;
  const credentials = provision?.admin ?? t.credentials;
  const credentialsAt = provision ? at('credentials', 'provision', 'admin') : at('credentials');
  if (provision && (t.credentials.user ?? t.credentials.password_env ?? t.credentials.password_file)) {
    problems.push({
      path: at('credentials'),
      problem: 'has either user and a password, or provision (whose admin creates the roles), not both',
    });
  } else if (credentials.user === undefined) {
    problems.push({ path: at('credentials', 'user'), problem: 'is required' });
  }
  if ((credentials.password_env === undefined) === (credentials.password_file === undefined)) {
    problems.push({ path: credentialsAt, problem: 'needs exactly one of password_env or password_file' });
  }
  const tls = t.tls ?? { sslmode: 'verify-full' as const, sslrootcert: 'system' };
  let sslrootcert: string | null = null;
  if (tls.sslrootcert === 'system') {
    sslrootcert = 'system';
    if (tls.sslmode !== 'verify-full') {
      problems.push({
        path: at('tls', 'sslrootcert'),
        problem: 'sslrootcert: system requires sslmode verify-full',
      });
    }
  } else if (tls.sslrootcert !== undefined) {
    sslrootcert = path.resolve(base, tls.sslrootcert);
    if (!existsSync(sslrootcert)) {
      problems.push({ path: at('tls', 'sslrootcert'), problem: `no such file: ${sslrootcert}` });
    }
  } else if (tls.sslmode === 'verify-ca' || tls.sslmode === 'verify-full') {
    sslrootcert = 'system';
  }
  return {
    kind: 'postgres',
    database: t.database,
    tls: { sslmode: tls.sslmode, sslrootcert, sslservername: tls.sslservername ?? null },
    credentials: {
      user: credentials.user ?? '',
      passwordEnv: credentials.password_env ?? null,
      passwordFile:
        credentials.password_file === undefined ? null : path.resolve(base, credentials.password_file),
    },
    provision: provision
      ? {
          grant: provision.grant,
          leaseSeconds: parseDuration(provision.lease)!,
          connectionLimit: provision.connection_limit,
        }
      : null,
    via: t.via ?? null,
  };
}

/** A `via` names an SSH target of the catalogue (one hop: a bastion is not reached through another). */
function checkVias(targets: TargetConfig[], problems: Problem[]): void {
  targets.forEach((target, index) => {
    if (target.kind !== 'postgres' || target.via === null) return;
    if (target.enforcement === 'relay') {
      problems.push({
        path: ['targets', index, 'via'],
        problem: 'is not used with enforcement: relay (the relay reaches the database itself)',
      });
      return;
    }
    const bastion = targets.find((t) => t.id === target.via);
    if (!bastion || bastion.kind !== 'ssh') {
      problems.push({
        path: ['targets', index, 'via'],
        problem: `must name an SSH target of this catalogue (${target.via} is ${bastion ? `a ${bastion.kind} target` : 'not one'})`,
      });
    }
  });
}

/** The relay of a target enforced at one: required then, refused otherwise. */
function relayOf(
  t: PostgresInput,
  base: string,
  at: (...rest: PropertyKey[]) => Path,
  problems: Problem[],
): RelayEndpoint | null {
  if (t.enforcement !== 'relay') {
    if (t.relay) problems.push({ path: at('relay'), problem: 'is only used with enforcement: relay' });
    return null;
  }
  if (!t.relay) {
    problems.push({
      path: at('enforcement'),
      problem: 'relay needs relay: { address: host:port, sslrootcert }',
    });
    return null;
  }
  const given = t.relay.sslrootcert ?? 'system';
  const sslrootcert = given === 'system' ? given : path.resolve(base, given);
  if (sslrootcert !== 'system' && !existsSync(sslrootcert)) {
    problems.push({ path: at('relay', 'sslrootcert'), problem: `no such file: ${sslrootcert}` });
  }
  const { host, port } = parseAddress(t.relay.address)!;
  return { address: t.relay.address, host, port, sslrootcert, sslservername: t.relay.sslservername ?? null };
}

// ---------------------------------------------------------------------------------------------------
// Mapping a path back to the file

function fieldName(problem: Problem): string {
  const parts = problem.key === undefined ? problem.path : [...problem.path, problem.key];
  let name = '';
  for (const part of parts) {
    name += typeof part === 'number' ? `[${part}]` : name === '' ? String(part) : `.${String(part)}`;
  }
  return name || '(file)';
}

/**
 * The line of the deepest part of the path the file has: the key of the field itself, or of the mapping a
 * missing field belongs in; for an unknown key, that key.
 */
function lineOf(doc: Document, lines: LineCounter, problem: Problem): number {
  const lineAt = (node: unknown): number | undefined =>
    node && typeof node === 'object' && (node as Node).range
      ? lines.linePos((node as Node).range![0]).line
      : undefined;
  let node: unknown = doc.contents;
  let line = lineAt(node) ?? 1;
  const keyed = (map: unknown, key: PropertyKey) =>
    isMap(map)
      ? map.items.find((item) => isScalar(item.key) && String(item.key.value) === String(key))
      : undefined;
  for (const part of problem.path) {
    const pair = keyed(node, part);
    if (pair) {
      line = lineAt(pair.key) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof part === 'number' && node.items[part] !== undefined) {
      node = node.items[part];
      line = lineAt(node) ?? line;
    } else {
      return line;
    }
  }
  if (problem.key !== undefined) line = lineAt(keyed(node, problem.key)?.key) ?? line;
  return line;
}
