/**
 * The relay the embedded demo runs for shop-admin (hub/demo/relay.ts says why): its TLS material in the
 * demo's data directory, and the relay itself, signed in to the demo's hub as its own agent.
 */
import { readFile, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { authenticatedHubClient } from '../account/account.ts';
import { clientCredentialsLogin } from '../identity/index.ts';
import { createLocalAuthority, issueLoopbackCertificate, type Pem } from '../postgres/local-certificate.ts';
import type { DemoRelayLauncher, DemoRelayStart } from '../../hub/api/demo-relay.ts';
import { startRelay } from './index.ts';

const files = (dir: string) => ({
  caCert: path.join(dir, 'ca.pem'),
  caKey: path.join(dir, 'ca.key'),
  cert: path.join(dir, 'relay.pem'),
  key: path.join(dir, 'relay.key'),
  spool: path.join(dir, 'recordings.db'),
});

async function writePrivate(file: string, text: string): Promise<void> {
  await writeFile(file, text, { mode: 0o600 });
  await chmod(file, 0o600);
}

/** The authority made on the first start, kept: tunnels verify the relay against it. */
async function authority(dir: string): Promise<Pem> {
  const { caCert, caKey } = files(dir);
  try {
    return { cert: await readFile(caCert, 'utf8'), key: await readFile(caKey, 'utf8') };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const made = await createLocalAuthority("Portcullis demo relay's authority");
  await writePrivate(caKey, made.key);
  await writePrivate(caCert, made.cert);
  return made;
}

export function demoRelayLauncher(): DemoRelayLauncher {
  return {
    async prepare(dir: string): Promise<{ caFile: string }> {
      const issued = await issueLoopbackCertificate(await authority(dir));
      await writePrivate(files(dir).key, issued.key);
      await writePrivate(files(dir).cert, issued.cert);
      return { caFile: files(dir).caCert };
    },

    async start(options: DemoRelayStart): Promise<{ stop(): Promise<unknown> }> {
      const tokens = await clientCredentialsLogin({
        issuer: options.issuer,
        clientId: options.agent.clientId,
        clientSecret: options.agent.clientSecret,
        env: {},
      });
      const at = files(options.dir);
      return startRelay({
        hub: authenticatedHubClient(options.hubUrl, tokens),
        tls: { cert: await readFile(at.cert, 'utf8'), key: await readFile(at.key, 'utf8') },
        host: options.host,
        port: options.port,
        spoolPath: at.spool,
        log: (message) => options.log(`shop-admin's relay: ${message}`),
      });
    },
  };
}
