/**
 * The README promises Node 20.19: every package the product runs with must accept it, so `npm install`
 * on that Node installs without an engine warning for what runs. (Packaging the desktop app with
 * electron-builder needs a newer Node; those are development dependencies and the README says so.)
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Fastify from 'fastify';
import semver from 'semver';

const ROOT = path.resolve(import.meta.dirname, '../..');
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  engines: { node: string };
};
const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean; engines?: { node?: string } | string[]; version?: string }>;
};

describe('Node versions', () => {
  it('every runtime dependency in the lockfile accepts the oldest Node the README documents', () => {
    const oldest = semver.minVersion(manifest.engines.node)!.version;
    expect(oldest).toBe('20.19.0');
    const refusing = Object.entries(lock.packages)
      .filter(([name, entry]) => name !== '' && !entry.dev)
      .filter(([, entry]) => {
        const range = !Array.isArray(entry.engines) ? entry.engines?.node : undefined;
        return range !== undefined && !semver.satisfies(oldest, range);
      })
      .map(([name, entry]) => `${name}@${entry.version} wants node ${JSON.stringify(entry.engines)}`);
    expect(refusing).toEqual([]);
  });

  it("fastify's request injection works with the cookie version pinned for Node 20", async () => {
    const app = Fastify();
    app.get('/echo', async (request) => ({ cookie: request.headers.cookie }));
    const response = await app.inject({ method: 'GET', url: '/echo', cookies: { session: 'a b;c' } });
    expect(response.json()).toEqual({ cookie: 'session=a%20b%3Bc' });
    await app.close();
  });
});
