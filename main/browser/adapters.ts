/**
 * The services' ports for the browser preview, where there is no Electron: notifications and the tray
 * become lines in the terminal (with the page address they lead to), the clipboard and the system browser
 * are the OS's own commands where installed, exports are saved to Downloads, preferences are a JSON file,
 * and secrets stay in memory (there is no keychain to seal them with, so nothing is written in clear).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Destination } from '../../preload/api.ts';
import { writePrivateFile } from '../../tunnel/identity/private-file.ts';
import type { Encryption } from '../services/encrypted-store.ts';
import { AppError } from '../services/errors.ts';
import type {
  Browser,
  Clipboard,
  Dialogs,
  Notifier,
  PreferencesStore,
  SystemSettings,
  Tray,
} from '../services/ports.ts';

type Log = (line: string) => void;

/** A command and its arguments, tried in order until one exists on PATH. */
export type CommandChoice = readonly [string, ...string[]];

export function onPath(command: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (path.isAbsolute(command)) return existsSync(command);
  const extensions = process.platform === 'win32' ? ['.exe', '.cmd', ''] : [''];
  return (env.PATH ?? '')
    .split(path.delimiter)
    .some((dir) => dir !== '' && extensions.some((ext) => existsSync(path.join(dir, command + ext))));
}

const clipboardCommands: readonly CommandChoice[] = [
  ['pbcopy'],
  ['wl-copy'],
  ['xclip', '-selection', 'clipboard'],
  ['xsel', '--clipboard', '--input'],
  ['clip'],
];

export function commandClipboard(commands = clipboardCommands, env = process.env): Clipboard {
  return {
    writeText(text) {
      const command = commands.find(([name]) => onPath(name, env));
      if (!command) {
        throw new AppError(
          'failed',
          'There is no clipboard here (install wl-copy, xclip or xsel, or run the desktop app); choose Show password and copy from the page.',
        );
      }
      const [name, ...args] = command;
      const run = spawnSync(name, args, {
        input: text,
        env,
        timeout: 5000,
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      if (run.status !== 0) throw new AppError('failed', `Copying with ${name} failed.`);
    },
  };
}

const openers: readonly CommandChoice[] = [['open'], ['xdg-open']];

/** The system browser where one can be started; otherwise the address is printed for the person to open. */
export function commandBrowser(log: Log, commands = openers, env = process.env): Browser {
  return {
    async open(url) {
      const parsed = new URL(url);
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error('not a web address');
      log(`sign in at ${parsed.href}`);
      const command = commands.find(([name]) => onPath(name, env));
      if (!command) return;
      const [name, ...args] = command;
      spawn(name, [...args, parsed.href], { env, stdio: 'ignore', detached: true })
        .on('error', () => undefined)
        .unref();
    },
  };
}

/** Exports go to the Downloads folder (or the home directory), never over an existing file. */
export function downloadsDialogs(home = os.homedir()): Dialogs {
  return {
    async chooseSaveFile(defaultName) {
      const downloads = path.join(home, 'Downloads');
      const dir = existsSync(downloads) ? downloads : home;
      const { name, ext } = path.parse(path.basename(defaultName));
      let file = path.join(dir, `${name}${ext}`);
      for (let n = 2; existsSync(file); n++) file = path.join(dir, `${name} (${n})${ext}`);
      return file;
    },
  };
}

/** Preferences in an owner-only JSON file, written in order (the last write wins). */
export function jsonPreferences(file: string, log: Log): PreferencesStore & { flushed(): Promise<void> } {
  let writing = Promise.resolve();
  return {
    read() {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as unknown;
      } catch {
        return undefined;
      }
    },
    write(value) {
      const text = `${JSON.stringify(value, null, 2)}\n`;
      writing = writing
        .then(() => writePrivateFile(file, text))
        .catch((error: Error) => log(`saving the preferences: ${error.message}`));
    },
    flushed: () => writing,
  };
}

/** Notifications as terminal lines, with the page that opens what they are about. */
export function terminalNotifier(log: Log, pageOf: (destination: Destination) => string): Notifier {
  return {
    show(model) {
      log(
        `🔔 ${model.title}${model.body ? ` — ${model.body.replace(/\s*\n\s*/g, ' ')}` : ''} (${pageOf(model.opens)})`,
      );
    },
    close: () => undefined,
  };
}

/** The tray's badge as a terminal line when it changes. */
export function terminalTray(log: Log): Tray {
  let badge = 0;
  return {
    update(model) {
      if (model.badge !== badge && model.badge > 0) log(`${model.badge} waiting for your decision`);
      badge = model.badge;
    },
  };
}

export const noKeychain: Encryption = {
  isAvailable: () => false,
  encrypt: () => {
    throw new Error('no keychain in the browser preview');
  },
  decrypt: () => {
    throw new Error('no keychain in the browser preview');
  },
};

export function unsupportedSystemSettings(log: Log): SystemSettings {
  return {
    setStartAtLogin: (enabled) => {
      if (enabled) log('starting at login needs the desktop app; the preview ignores it');
    },
  };
}
