/**
 * `npm start` starts the demo and the app as children; killed with SIGKILL it cannot stop them, so they
 * stop themselves once it is gone (tunnel/runtime/parent-process.ts) — and only when asked to.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PARENT_PID_ENV } from '../../tunnel/runtime/parent-process.ts';
import { stillRunning } from '../support/process-state.ts';
import { until } from '../support/waiting.ts';

const child = path.join(import.meta.dirname, 'fixtures', 'supervised-child.ts');

/** A supervisor that starts the child (with its own pid in the environment when `named`) and relays its output. */
function supervisor(named: boolean) {
  const script = `
    const { spawn } = require('node:child_process');
    const env = { ...process.env };
    if (${named}) env.${PARENT_PID_ENV} = String(process.pid);
    const c = spawn(process.execPath, ['--import', 'tsx', ${JSON.stringify(child)}], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    process.stdout.write('child ' + c.pid + '\\n');
    c.stdout.pipe(process.stdout);
    setInterval(() => {}, 1000);`;
  const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  parent.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { parent, output: () => output };
}

describe('stopWhenParentExits', () => {
  it('stops the child through its own SIGTERM handler once its supervisor is killed with SIGKILL', async () => {
    const { parent, output } = supervisor(true);
    await until(
      'the child to watch its parent',
      () => (output().includes('ready') ? true : undefined),
      30_000,
    );
    const pid = Number(/child (\d+)/.exec(output())![1]);
    parent.kill('SIGKILL');
    await once(parent, 'exit');
    await until('the child to stop', () => (stillRunning(pid) ? undefined : true), 30_000);
  }, 60_000);

  it('leaves a child alone whose supervisor did not ask for it', async () => {
    const { parent, output } = supervisor(false);
    await until('the child to start', () => (output().includes('ready') ? true : undefined), 30_000);
    const pid = Number(/child (\d+)/.exec(output())![1]);
    parent.kill('SIGKILL');
    await once(parent, 'exit');
    await new Promise((resolve) => setTimeout(resolve, 500));
    try {
      expect(stillRunning(pid)).toBe(true);
    } finally {
      process.kill(pid, 'SIGKILL');
    }
  }, 60_000);
});
