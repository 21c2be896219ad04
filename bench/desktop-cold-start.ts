/**
 * One cold start of the desktop app's main-process services, in a process of its own (bench/desktop-app
 * bundles this file and runs it with plain node, as the packaged app runs its bundled main): restore the
 * saved sign-in and list the targets. Only the services and inert ports are loaded, as in the app (no
 * test harness). Prints the milliseconds since the process started, as JSON.
 *
 *   node cold-start.mjs HUB_URL HOME KEY_HEX
 */
import { DesktopServices } from '../main/services/desktop-services.ts';
import { homePathsIn } from '../tunnel/account/home.ts';
import { testEncryption } from '../test/support/test-encryption.ts';

// Module evaluation is over once this line runs (the bundle's imports are static).
const imported = performance.now();
const [hubUrl, home, keyHex] = process.argv.slice(2);
if (!hubUrl || !home || !keyHex) throw new Error('usage: cold-start HUB_URL HOME KEY_HEX');
const nothing = (): void => {};
const services = new DesktopServices(
  {
    sender: { send: nothing },
    notifier: { show: nothing, close: nothing },
    tray: { update: nothing },
    clipboard: { writeText: nothing },
    browser: { open: async () => {} },
    dialogs: { chooseSaveFile: async () => null },
    app: { show: nothing, quit: nothing },
    preferences: { read: () => undefined, write: nothing },
    system: { setStartAtLogin: nothing },
    encryption: testEncryption(true, Buffer.from(keyHex, 'hex')),
  },
  { home: homePathsIn(home), defaultHubUrl: hubUrl },
);
await services.start();
while (services.state.get('targets').status !== 'ready') await new Promise((r) => setTimeout(r, 2));
const ms = performance.now();
const targets = services.state.get('targets').items.length;
await services.quit();
console.log(JSON.stringify({ ms, imported, targets }));
process.exit(0);
