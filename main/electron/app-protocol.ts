/**
 * The two schemes: app:// serves the built renderer (a real, secure origin instead of file://), and
 * portcullis:// links open the app on an approval (registered with the OS; macOS delivers them as
 * open-url, Windows and Linux as the second instance's command line).
 */
import { readFile } from 'node:fs/promises';
import { app, protocol } from 'electron';
import { linkInArguments, linkScheme } from '../services/deep-link.ts';
import { appScheme, contentTypeFor, resolveAppAsset } from '../security.ts';

/** Before the ready event: app:// gets a standard, secure origin. No corsEnabled, no bypassCSP. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: appScheme, privileges: { standard: true, secure: true } }]);
}

export function serveRenderer(rendererRoot: string, csp: string): void {
  protocol.handle(appScheme, async (request) => {
    const file = resolveAppAsset(rendererRoot, request.url);
    if (!file) return new Response('Not found', { status: 404 });
    try {
      const body = await readFile(file);
      return new Response(new Uint8Array(body), {
        headers: {
          'Content-Type': contentTypeFor(file),
          'Content-Security-Policy': csp,
          'X-Content-Type-Options': 'nosniff',
        },
      });
    } catch {
      return new Response('Not found', { status: 404 });
    }
  });
}

/** Makes the app the handler of portcullis:// links and hands every link it receives to `open`. */
export function handleLinks(open: (link: string) => void): void {
  app.setAsDefaultProtocolClient(linkScheme);
  app.on('open-url', (event, url) => {
    event.preventDefault();
    open(url);
  });
  app.on('second-instance', (_event, argv) => {
    const link = linkInArguments(argv);
    if (link) open(link);
  });
  const first = linkInArguments(process.argv);
  if (first)
    app.whenReady().then(
      () => open(first),
      () => undefined,
    );
}
