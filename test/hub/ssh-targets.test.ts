/**
 * SSH targets at the hub: hub.yaml's `kind: ssh` (pinned host keys, keys only, never a password) and a
 * Postgres target's `via`, known_hosts files read as ssh(1) reads them, the session material (where, as
 * whom, which host keys — never the private key), and the signing of one connection's sign-in.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ssh2, { type ParsedKey } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Identity } from '../../hub/api/types.ts';
import { HubConfigError, parseHubConfig } from '../../hub/config/index.ts';
import { knownHostKeys } from '../../hub/config/known-hosts.ts';
import { openHubDatabase } from '../../hub/db/index.ts';
import { signUserAuthRequest, SignRequestError } from '../../hub/delegation/ssh-signatures.ts';
import { createHubServices, ManualClock, UnavailableError } from '../../hub/services/index.ts';
import { generateKeyPair } from '../../tunnel/ssh/keys.ts';

// ssh2 is CommonJS: Node's ESM loader does not find utils as a named export.
const { utils } = ssh2;

let dir: string;
const hostKey = generateKeyPair('web host');
const otherHostKey = generateKeyPair('another host');
const targetKey = generateKeyPair('deploy key');

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'portcullis-hub-ssh-'));
  await writeFile(path.join(dir, 'deploy_key'), targetKey.privateKey, { mode: 0o600 });
  await writeFile(path.join(dir, 'known_hosts'), `[web.internal]:2222 ${hostKey.publicKey}\n`);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function privateKey(text: string): ParsedKey {
  const parsed = utils.parseKey(text);
  if (parsed instanceof Error || Array.isArray(parsed)) throw new Error('not a private key');
  return parsed;
}

const IDENTITY = "identity: { issuer: 'http://127.0.0.1:4000', audience: portcullis-hub }\n";

function config(targets: string) {
  return parseHubConfig(`${IDENTITY}targets:\n${targets}`, path.join(dir, 'hub.yaml'));
}

function refusal(targets: string): HubConfigError {
  try {
    config(targets);
  } catch (error) {
    if (error instanceof HubConfigError) return error;
    throw error;
  }
  throw new Error('the configuration was accepted');
}

const WEB = `  - id: web
    kind: ssh
    address: web.internal:2222
    known_hosts: known_hosts
    credentials: { user: deploy, private_key_file: deploy_key }
    access: [engineering]
`;

describe('SSH targets in hub.yaml', () => {
  it('reads an SSH target: its port defaults to 22, its host key is pinned, its key stays a path', () => {
    const [inline, fromFile] = config(`  - id: bastion
    kind: ssh
    address: bastion.internal
    host_key: '${hostKey.publicKey}'
    credentials: { user: jump, private_key_env: BASTION_KEY }
${WEB}`).targets;
    expect(inline).toMatchObject({
      kind: 'ssh',
      host: 'bastion.internal',
      port: 22,
      hostKeys: { pinned: [hostKey.publicKey.split(' ').slice(0, 2).join(' ')], knownHostsFile: null },
      credentials: { user: 'jump', privateKeyEnv: 'BASTION_KEY', privateKeyFile: null },
    });
    expect(fromFile).toMatchObject({
      port: 2222,
      hostKeys: { pinned: [], knownHostsFile: path.join(dir, 'known_hosts') },
      credentials: { privateKeyFile: path.join(dir, 'deploy_key') },
    });
  });

  it('refuses a target without a pinned host key: never trust on first use', () => {
    const error = refusal(`  - id: web
    kind: ssh
    address: web.internal
    credentials: { user: deploy, private_key_env: KEY }
`);
    expect(error.message).toMatch(
      /hub\.yaml:\d+: targets\[0\]\.host_key: needs host_key, host_keys or known_hosts: .*never trusted on first use/,
    );
  });

  it('refuses passwords for SSH targets, saying why', () => {
    const error = refusal(`  - id: web
    kind: ssh
    address: web.internal
    host_key: '${hostKey.publicKey}'
    credentials: { user: deploy, password_env: WEB_PASSWORD }
`);
    expect(error.field).toBe('targets[0].credentials.password_env');
    expect(error.problem).toMatch(/a password cannot stay at the hub/);
  });

  it('refuses a host key that is not one, and a kind it does not know', () => {
    expect(
      refusal(
        `  - { id: web, kind: ssh, address: w, host_key: 'ssh-ed25519 nope', credentials: { user: u, private_key_env: K } }\n`,
      ).problem,
    ).toMatch(/must be an SSH public key/);
    expect(refusal(`  - { id: web, kind: telnet, address: w }\n`).problem).toBe('must be postgres or ssh');
  });

  it('reaches a database through an SSH target named by via, and only an SSH target', () => {
    const targets = config(
      `${WEB}  - { id: db, kind: postgres, address: 'db.internal:5432', database: shop, tls: { sslmode: disable }, credentials: { user: app, password_env: P }, via: web }\n`,
    ).targets;
    expect(targets[1]).toMatchObject({ kind: 'postgres', via: 'web' });
    expect(
      refusal(
        `${WEB}  - { id: db, kind: postgres, address: 'db:5432', database: shop, credentials: { user: app, password_env: P }, via: nowhere }\n`,
      ).problem,
    ).toMatch(/must name an SSH target of this catalogue \(nowhere is not one\)/);
  });

  it('refuses a bastion for a target enforced at a relay: the relay reaches the database itself', () => {
    const error = refusal(
      `${WEB}  - { id: db, kind: postgres, address: 'db:5432', database: shop, credentials: { user: app, password_env: P }, via: web, enforcement: relay, relay: { address: 'relay:6432' } }\n`,
    );
    expect(error.field).toBe('targets[1].via');
    expect(error.problem).toMatch(/not used with enforcement: relay/);
  });

  it('refuses relay enforcement for an SSH target', () => {
    expect(
      refusal(
        `  - { id: web, kind: ssh, address: w, host_key: '${hostKey.publicKey}', credentials: { user: u, private_key_env: K }, enforcement: relay }\n`,
      ).field,
    ).toBe('targets[0].enforcement');
  });
});

describe('known_hosts', () => {
  const key = (pair: { publicKey: string }) => pair.publicKey.split(' ').slice(0, 2).join(' ');
  const hashed = (name: string): string => {
    const salt = randomBytes(20);
    return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
  };

  it('finds a host by name, by [name]:port, hashed, and by pattern', () => {
    const text = [
      '# a comment',
      `web.internal,10.0.0.5 ${key(hostKey)}`,
      `[web.internal]:2222 ${key(otherHostKey)}`,
      `${hashed('[db.internal]:2200')} ${key(hostKey)}`,
      `*.staging,!secret.staging ${key(otherHostKey)}`,
      `@cert-authority *.internal ${key(otherHostKey)}`,
    ].join('\n');
    expect(knownHostKeys(text, 'web.internal', 22)).toEqual([key(hostKey)]);
    expect(knownHostKeys(text, 'web.internal', 2222)).toEqual([key(otherHostKey)]);
    expect(knownHostKeys(text, '10.0.0.5', 22)).toEqual([key(hostKey)]);
    expect(knownHostKeys(text, 'db.internal', 2200)).toEqual([key(hostKey)]);
    expect(knownHostKeys(text, 'app.staging', 22)).toEqual([key(otherHostKey)]);
    expect(knownHostKeys(text, 'secret.staging', 22)).toEqual([]);
    expect(knownHostKeys(text, 'elsewhere', 22)).toEqual([]);
  });

  it('drops a key marked @revoked', () => {
    const text = `web ${key(hostKey)}\nweb ${key(otherHostKey)}\n@revoked * ${key(hostKey)}\n`;
    expect(knownHostKeys(text, 'web', 22)).toEqual([key(otherHostKey)]);
  });
});

describe('session material for SSH targets', () => {
  const alice: Identity = { subject: 'alice', name: 'Alice', groups: ['engineering'], kind: 'person' };

  async function services(env: Record<string, string> = {}) {
    const database = await openHubDatabase(path.join(dir, `hub-${randomBytes(4).toString('hex')}.db`));
    const built = await createHubServices({
      database,
      config: config(
        `${WEB}  - { id: db, kind: postgres, address: 'db.internal:5432', database: shop, tls: { sslmode: disable }, credentials: { user: app, password_env: P }, via: web, access: [engineering] }\n  - id: lost\n    kind: ssh\n    address: lost.internal\n    known_hosts: known_hosts\n    credentials: { user: x, private_key_env: MISSING_KEY }\n    access: [engineering]\n`,
      ),
      clock: new ManualClock('2025-03-01T09:00:00.000Z'),
      env: { P: 'db-secret', ...env },
    });
    return { services: built, close: async () => (await built.close(), await database.close()) };
  }

  it('says where and as whom, with the pinned host keys and the public key, never the private key', async () => {
    const h = await services();
    try {
      const opened = await h.services.sessions.openSession(alice, 'web');
      expect(opened.connection).toEqual({
        kind: 'ssh',
        host: 'web.internal',
        port: 2222,
        user: 'deploy',
        hostKeys: [key(hostKey)],
        publicKey: key(targetKey),
        authentication: { kind: 'delegated', methods: ['ssh-signature'] },
      });
      expect(JSON.stringify(opened)).not.toContain('PRIVATE KEY');
      const db = await h.services.sessions.openSession(alice, 'db');
      expect(db.connection).toMatchObject({
        kind: 'postgres',
        via: {
          targetId: 'web',
          host: 'web.internal',
          port: 2222,
          user: 'deploy',
          hostKeys: [key(hostKey)],
          publicKey: key(targetKey),
        },
      });
    } finally {
      await h.close();
    }
  });

  it('signs a connection’s sign-in for the session’s own target or its bastion, and records it', async () => {
    const h = await services();
    try {
      const web = await h.services.sessions.openSession(alice, 'web');
      const key = privateKey(targetKey.privateKey);
      const data = userauthFor(key, 'deploy');
      const proof = await h.services.proofs.prove(alice, web.sessionId, {
        method: 'ssh-signature',
        connection: 3,
        data: data.toString('base64'),
      });
      if (proof.method !== 'ssh-signature') throw new Error('expected a signature');
      expect(key.verify(data, Buffer.from(proof.signature, 'base64'))).toBe(true);

      const db = await h.services.sessions.openSession(alice, 'db');
      const viaProof = await h.services.proofs.prove(alice, db.sessionId, {
        method: 'ssh-signature',
        connection: 0,
        purpose: 'bastion',
        targetId: 'web',
        data: data.toString('base64'),
      });
      expect(viaProof.method).toBe('ssh-signature');
      await expect(
        h.services.proofs.prove(alice, db.sessionId, {
          method: 'ssh-signature',
          connection: 0,
          targetId: 'lost',
          data: data.toString('base64'),
        }),
      ).rejects.toThrow(/has signatures for web only, not lost/);
      await expect(
        h.services.proofs.prove(alice, web.sessionId, {
          method: 'postgres-md5',
          connection: 1,
          salt: 'AAAAAA==',
        }),
      ).rejects.toThrow(/web is an SSH target: its connections take ssh-signature proofs/);

      const recorded = await h.services.proofs.list(alice, web.sessionId);
      expect(recorded).toEqual([
        expect.objectContaining({
          connection: 3,
          purpose: 'client',
          method: 'ssh-signature',
          user: 'deploy',
        }),
      ]);

      await h.services.sessions.closeSession(alice, web.sessionId);
      await expect(
        h.services.proofs.prove(alice, web.sessionId, {
          method: 'ssh-signature',
          connection: 4,
          data: data.toString('base64'),
        }),
      ).rejects.toThrow(/is closed: it opens no more connections/);
    } finally {
      await h.close();
    }
  });

  it('is unavailable, saying why, when the key cannot be read or known_hosts has no key for the host', async () => {
    const h = await services();
    try {
      await expect(h.services.sessions.openSession(alice, 'lost')).rejects.toThrow(UnavailableError);
      await expect(h.services.sessions.openSession(alice, 'lost')).rejects.toThrow(
        /MISSING_KEY \(private_key_env\) is not set/,
      );
    } finally {
      await h.close();
    }
    const keyed = await services({ MISSING_KEY: targetKey.privateKey });
    try {
      await expect(keyed.services.sessions.openSession(alice, 'lost')).rejects.toThrow(
        /has no host key for lost\.internal/,
      );
    } finally {
      await keyed.close();
    }
  });

  function key(pair: { publicKey: string }): string {
    return pair.publicKey.split(' ').slice(0, 2).join(' ');
  }
});

/** The data an SSH client signs to sign in with `key` as `user`. */
function userauthFor(key: ParsedKey, user: string): Buffer {
  const string = (value: Buffer | string) => {
    const bytes = Buffer.from(value);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  return Buffer.concat([
    string(randomBytes(32)),
    Buffer.from([50]),
    string(user),
    string('ssh-connection'),
    string('publickey'),
    Buffer.from([1]),
    string(key.type),
    string(key.getPublicSSH()),
  ]);
}

describe('signing one connection’s sign-in', () => {
  const parsed = privateKey(targetKey.privateKey);
  const identity = { user: 'deploy', key: parsed };

  /** The data an SSH client signs for a public-key sign-in (RFC 4252 §7). */
  function userauth(fields: {
    user?: string;
    service?: string;
    method?: string;
    algorithm?: string;
    blob?: Buffer;
    sessionId?: Buffer;
    extra?: Buffer;
  }): Buffer {
    const string = (value: Buffer | string) => {
      const bytes = Buffer.from(value);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      return Buffer.concat([length, bytes]);
    };
    return Buffer.concat([
      string(fields.sessionId ?? randomBytes(32)),
      Buffer.from([50]),
      string(fields.user ?? 'deploy'),
      string(fields.service ?? 'ssh-connection'),
      string(fields.method ?? 'publickey'),
      Buffer.from([1]),
      string(fields.algorithm ?? 'ssh-ed25519'),
      string(fields.blob ?? parsed.getPublicSSH()),
      fields.extra ?? Buffer.alloc(0),
    ]);
  }

  it('signs a sign-in to the target as its user with its key, and the signature verifies', () => {
    const data = userauth({});
    const signature = signUserAuthRequest(identity, data, undefined);
    expect(parsed.verify(data, signature)).toBe(true);
  });

  it('refuses to sign anything else', () => {
    const other = privateKey(generateKeyPair('other').privateKey);
    for (const [data, message] of [
      [Buffer.from('a git commit to sign'), /malformed|ends before/],
      [userauth({ user: 'root' }), /signs in as "root", not the target's user/],
      [userauth({ service: 'ssh-userauth' }), /another service/],
      [userauth({ method: 'hostbased' }), /not a signed public-key sign-in/],
      [userauth({ blob: other.getPublicSSH() }), /another key than the target's/],
      [userauth({ algorithm: 'rsa-sha2-256' }), /does not sign with/],
      [userauth({ extra: Buffer.from('x') }), /bytes after the public key/],
      [userauth({ sessionId: Buffer.alloc(0) }), /no session identifier/],
    ] as const) {
      expect(() => signUserAuthRequest(identity, data, undefined)).toThrow(SignRequestError);
      expect(() => signUserAuthRequest(identity, data, undefined)).toThrow(message);
    }
  });
});
