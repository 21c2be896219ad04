import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CredentialsError,
  HubConfigError,
  loadHubConfig,
  parseDuration,
  parseHubConfig,
  resolveCredentials,
  type PostgresTargetConfig,
} from '../../hub/config/index.ts';

const EXAMPLE = `identity: { issuer: http://127.0.0.1:4000, audience: portcullis-hub, groups_claim: groups }
admins: [platform-admins]
auditors: [auditors]
targets:
  - id: payments-db
    kind: postgres
    address: 127.0.0.1:5432
    database: payments
    tls: { sslmode: verify-full, sslrootcert: ca.pem }
    credentials: { user: app, password_env: PAYMENTS_DB_PASSWORD }
    policy: guarded
    access: [engineering]
    jit: { requesters: [oncall], approvers: [managers], max_duration: 4h, min_approvals: 1 }
    approvers: [managers]
`;

let dir: string;
let file: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'portcullis-hub-config-'));
  file = path.join(dir, 'hub.yaml');
  await writeFile(path.join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\n');
  await writeFile(path.join(dir, 'strict.yaml'), 'extends: read-only\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Parses a variation of the example and returns the error it is refused with. */
function refusal(text: string): HubConfigError {
  try {
    parseHubConfig(text, file);
  } catch (error) {
    if (error instanceof HubConfigError) return error;
    throw error;
  }
  throw new Error('the configuration was accepted');
}

describe('hub.yaml', () => {
  it('reads the documented example into a normalised configuration', () => {
    const config = parseHubConfig(EXAMPLE, file);
    expect(config.identity).toEqual({
      issuer: 'http://127.0.0.1:4000',
      audience: 'portcullis-hub',
      groupsClaim: 'groups',
      clientId: 'portcullis-desktop',
      jwksUri: null,
    });
    expect(config.admins).toEqual(['platform-admins']);
    expect(config.auditors).toEqual(['auditors']);
    expect(config.targets).toHaveLength(1);
    const target = config.targets[0]!;
    expect(target).toMatchObject({
      id: 'payments-db',
      name: 'payments-db',
      kind: 'postgres',
      host: '127.0.0.1',
      port: 5432,
      database: 'payments',
      tls: { sslmode: 'verify-full', sslrootcert: path.join(dir, 'ca.pem'), sslservername: null },
      credentials: { user: 'app', passwordEnv: 'PAYMENTS_DB_PASSWORD', passwordFile: null },
      policy: { kind: 'preset', name: 'guarded' },
      access: ['engineering'],
      jit: { requesters: ['oncall'], approvers: ['managers'], maxDurationSeconds: 4 * 3600, minApprovals: 1 },
      approvers: ['managers'],
    });
  });

  it('fills in defaults: timings, verify-full TLS against the system store, the guarded preset', () => {
    const config = parseHubConfig(
      `identity: { issuer: https://idp.example.com, audience: hub }
targets:
  - id: db
    kind: postgres
    address: "[::1]"
    database: app
    credentials: { user: app, password_file: secrets/db }
`,
      file,
    );
    expect(config.jit).toEqual({ pendingTtlSeconds: 86_400, expiryWarningSeconds: 600 });
    expect(config.approvals).toEqual({
      holdTimeoutSeconds: 300,
      maxHoldTimeoutSeconds: 3600,
      perSessionPerMinute: 20,
      perRequesterPerMinute: 60,
      maxPendingPerRequester: 20,
    });
    expect(config.recordings).toEqual({ gapGraceSeconds: 600 });
    const target = config.targets[0]!;
    if (target.kind !== 'postgres') throw new Error('expected a Postgres target');
    expect(target.host).toBe('::1');
    expect(target.port).toBe(5432);
    expect(target.tls).toEqual({ sslmode: 'verify-full', sslrootcert: 'system', sslservername: null });
    expect(target.policy).toEqual({ kind: 'preset', name: 'guarded' });
    expect(target.credentials.passwordFile).toBe(path.join(dir, 'secrets/db'));
    expect(target.jit).toBeNull();
    expect(target.access).toEqual([]);
  });

  it('resolves a policy file and the database file against the folder of hub.yaml', () => {
    const config = parseHubConfig(
      EXAMPLE.replace('policy: guarded', 'policy: strict.yaml') + 'database: data/hub.db\n',
      file,
    );
    expect(config.targets[0]!.policy).toEqual({
      kind: 'file',
      name: 'strict.yaml',
      path: path.join(dir, 'strict.yaml'),
    });
    expect(config.database).toBe(path.join(dir, 'data/hub.db'));
    const pg = parseHubConfig(EXAMPLE + 'database: postgres://hub@db.internal/hub\n', file);
    expect(pg.database).toBe('postgres://hub@db.internal/hub');
  });

  it('parses durations as whole seconds', () => {
    expect(parseDuration('30m')).toBe(1800);
    expect(parseDuration('4h')).toBe(14_400);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('2d')).toBe(172_800);
    for (const bad of ['', '4', '4 hours', '0m', '-1h', 'h', '1.5h'])
      expect(parseDuration(bad)).toBeUndefined();
  });

  describe('a file that cannot be used is refused with its file, line and field', () => {
    it('names an unknown key on its own line', () => {
      const error = refusal(
        EXAMPLE.replace('    approvers: [managers]\n', '    approvers: [managers]\n    colour: red\n'),
      );
      expect(error).toMatchObject({ file, line: 15, field: 'targets[0].colour' });
      expect(error.message).toBe(`${file}:15: targets[0].colour: unknown key`);
    });

    it('names a missing field at the mapping it belongs in', () => {
      const error = refusal(EXAMPLE.replace('    database: payments\n', ''));
      expect(error).toMatchObject({ line: 5, field: 'targets[0].database', problem: 'is required' });
      const audience = refusal(EXAMPLE.replace('audience: portcullis-hub, ', ''));
      expect(audience).toMatchObject({ line: 1, field: 'identity.audience' });
    });

    it('refuses a malformed duration', () => {
      const error = refusal(EXAMPLE.replace('max_duration: 4h', 'max_duration: 4 hours'));
      expect(error).toMatchObject({ line: 13, field: 'targets[0].jit.max_duration' });
      expect(error.problem).toMatch(/duration such as 30m or 4h/);
    });

    it('refuses a literal password without repeating it', () => {
      const error = refusal(EXAMPLE.replace('password_env: PAYMENTS_DB_PASSWORD', 'password: hunter2'));
      expect(error).toMatchObject({ line: 10, field: 'targets[0].credentials.password' });
      expect(error.problem).toMatch(/password_env or password_file/);
      expect(error.message).not.toContain('hunter2');
    });

    it('needs exactly one of password_env and password_file', () => {
      const both = refusal(
        EXAMPLE.replace('password_env: PAYMENTS_DB_PASSWORD', 'password_env: A, password_file: /run/secret'),
      );
      expect(both).toMatchObject({ line: 10, field: 'targets[0].credentials' });
      const neither = refusal(EXAMPLE.replace(', password_env: PAYMENTS_DB_PASSWORD', ''));
      expect(neither).toMatchObject({ line: 10, field: 'targets[0].credentials' });
    });

    it('reads per-session roles (credentials.provision): the admin that creates them, what they are granted', () => {
      const provision =
        'credentials: { provision: { admin: { user: provisioner, password_env: PROVISIONER }, grant: [pg_read_all_data] } }';
      const target = parseHubConfig(
        EXAMPLE.replace('credentials: { user: app, password_env: PAYMENTS_DB_PASSWORD }', provision),
        file,
      ).targets[0] as PostgresTargetConfig;
      expect(target.credentials).toEqual({
        user: 'provisioner',
        passwordEnv: 'PROVISIONER',
        passwordFile: null,
      });
      expect(target.provision).toEqual({
        grant: ['pg_read_all_data'],
        leaseSeconds: 3600,
        connectionLimit: 20,
      });
      expect((parseHubConfig(EXAMPLE, file).targets[0] as PostgresTargetConfig).provision).toBeNull();

      const both = refusal(
        EXAMPLE.replace(
          'password_env: PAYMENTS_DB_PASSWORD }',
          'password_env: X, provision: { admin: { user: p, password_env: P }, grant: [r] } }',
        ),
      );
      expect(both).toMatchObject({ line: 10, field: 'targets[0].credentials' });
      expect(both.problem).toMatch(/not both/);
      const noPassword = refusal(
        EXAMPLE.replace(
          '{ user: app, password_env: PAYMENTS_DB_PASSWORD }',
          '{ provision: { admin: { user: p }, grant: [r] } }',
        ),
      );
      expect(noPassword).toMatchObject({ field: 'targets[0].credentials.provision.admin' });
      const noGrant = refusal(
        EXAMPLE.replace(
          '{ user: app, password_env: PAYMENTS_DB_PASSWORD }',
          '{ provision: { admin: { user: p, password_env: P }, grant: [] } }',
        ),
      );
      expect(noGrant).toMatchObject({ field: 'targets[0].credentials.provision.grant' });
      expect(refusal(EXAMPLE.replace('user: app, ', ''))).toMatchObject({
        field: 'targets[0].credentials.user',
        problem: 'is required',
      });
    });

    it('reads enforcement at a relay with where the relays listen, and refuses half of it', () => {
      const relayed = parseHubConfig(
        EXAMPLE.replace(
          '    policy: guarded\n',
          '    policy: guarded\n    enforcement: relay\n    relay: { address: relay.internal:6433, sslrootcert: ca.pem }\n',
        ).replace('auditors: [auditors]', 'auditors: [auditors]\nrelays: [relays]'),
        file,
      );
      expect(relayed.relays).toEqual(['relays']);
      expect(relayed.targets[0]).toMatchObject({
        enforcement: 'relay',
        relay: {
          host: 'relay.internal',
          port: 6433,
          sslrootcert: path.join(dir, 'ca.pem'),
          sslservername: null,
        },
      });
      expect(parseHubConfig(EXAMPLE, file).targets[0]).toMatchObject({ enforcement: 'local', relay: null });
      const noRelay = refusal(
        EXAMPLE.replace('    policy: guarded\n', '    policy: guarded\n    enforcement: relay\n'),
      );
      expect(noRelay).toMatchObject({
        field: 'targets[0].enforcement',
        problem: expect.stringMatching(/relay:/),
      });
      const unused = refusal(
        EXAMPLE.replace(
          '    policy: guarded\n',
          '    policy: guarded\n    relay: { address: relay.internal:6433 }\n',
        ),
      );
      expect(unused).toMatchObject({
        field: 'targets[0].relay',
        problem: expect.stringMatching(/only used/),
      });
      const missingCa = refusal(
        EXAMPLE.replace(
          '    policy: guarded\n',
          '    policy: guarded\n    enforcement: relay\n    relay: { address: relay.internal:6433, sslrootcert: nope.pem }\n',
        ),
      );
      expect(missingCa).toMatchObject({ field: 'targets[0].relay.sslrootcert' });
    });

    it('refuses an sslmode libpq does not know, and system roots without verify-full', () => {
      expect(refusal(EXAMPLE.replace('sslmode: verify-full', 'sslmode: verify'))).toMatchObject({
        line: 9,
        field: 'targets[0].tls.sslmode',
      });
      expect(
        refusal(
          EXAMPLE.replace(
            'sslmode: verify-full, sslrootcert: ca.pem',
            'sslmode: require, sslrootcert: system',
          ),
        ),
      ).toMatchObject({ line: 9, field: 'targets[0].tls.sslrootcert' });
      expect(refusal(EXAMPLE.replace('sslrootcert: ca.pem', 'sslrootcert: missing.pem'))).toMatchObject({
        line: 9,
        field: 'targets[0].tls.sslrootcert',
      });
    });

    it('refuses a policy that is neither a preset nor an existing file', () => {
      const error = refusal(EXAMPLE.replace('policy: guarded', 'policy: nope.yaml'));
      expect(error).toMatchObject({ line: 11, field: 'targets[0].policy' });
      expect(error.problem).toContain(path.join(dir, 'nope.yaml'));
    });

    it('refuses duplicate target ids, bad addresses and non-positive approval counts', () => {
      const second = EXAMPLE.split('targets:\n')[1]!;
      expect(refusal(EXAMPLE + second)).toMatchObject({ line: 15, field: 'targets[1].id' });
      expect(refusal(EXAMPLE.replace('127.0.0.1:5432', '127.0.0.1:99999'))).toMatchObject({
        line: 7,
        field: 'targets[0].address',
      });
      expect(refusal(EXAMPLE.replace('min_approvals: 1', 'min_approvals: 0'))).toMatchObject({
        line: 13,
        field: 'targets[0].jit.min_approvals',
      });
      expect(refusal(EXAMPLE.replace('kind: postgres', 'kind: mysql'))).toMatchObject({
        line: 6,
        field: 'targets[0].kind',
      });
    });

    it('reports YAML syntax errors and duplicate keys at their line', () => {
      expect(refusal(EXAMPLE.replace('admins: [platform-admins]', 'admins: [platform-admins'))).toMatchObject(
        {
          field: 'yaml',
        },
      );
      const duplicate = refusal(EXAMPLE.replace('auditors: [auditors]', 'auditors: [auditors]\nadmins: [x]'));
      expect(duplicate).toMatchObject({ line: 4, field: 'yaml' });
    });

    it('collects every problem, first line first', () => {
      const error = refusal(
        EXAMPLE.replace('max_duration: 4h', 'max_duration: soon').replace(
          'address: 127.0.0.1:5432',
          'address: ":"',
        ),
      );
      expect(error.problems.map((p) => [p.line, p.field])).toEqual([
        [7, 'targets[0].address'],
        [13, 'targets[0].jit.max_duration'],
      ]);
      expect(error.line).toBe(7);
    });

    it('names the file when it cannot be read', () => {
      const missing = path.join(dir, 'missing.yaml');
      expect(() => loadHubConfig(missing)).toThrow(HubConfigError);
      expect(() => loadHubConfig(missing)).toThrow(`${missing}: file: cannot be read (ENOENT)`);
    });
  });

  it('loads a file from disk', async () => {
    await writeFile(file, EXAMPLE);
    expect(loadHubConfig(file).targets[0]!.id).toBe('payments-db');
  });
});

describe('target credentials, read when a session opens', () => {
  const target = (credentials: { passwordEnv?: string; passwordFile?: string }) => ({
    id: 'payments-db',
    credentials: {
      user: 'app',
      passwordEnv: credentials.passwordEnv ?? null,
      passwordFile: credentials.passwordFile ?? null,
    },
  });

  it('reads the password from the named environment variable', async () => {
    await expect(
      resolveCredentials(target({ passwordEnv: 'PAYMENTS_DB_PASSWORD' }), { PAYMENTS_DB_PASSWORD: 's3cret' }),
    ).resolves.toEqual({ user: 'app', password: 's3cret' });
  });

  it('reads the password from a file, without its trailing newline', async () => {
    const secret = path.join(dir, 'secret');
    await writeFile(secret, 's3cret\n', { mode: 0o600 });
    await expect(resolveCredentials(target({ passwordFile: secret }), {})).resolves.toEqual({
      user: 'app',
      password: 's3cret',
    });
  });

  it('says clearly what is missing, naming the target and the source but no secret', async () => {
    const env = resolveCredentials(target({ passwordEnv: 'PAYMENTS_DB_PASSWORD' }), { OTHER: 'x' });
    await expect(env).rejects.toThrow(CredentialsError);
    await expect(env).rejects.toThrow(
      'target payments-db: the environment variable PAYMENTS_DB_PASSWORD (credentials.password_env) is not set',
    );
    const missing = path.join(dir, 'no-such-secret');
    await expect(resolveCredentials(target({ passwordFile: missing }), {})).rejects.toThrow(
      `target payments-db: cannot read the password file ${missing} (credentials.password_file): ENOENT`,
    );
    const empty = path.join(dir, 'empty-secret');
    await writeFile(empty, '\n');
    await expect(resolveCredentials(target({ passwordFile: empty }), {})).rejects.toThrow(/is empty/);
  });
});
