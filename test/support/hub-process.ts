/**
 * The hub as operators run it: `portcullis hub --config … --database FILE --listen …` in a child process of
 * its own, so that it can be stopped like a service or killed with SIGKILL in the middle of a request, and
 * started again on the same port and store. Its request log (stderr, JSON lines) tells a test what the hub
 * is doing at the moment.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { runCli } from './guard-process.ts';

export interface HubProcessOptions {
  config: string;
  database: string;
  /** HOST:PORT; port 0 picks a free one at the first start (later starts keep it). */
  listen: string;
  /** The hub's environment (target password_env variables, say). */
  env: NodeJS.ProcessEnv;
}

export interface HubProcess {
  /** `http://127.0.0.1:PORT`, the same across restarts. */
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the running process wrote on stderr. */
  stderr(): string;
  /**
   * Resolves with the `nth` request log line (counting from now) whose URL matches `url` and whose message
   * is `msg` (Fastify's "incoming request" when the hub starts reading one).
   */
  nextRequest(url: RegExp, options?: { nth?: number; msg?: string }): Promise<void>;
  /** Sends `signal` and resolves once the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts a new process on the same port and store; resolves once it serves. */
  restart(): Promise<void>;
}

interface Started {
  child: ChildProcess;
  url: string;
  lines: Set<(line: string) => void>;
  stderr: { text: string };
  exited: Promise<unknown>;
}

async function spawnHub(options: HubProcessOptions, listen: string): Promise<Started> {
  const child = runCli(
    [
      'hub',
      '--config',
      options.config,
      '--database',
      options.database,
      '--listen',
      listen,
      '--log-level',
      'info',
    ],
    options.env,
  );
  const stderr = { text: '' };
  const lines = new Set<(line: string) => void>();
  createInterface({ input: child.stderr! }).on('line', (line) => {
    // Request logs are many: keep the rest, which is what a failure needs.
    if (!line.startsWith('{"level":30')) stderr.text += `${line}\n`;
    for (const listener of lines) listener(line);
  });
  const exited = once(child, 'exit');
  const ready = new Promise<string>((resolve) =>
    createInterface({ input: child.stdout! }).once('line', resolve),
  );
  const line = await Promise.race([ready, exited.then(() => undefined)]);
  if (line === undefined) throw new Error(`the hub exited before it served: ${stderr.text}`);
  return { child, url: (JSON.parse(line) as { url: string }).url, lines, stderr, exited };
}

export async function startHubProcess(options: HubProcessOptions): Promise<HubProcess> {
  let current = await spawnHub(options, options.listen);
  const listen = new URL(current.url).host;
  return {
    get url() {
      return current.url;
    },
    get child() {
      return current.child;
    },
    stderr: () => current.stderr.text,
    nextRequest(url, { nth = 1, msg = 'incoming request' } = {}) {
      const { lines } = current;
      let seen = 0;
      return new Promise((resolve, reject) => {
        const listener = (line: string): void => {
          if (!line.startsWith('{')) return;
          const entry = JSON.parse(line) as { msg?: string; req?: { url?: string } };
          if (entry.msg !== msg || !url.test(entry.req?.url ?? '') || ++seen < nth) return;
          lines.delete(listener);
          resolve();
        };
        lines.add(listener);
        void current.exited.then(() => {
          if (!lines.delete(listener)) return;
          reject(new Error(`the hub exited before request ${nth} to ${url.source}`));
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      const { child, exited } = current;
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
    async restart() {
      current = await spawnHub(options, listen);
    },
  };
}
