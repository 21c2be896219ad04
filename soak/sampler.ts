/**
 * Watches a process from outside, once a second: resident memory and open file descriptors, read from
 * /proc. A soak passes on what these series do over time, not on one number.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface Sample {
  atMs: number;
  rssMiB: number;
  fds: number;
}

export function sampleProcess(pid: number, startedAt: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { atMs: Date.now() - startedAt, rssMiB: rssKb / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}

export interface Sampler {
  samples: Sample[];
  /** Takes one sample now (between phases) and returns it. */
  now(): Sample;
  stop(): void;
}

export function startSampler(pid: number, everyMs = 1000): Sampler {
  const startedAt = Date.now();
  const samples: Sample[] = [];
  const take = (): Sample => {
    const sample = sampleProcess(pid, startedAt);
    samples.push(sample);
    return sample;
  };
  take();
  const timer = setInterval(() => {
    try {
      take();
    } catch {
      // The process has exited: the run reports it as a crash.
    }
  }, everyMs);
  return { samples, now: take, stop: () => clearInterval(timer) };
}

/** Peak, and the mean of the first and last quarter of a window: flat when the two quarters agree. */
export function trend(
  samples: Sample[],
  field: 'rssMiB' | 'fds',
): { peak: number; early: number; late: number } {
  const values = samples.map((s) => s[field]);
  const quarter = Math.max(1, Math.floor(values.length / 4));
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return {
    peak: Math.max(...values),
    early: mean(values.slice(0, quarter)),
    late: mean(values.slice(-quarter)),
  };
}
