/**
 * A process started by a supervisor (`npm start` starts the demo and the app) must not outlive it: a
 * supervisor killed with SIGKILL cannot stop its children, and a demo left behind holds its PostgreSQL and
 * its ports. The supervisor names itself in PORTCULLIS_PARENT_PID; the child then stops itself, through its
 * own SIGTERM handling, once its parent is gone (Linux and macOS re-parent an orphan, so its ppid changes).
 */
export const PARENT_PID_ENV = 'PORTCULLIS_PARENT_PID';

/** Sends this process SIGTERM once the parent named in PORTCULLIS_PARENT_PID has exited; a no-op without it. */
export function stopWhenParentExits(
  env: NodeJS.ProcessEnv = process.env,
  checkEveryMs = 500,
): { cancel(): void } {
  const parent = Number(env[PARENT_PID_ENV]);
  if (!Number.isInteger(parent) || parent <= 0) return { cancel: () => {} };
  const check = (): void => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  };
  const timer = setInterval(check, checkEveryMs);
  timer.unref();
  check();
  return { cancel: () => clearInterval(timer) };
}
