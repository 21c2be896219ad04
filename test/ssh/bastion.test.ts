/**
 * A Postgres target reached through an SSH bastion: the guarded Postgres tunnel dials the database as a
 * `direct-tcpip` channel of one SSH connection to Debian's sshd (host key pinned, sign-in signed), and
 * psql works through it as it does over TCP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { PostgresTunnel } from '../../tunnel/postgres/tunnel.ts';
import type { SessionEvent } from '../../tunnel/recorder/recording-point.ts';
import { SshBastion } from '../../tunnel/ssh/bastion.ts';
import { generateKeyPair, parsePublicKey } from '../../tunnel/ssh/keys.ts';
import { installed, run } from '../support/commands.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { opensshMissing, startSshd, type TestSshd } from '../support/sshd.ts';
import { localSigner } from '../support/ssh-tunnel.ts';

const missing =
  opensshMissing() ??
  (installed('psql') ? undefined : 'psql is not installed (apt-get install postgresql-client)');
if (missing) console.warn(`skipping the bastion tests: ${missing}`);

let sshd: TestSshd;
let pg: TestPostgres;

beforeAll(async () => {
  if (missing) return;
  [sshd, pg] = await Promise.all([startSshd(), startPostgres()]);
});

afterAll(async () => {
  await sshd?.stop();
  await pg?.stop();
});

function bastionTunnel(hostKeys = [sshd.hostKey]) {
  const events: SessionEvent[] = [];
  const logs: string[] = [];
  const bastion = new SshBastion({
    targetId: 'jump',
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    hostKeys,
    signer: localSigner(sshd.clientPrivateKey),
    record: (event) => events.push(event),
    log: (line) => logs.push(line),
  });
  const upstream = {
    ...parseUpstreamUrl(pg.url({ sslmode: 'disable' })),
    dial: (host: string, port: number) => bastion.dial(host, port),
  };
  const tunnel = new PostgresTunnel({ upstream });
  return { tunnel, bastion, events, logs };
}

describe.skipIf(missing)('a Postgres target through an SSH bastion', () => {
  it('runs psql through the bastion, one SSH connection for every database connection', async () => {
    const { tunnel, bastion, events } = bastionTunnel();
    const endpoint = await tunnel.listen();
    try {
      const queries = await Promise.all(
        [1, 2, 3].map((n) =>
          run('psql', [endpoint.url, '-Atc', `select ${n} + 1, inet_client_addr()`], { timeoutMs: 60_000 }),
        ),
      );
      expect(queries.map((q) => q.stdout.trim().split('|')[0])).toEqual(['2', '3', '4']);
      // The database sees the bastion's own connection (sshd on loopback), not the client.
      expect(queries.every((q) => q.code === 0 && q.stdout.includes('127.0.0.1'))).toBe(true);
      const connected = events.filter((e) => e.type === 'ssh.bastion' && e.state === 'connected');
      expect(connected).toHaveLength(1);
      expect(connected[0]).toMatchObject({
        via: 'jump',
        host: sshd.host,
        port: sshd.port,
        user: sshd.user,
        hostKey: expect.stringMatching(/^SHA256:/),
      });
    } finally {
      await tunnel.close();
      bastion.close();
    }
  });

  it('refuses a bastion whose host key is not the pinned one', async () => {
    const impostor = parsePublicKey(generateKeyPair('not the bastion').publicKey);
    const { tunnel, bastion, events } = bastionTunnel([impostor]);
    const endpoint = await tunnel.listen();
    try {
      const result = await run('psql', [endpoint.url, '-Atc', 'select 1'], { timeoutMs: 60_000 });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/host key of 127\.0\.0\.1:\d+ .* is not the one pinned/);
      expect(events.filter((e) => e.type === 'ssh.bastion')).toEqual([]);
    } finally {
      await tunnel.close();
      bastion.close();
    }
  });
});
