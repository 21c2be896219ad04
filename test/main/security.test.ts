import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  appOrigin,
  contentSecurityPolicy,
  contentTypeFor,
  externalUrlToOpen,
  isAllowedNavigation,
  isAppOrigin,
  isTrustedIpcSender,
  packagedAppUrl,
  resolveAppAsset,
  toPlatform,
  withContentSecurityPolicy,
} from '../../main/security.ts';

const repo = path.resolve(import.meta.dirname, '..', '..');

/** Parses a policy into directive → sources. */
function directives(policy: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const part of policy.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) map.set(name, sources);
  }
  return map;
}

describe('contentSecurityPolicy', () => {
  it('allows nothing but the app itself in production', () => {
    const csp = directives(contentSecurityPolicy(false));
    expect(Object.fromEntries(csp)).toEqual({
      'default-src': ["'self'"],
      'script-src': ["'self'"],
      'style-src': ["'self'"],
      'connect-src': ["'self'"],
      'img-src': ["'self'", 'data:'],
      'font-src': ["'self'"],
      'object-src': ["'none'"],
      'base-uri': ["'none'"],
      'form-action': ["'none'"],
      'frame-ancestors': ["'none'"],
    });
  });

  it('never allows eval, in production or development', () => {
    expect(contentSecurityPolicy(false)).not.toContain('unsafe-eval');
    expect(contentSecurityPolicy(true)).not.toContain('unsafe-eval');
  });

  it('loosens only what the Vite dev server needs in development', () => {
    const csp = directives(contentSecurityPolicy(true));
    expect(csp.get('script-src')).toEqual(["'self'", "'unsafe-inline'"]);
    expect(csp.get('style-src')).toEqual(["'self'", "'unsafe-inline'"]);
    expect(csp.get('connect-src')).toEqual(["'self'", 'ws://localhost:*', 'ws://127.0.0.1:*']);
    expect(csp.get('object-src')).toEqual(["'none'"]);
    expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
  });

  it('leaves frame-ancestors out of the <meta> variant, where browsers ignore it', () => {
    const meta = directives(contentSecurityPolicy(false, 'meta'));
    expect(meta.has('frame-ancestors')).toBe(false);
    const header = directives(contentSecurityPolicy(false, 'header'));
    header.delete('frame-ancestors');
    expect(meta).toEqual(header);
  });

  it('is exactly the policy renderer/index.html carries in its <meta> element', async () => {
    const html = await readFile(path.join(repo, 'renderer', 'index.html'), 'utf8');
    const metas = [...html.matchAll(/<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"/gi)];
    expect(metas.map((m) => m[1])).toEqual([contentSecurityPolicy(false, 'meta')]);
  });
});

describe('withContentSecurityPolicy', () => {
  it('replaces any CSP the response carried, whatever the header case', () => {
    const headers = withContentSecurityPolicy(
      {
        'content-type': ['text/html'],
        'content-security-policy': ['default-src *'],
        'CONTENT-SECURITY-POLICY': ['x'],
      },
      "default-src 'self'",
    );
    expect(headers).toEqual({
      'content-type': ['text/html'],
      'Content-Security-Policy': ["default-src 'self'"],
    });
  });

  it('adds the CSP when the response had no headers', () => {
    expect(withContentSecurityPolicy(undefined, 'x')).toEqual({ 'Content-Security-Policy': ['x'] });
  });
});

describe('isAllowedNavigation', () => {
  it('allows the app page itself (reload, fragment change)', () => {
    expect(isAllowedNavigation(packagedAppUrl, packagedAppUrl)).toBe(true);
    expect(isAllowedNavigation(`${packagedAppUrl}#/targets`, packagedAppUrl)).toBe(true);
    expect(isAllowedNavigation('http://localhost:5173/', 'http://localhost:5173/')).toBe(true);
    expect(isAllowedNavigation('http://localhost:5173', 'http://localhost:5173/')).toBe(true);
  });

  it('refuses everything else, even other pages of the same origin', () => {
    for (const url of [
      'https://example.com/',
      'http://localhost:5173/',
      `${appOrigin}/other.html`,
      `${packagedAppUrl}?x=1`,
      'app://evil/index.html',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'about:blank',
      'not a url',
      '',
    ]) {
      expect(isAllowedNavigation(url, packagedAppUrl), url).toBe(false);
    }
  });
});

describe('isAppOrigin and isTrustedIpcSender', () => {
  it('recognise frames of the app origin', () => {
    expect(isAppOrigin(`${appOrigin}/assets/index.js`, packagedAppUrl)).toBe(true);
    expect(isTrustedIpcSender(packagedAppUrl, packagedAppUrl)).toBe(true);
    expect(isTrustedIpcSender('http://localhost:5173/', 'http://localhost:5173/')).toBe(true);
  });

  it('refuse other origins, opaque origins and missing frames', () => {
    for (const url of [
      'https://portcullis/index.html',
      'app://portcullis.evil/index.html',
      'http://localhost:5174/',
      'file:///work/out/renderer/index.html',
      'about:blank',
      'data:text/html,x',
      'garbage',
    ]) {
      expect(isTrustedIpcSender(url, packagedAppUrl), url).toBe(false);
    }
    expect(isTrustedIpcSender(undefined, packagedAppUrl)).toBe(false);
    expect(isTrustedIpcSender('file:///a/index.html', 'file:///a/index.html')).toBe(false);
    expect(isTrustedIpcSender('http://localhost:5174/', 'http://localhost:5173/')).toBe(false);
  });
});

describe('externalUrlToOpen', () => {
  it('passes plain https links to the system browser', () => {
    expect(externalUrlToOpen('https://example.com/docs?q=1#x')).toBe('https://example.com/docs?q=1#x');
    expect(externalUrlToOpen('HTTPS://Example.COM')).toBe('https://example.com/');
  });

  it('drops every other scheme and https URLs with credentials', () => {
    for (const url of [
      'http://example.com/',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'data:text/html,x',
      'smb://host/share',
      'ms-msdt:/id',
      'app://portcullis/index.html',
      'https://user:secret@example.com/',
      'https://user@example.com/',
      'https:',
      'not a url',
    ]) {
      expect(externalUrlToOpen(url), url).toBeNull();
    }
  });
});

describe('resolveAppAsset', () => {
  const root = path.resolve('/srv/renderer');

  it('maps app:// paths to files under the renderer root', () => {
    expect(resolveAppAsset(root, 'app://portcullis')).toBe(path.join(root, 'index.html'));
    expect(resolveAppAsset(root, 'app://portcullis/')).toBe(path.join(root, 'index.html'));
    expect(resolveAppAsset(root, 'app://portcullis/index.html')).toBe(path.join(root, 'index.html'));
    expect(resolveAppAsset(root, 'app://portcullis/assets/index-abc.js?v=1#x')).toBe(
      path.join(root, 'assets', 'index-abc.js'),
    );
  });

  it('refuses other hosts, other schemes and escapes from the root', () => {
    for (const url of [
      'app://other/index.html',
      'https://portcullis/index.html',
      'app://portcullis/assets/%2E%2E%2F%2E%2E%2Fsecret.txt',
      'app://portcullis/..%5csecret.txt',
      'app://portcullis/index.html%00.png',
      'app://portcullis/%E0%A4%A',
      'garbage',
    ]) {
      expect(resolveAppAsset(root, url), url).toBeNull();
    }
  });

  it('keeps dot segments the URL parser already resolved inside the root', () => {
    expect(resolveAppAsset(root, 'app://portcullis/%2e%2e/%2e%2e/secret.txt')).toBe(
      path.join(root, 'secret.txt'),
    );
    expect(resolveAppAsset(root, 'app://portcullis/assets/../../index.html')).toBe(
      path.join(root, 'index.html'),
    );
  });
});

describe('contentTypeFor and toPlatform', () => {
  it('types the renderer assets so module scripts and styles load', () => {
    expect(contentTypeFor('/x/index.html')).toBe('text/html; charset=utf-8');
    expect(contentTypeFor('/x/a.JS')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeFor('/x/a.css')).toBe('text/css; charset=utf-8');
    expect(contentTypeFor('/x/a.bin')).toBe('application/octet-stream');
  });

  it('names the three desktop platforms and folds the rest', () => {
    expect(['darwin', 'linux', 'win32', 'freebsd', 'aix'].map(toPlatform)).toEqual([
      'darwin',
      'linux',
      'win32',
      'other',
      'other',
    ]);
  });
});
