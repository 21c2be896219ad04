/**
 * Reads the memory of a process (a child of this one) as a debugger would, from /proc/PID/maps and
 * /proc/PID/mem: every readable mapping — the JavaScript heap, native buffers, TLS state, the stack — so a
 * test can say that a string is, or is not, anywhere in it. Linux only; needs the right to trace the
 * process (a parent may, unless kernel.yama.ptrace_scope forbids it).
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

const CHUNK = 16 * 1024 * 1024;

/** Why this process cannot read `pid`'s memory here, or undefined when it can. */
export function memoryUnreadable(pid: number): string | undefined {
  if (process.platform !== 'linux') return 'reading another process’s memory is done through /proc (Linux)';
  try {
    closeSync(openSync(`/proc/${pid}/mem`, 'r'));
    return undefined;
  } catch (error) {
    return `cannot open /proc/${pid}/mem (${(error as NodeJS.ErrnoException).code}): ptrace is restricted`;
  }
}

/** Which of `needles` occur in the process's readable memory, as UTF-8/Latin-1 or as UTF-16 (V8's two-byte strings). */
export function findInMemory(pid: number, needles: string[]): Set<string> {
  const patterns = needles.map((needle) => ({
    needle,
    bytes: [Buffer.from(needle, 'utf8'), Buffer.from(needle, 'utf16le')],
  }));
  const longest = Math.max(...patterns.flatMap((p) => p.bytes.map((b) => b.length)));
  const found = new Set<string>();
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    for (const [start, end] of readableRegions(pid)) {
      // Overlapping chunks: a needle straddling two reads is still seen.
      for (let at = start; at < end; at += CHUNK) {
        const length = Math.min(CHUNK + longest, end - at);
        const chunk = Buffer.alloc(length);
        let read = 0;
        try {
          read = readSync(fd, chunk, 0, length, at);
        } catch {
          break; // a mapping that went away or cannot be read (guard pages): the rest of it neither
        }
        const view = chunk.subarray(0, read);
        for (const { needle, bytes } of patterns) {
          if (bytes.some((b) => view.includes(b))) found.add(needle);
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return found;
}

function readableRegions(pid: number): [number, number][] {
  return readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .filter((line) => /^[0-9a-f]+-[0-9a-f]+ r/.test(line) && !line.includes('[vvar]'))
    .map((line) => {
      const [start, end] = line.split(' ')[0]!.split('-') as [string, string];
      return [parseInt(start, 16), parseInt(end, 16)];
    });
}
