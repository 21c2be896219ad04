/**
 * OpenSSH known_hosts files, read the way ssh(1) reads them for one host and port: plain and hashed
 * (`|1|salt|hash`) host names, `[host]:port` for other ports than 22, `*`/`?` patterns and `!` negations,
 * and `@revoked` lines, which take their key out. `@cert-authority` lines are not host keys and are
 * skipped. The hub pins what this returns: no key means no connection, never trust on first use.
 */
import { createHmac } from 'node:crypto';

/** The pinned public keys ("TYPE BASE64") for host:port in known_hosts text. */
export function knownHostKeys(text: string, host: string, port: number): string[] {
  const name = port === 22 ? host : `[${host}]:${port}`;
  const keys: string[] = [];
  const revoked = new Set<string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]!.startsWith('@') ? fields.shift()! : undefined;
    const [hosts, type, base64] = fields;
    if (!hosts || !type || !base64) continue;
    const key = `${type} ${base64}`;
    if (marker === '@revoked') {
      revoked.add(key);
      continue;
    }
    if (marker !== undefined) continue;
    if (hostsMatch(hosts, name)) keys.push(key);
  }
  return [...new Set(keys)].filter((key) => !revoked.has(key));
}

function hostsMatch(hosts: string, name: string): boolean {
  if (hosts.startsWith('|1|')) return hashedMatch(hosts, name);
  let matched = false;
  for (const pattern of hosts.split(',')) {
    const negated = pattern.startsWith('!');
    if (!wildcardMatch(negated ? pattern.slice(1) : pattern, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

function hashedMatch(entry: string, name: string): boolean {
  const [, , salt, hash] = entry.split('|');
  if (!salt || !hash) return false;
  const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return digest === hash;
}

function wildcardMatch(pattern: string, name: string): boolean {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  const regex = new RegExp(`^${escaped.replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return regex.test(name);
}
