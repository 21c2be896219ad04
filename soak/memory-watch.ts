/**
 * Telling a leak from warm-up in a soak: the guard's RSS slope once warm, its RSS curve, and — with
 * SOAK_HEAP_DIR set — two V8 heap snapshots of the guard (taken through `--heapsnapshot-signal`, each after
 * a full GC), one when warm and one at the end, compared group by group.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { table } from '../bench/tools.ts';
import { groups, growth, total } from './heap-diff.ts';
import type { Sample } from './sampler.ts';

export interface HeapSnapshots {
  /** Node options that let SIGUSR2 write a heap snapshot into the directory. */
  nodeArgs: string[];
  /** Signals `pid` and resolves with the snapshot file once written. */
  take(pid: number): Promise<string>;
}

export function heapSnapshots(dir: string): HeapSnapshots {
  const files = (): Set<string> => new Set(readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot')));
  return {
    nodeArgs: ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`],
    async take(pid) {
      const before = files();
      process.kill(pid, 'SIGUSR2');
      // V8 writes the file while the process stands still; it is done when its size stops changing.
      let last = -1;
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const fresh = [...files()].find((f) => !before.has(f));
        if (!fresh) continue;
        const size = statSync(path.join(dir, fresh)).size;
        if (size > 0 && size === last) return path.join(dir, fresh);
        last = size;
      }
    },
  };
}

/** Least-squares slope of RSS in MiB per minute over the samples. */
export function rssSlope(samples: readonly Sample[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  const xs = samples.map((s) => s.atMs / 60_000);
  const ys = samples.map((s) => s.rssMiB);
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** RSS at ten points of the run, to see the curve's shape. */
export function rssCurve(samples: readonly Sample[]): string {
  const points = Array.from(
    { length: 11 },
    (_, i) => samples[Math.min(samples.length - 1, Math.round((i * (samples.length - 1)) / 10))]!,
  );
  return points.map((s) => `${(s.atMs / 1000).toFixed(0)} s ${s.rssMiB.toFixed(0)}`).join(' · ');
}

const kib = (bytes: number): string => (bytes / 1024).toFixed(0);

/** Prints what grew between the warm snapshot and the late one. */
export function printHeapGrowth(warm: string, late: string): void {
  const before = groups(warm);
  const after = groups(late);
  console.log(
    `heap (live objects after GC): ${kib(total(before))} KiB warm → ${kib(total(after))} KiB at the end; grew most:`,
  );
  console.log(
    table(
      ['group', 'KiB grown', 'count now', 'count grown'],
      growth(before, after).map((g) => [g.name.slice(0, 60), kib(g.bytes), g.count, g.countDelta]),
    ),
  );
}
