/**
 * openBrowser implementations for the CLI: the platform's URL opener, or a JSON line for `--no-browser`
 * (a person copies the URL, or a wrapper script drives it). The desktop app passes shell.openExternal.
 */
import { spawn } from 'node:child_process';

export interface BrowserCommand {
  command: string;
  args: string[];
}

/**
 * How to open `url` on `platform`: `open` on macOS, `xdg-open` on Linux and the BSDs, and on Windows
 * rundll32's FileProtocolHandler (not `cmd /c start`, which would interpret the `&` in the query string).
 */
export function browserCommand(url: string, platform: NodeJS.Platform = process.platform): BrowserCommand {
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new TypeError(`refusing to open a ${parsed.protocol} URL in the browser`);
  }
  if (platform === 'darwin') return { command: 'open', args: [parsed.href] };
  if (platform === 'win32')
    return { command: 'rundll32', args: ['url.dll,FileProtocolHandler', parsed.href] };
  return { command: 'xdg-open', args: [parsed.href] };
}

/** Opens `url` in the system browser; rejects when the opener cannot be started (e.g. no xdg-open). */
export function openSystemBrowser(url: string): Promise<void> {
  const { command, args } = browserCommand(url);
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore', detached: true, windowsHide: true });
    child.once('error', reject);
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
}

/** For `--no-browser`: writes `{"event":"authorize","url":"…"}` and a newline. */
export function printAuthorizationUrl(
  write: (line: string) => void = (line) => process.stdout.write(line),
): (url: string) => void {
  return (url) => write(`${JSON.stringify({ event: 'authorize', url })}\n`);
}
