import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { browserCommand, printAuthorizationUrl } from '../../tunnel/identity/browser.ts';
import {
  FileTokenStore,
  MemoryTokenStore,
  TokenStoreError,
  configDirectory,
  defaultTokenPath,
  parseStoredTokens,
  type StoredTokens,
} from '../../tunnel/identity/token-store.ts';

const posix = process.platform !== 'win32';

function stored(n: number): StoredTokens {
  return {
    issuer: 'https://idp.example.com',
    clientId: 'portcullis-desktop',
    tokens: {
      accessToken: `access-${n}`,
      refreshToken: `refresh-${n}`,
      idToken: `id-${n}`,
      expiresAt: 1_700_000_000_000 + n,
      subject: 'priya',
      name: 'Priya Shah',
      groups: ['engineering'],
    },
  };
}

describe.skipIf(!posix)('FileTokenStore', () => {
  let dir: string;
  let path: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-store-'));
    path = join(dir, 'config', 'portcullis', 'tokens.json');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a 0600 file in a 0700 directory and reads it back', async () => {
    const store = new FileTokenStore(path);
    expect(await store.load()).toBeUndefined();
    await store.save(stored(1));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'config', 'portcullis'))).mode & 0o777).toBe(0o700);
    expect(await store.load()).toEqual(stored(1));
  });

  it('refuses a file that group or others can read, saying how to fix it', async () => {
    const store = new FileTokenStore(path);
    await store.save(stored(1));
    await chmod(path, 0o644);
    const error = await store.load().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenStoreError);
    expect((error as Error).message).toContain('mode 0644');
    expect((error as Error).message).toContain(`chmod 600 ${path}`);
    await chmod(path, 0o600);
    expect(await store.load()).toEqual(stored(1));
  });

  it('refuses a symbolic link in place of the file', async () => {
    const target = join(dir, 'elsewhere.json');
    await writeFile(target, JSON.stringify(stored(1)), { mode: 0o600 });
    await mkdir(join(dir, 'config', 'portcullis'), { recursive: true });
    await symlink(target, path);
    await expect(new FileTokenStore(path).load()).rejects.toThrow(/symbolic link/);
  });

  it('replaces the file atomically: a new inode, no temporary files left, 0600 even over a 0644 file', async () => {
    const store = new FileTokenStore(path);
    await store.save(stored(1));
    const before = await stat(path);
    await chmod(path, 0o644);
    await store.save(stored(2));
    const after = await stat(path);
    expect(after.ino).not.toBe(before.ino);
    expect(after.mode & 0o777).toBe(0o600);
    expect(await store.load()).toEqual(stored(2));

    // Concurrent saves: the file is always one whole document.
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.save(stored(10 + i))));
    const last = await store.load();
    expect(last?.tokens.accessToken).toMatch(/^access-1\d$/);
    expect(await readdir(join(dir, 'config', 'portcullis'))).toEqual(['tokens.json']);
  });

  it('clears, also when there is nothing to clear', async () => {
    const store = new FileTokenStore(path);
    await store.save(stored(1));
    await store.clear();
    expect(await store.load()).toBeUndefined();
    await expect(store.clear()).resolves.toBeUndefined();
  });

  it('refuses a corrupt or malformed file', async () => {
    const store = new FileTokenStore(path);
    await store.save(stored(1));
    await writeFile(path, '{"issuer":', { mode: 0o600 });
    await expect(store.load()).rejects.toThrow(/not valid JSON/);
    await writeFile(path, JSON.stringify({ ...stored(1), tokens: { accessToken: 'x' } }), { mode: 0o600 });
    await expect(store.load()).rejects.toThrow(/not valid \(expiresAt\)/);
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ issuer: 'https://idp.example.com' });
  });
});

describe('token store helpers', () => {
  it('puts tokens in the per-user config directory of each platform', () => {
    const home = '/home/priya';
    expect(configDirectory({ platform: 'linux', env: {}, home })).toBe('/home/priya/.config/portcullis');
    expect(configDirectory({ platform: 'linux', env: { XDG_CONFIG_HOME: '/xdg' }, home })).toBe(
      '/xdg/portcullis',
    );
    // A relative XDG_CONFIG_HOME is invalid by the spec and ignored.
    expect(configDirectory({ platform: 'linux', env: { XDG_CONFIG_HOME: 'rel' }, home })).toBe(
      '/home/priya/.config/portcullis',
    );
    expect(configDirectory({ platform: 'darwin', env: {}, home: '/Users/priya' })).toBe(
      '/Users/priya/Library/Application Support/portcullis',
    );
    expect(
      defaultTokenPath({
        platform: 'win32',
        env: { APPDATA: 'C:\\Users\\priya\\AppData\\Roaming' },
        home: 'C:\\Users\\priya',
      }),
    ).toBe('C:\\Users\\priya\\AppData\\Roaming\\portcullis\\tokens.json');
    expect(defaultTokenPath({ platform: 'linux', env: {}, home })).toBe(
      '/home/priya/.config/portcullis/tokens.json',
    );
  });

  it('keeps copies in the memory store and validates documents', async () => {
    const store = new MemoryTokenStore();
    const tokens = stored(1);
    await store.save(tokens);
    tokens.tokens.accessToken = 'changed';
    expect((await store.load())?.tokens.accessToken).toBe('access-1');
    await store.clear();
    expect(await store.load()).toBeUndefined();
    expect(parseStoredTokens(JSON.parse(JSON.stringify(stored(3))))).toEqual(stored(3));
    expect(() => parseStoredTokens({ issuer: 'x' })).toThrow(TokenStoreError);
  });

  it('opens URLs with the platform opener, and prints them for --no-browser', () => {
    const url = 'https://idp.example.com/auth?client_id=a&state=b';
    expect(browserCommand(url, 'linux')).toEqual({ command: 'xdg-open', args: [url] });
    expect(browserCommand(url, 'darwin')).toEqual({ command: 'open', args: [url] });
    expect(browserCommand(url, 'win32')).toEqual({
      command: 'rundll32',
      args: ['url.dll,FileProtocolHandler', url],
    });
    expect(() => browserCommand('file:///etc/passwd', 'linux')).toThrow(/file:/);
    const lines: string[] = [];
    printAuthorizationUrl((line) => lines.push(line))(url);
    expect(lines).toEqual([`${JSON.stringify({ event: 'authorize', url })}\n`]);
  });
});
