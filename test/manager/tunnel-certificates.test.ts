import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { TunnelCertificateStore } from '../../tunnel/manager/tunnel-certificates.ts';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'portcullis-tls-'));
});

describe("a target's local-leg certificates in the Portcullis home", () => {
  it('makes a CA on first use, owner-only key beside it, and signs a loopback certificate with it', async () => {
    const store = new TunnelCertificateStore(dir);
    const made = await store.forTarget('shop-db');
    expect(made.caFile).toBe(path.join(dir, 'shop-db', 'ca.pem'));
    expect(await readFile(made.caFile, 'utf8')).toBe(made.ca);
    expect((await stat(path.join(dir, 'shop-db', 'ca-key.pem'))).mode & 0o777).toBe(0o600);

    const ca = new X509Certificate(made.ca);
    const server = new X509Certificate(made.cert);
    expect(ca.ca).toBe(true);
    expect(ca.subject).toContain('Portcullis tunnel to shop-db');
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkIP('::1')).toBeDefined();
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkHost('example.com')).toBeUndefined();
  });

  it('keeps the CA from one start to the next, with a fresh server certificate each time', async () => {
    const first = await new TunnelCertificateStore(dir).forTarget('shop-db');
    const second = await new TunnelCertificateStore(dir).forTarget('shop-db');
    expect(second.ca).toBe(first.ca);
    expect(second.cert).not.toBe(first.cert);
    expect(new X509Certificate(second.cert).verify(new X509Certificate(first.ca).publicKey)).toBe(true);
  });

  it('replaces a CA file it cannot read as one', async () => {
    const first = await new TunnelCertificateStore(dir).forTarget('shop-db');
    await writeFile(first.caFile, 'not a certificate');
    const second = await new TunnelCertificateStore(dir).forTarget('shop-db');
    expect(second.ca).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(second.ca).not.toBe(first.ca);
  });

  it('keeps a target id that names a path inside the store', async () => {
    await new TunnelCertificateStore(path.join(dir, 'store')).forTarget('../../escape');
    expect(await readdir(path.join(dir, 'store'))).toEqual(['.._.._escape']);
    expect((await readdir(dir)).sort()).toEqual(['store']);
  });
});
