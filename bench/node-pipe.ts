/**
 * The floor of any proxy written in Node: a process that only pipes bytes between the client and the
 * server (net.Socket.pipe both ways, no framing, no policy, no recording). What the tunnel costs above
 * this is the tunnel's own work; what this costs above PgBouncer is Node's, and no tunnel code can
 * win it back in one process.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { TestPostgres } from '../test/support/postgres.ts';
import type { Endpoint } from './postgres-endpoints.ts';

const PIPE = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
const server = net.createServer((client) => {
  const upstream = net.connect(Number(port), host);
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  client.pipe(upstream).on('error', () => client.destroy());
  upstream.pipe(client).on('error', () => upstream.destroy());
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => process.exit(0));
`;

export interface NodePipe {
  endpoint: Endpoint;
  pid: number;
  stop(): Promise<void>;
}

export async function startNodePipe(server: TestPostgres): Promise<NodePipe> {
  const child = spawn(process.execPath, ['-e', PIPE, server.host, String(server.port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const { host, user, password, database } = server;
  return {
    endpoint: { name: 'node-pipe', host, port: Number(line), user, password, database },
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
