import { readFileSync } from 'node:fs';
import { isAlive } from '../../tunnel/manager/process-alive.ts';

/**
 * Whether process `pid` still runs. A process that has exited but was not yet collected by its parent (a
 * zombie: an orphan waits for init to reap it, which a loaded machine may do late) no longer runs, though
 * signal 0 (which `isAlive` asks) still finds it.
 */
export function stillRunning(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    // /proc/PID/stat: "pid (comm) state …"; comm may hold spaces and parentheses, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc here: signal 0 is all there is to go by
  }
}
