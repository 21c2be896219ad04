/**
 * Certificates for the tunnel's local leg: a certificate authority of the tunnel's own (kept beside the
 * tunnel's other files, so a client configured with `sslmode=verify-full sslrootcert=…` keeps working
 * from one start to the next) and a server certificate for the loopback names, signed by it at each start.
 */
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface Pem {
  cert: string;
  key: string;
}

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 3600_000;
/** The authority outlives many restarts; each server certificate stays within what browsers accept. */
const AUTHORITY_DAYS = 3650;
const SERVER_DAYS = 397;
/** The names a client may use for a loopback tunnel. */
export const LOOPBACK_NAMES = { dns: ['localhost'], ip: ['127.0.0.1', '::1'] } as const;

type KeyPair = webcrypto.CryptoKeyPair;

function generateKeys(): Promise<KeyPair> {
  return webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']) as Promise<KeyPair>;
}

async function keyToPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

function pemToKey(pem: string): Promise<webcrypto.CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  return webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']);
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  // An hour of slack for clocks a little behind ours.
  const notBefore = new Date(Date.now() - 3600_000);
  return { notBefore, notAfter: new Date(notBefore.getTime() + days * DAY_MS) };
}

/** A new certificate authority named `name`, good for ten years. */
export async function createLocalAuthority(name: string): Promise<Pem> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${escapeName(name)}`,
    ...validity(AUTHORITY_DAYS),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await keyToPem(keys.privateKey) };
}

/** A server certificate for the loopback names, signed by `authority`. */
export async function issueLoopbackCertificate(authority: Pem): Promise<Pem> {
  const issuer = new x509.X509Certificate(authority.cert);
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.create({
    subject: 'CN=localhost',
    issuer: issuer.subject,
    ...validity(SERVER_DAYS),
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: await pemToKey(authority.key),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...LOOPBACK_NAMES.dns.map((value) => ({ type: 'dns' as const, value })),
        ...LOOPBACK_NAMES.ip.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(issuer),
    ],
  });
  return { cert: cert.toString('pem'), key: await keyToPem(keys.privateKey) };
}

/** When a certificate stops being valid. */
export function expiresAt(certPem: string): Date {
  return new x509.X509Certificate(certPem).notAfter;
}

/** A distinguished-name value with RFC 4514's special characters escaped. */
function escapeName(value: string): string {
  return value.replace(/[,+"\\<>;=#]/g, (c) => `\\${c}`);
}
