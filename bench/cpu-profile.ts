/**
 * Summarises V8 CPU profiles (`node --cpu-prof`): the functions with the most self time, as a table.
 * `npx tsx bench/cpu-profile.ts FILE|DIR [N]` prints the top N of each profile.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { table } from './tools.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time in µs by function (name, file, line), highest first, and the total sampled. */
export function selfTimes(profile: CpuProfile): { total: number; items: { name: string; us: number }[] } {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const byFunction = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    const frame = byNode.get(id)?.callFrame;
    if (!frame) return;
    total += delta;
    const file = frame.url ? ` ${path.basename(frame.url)}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName || '(anonymous)'}${file}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + delta);
  });
  const items = [...byFunction].map(([name, us]) => ({ name, us })).sort((a, b) => b.us - a.us);
  return { total, items };
}

export function profileTable(profile: CpuProfile, top = 25): string {
  const { total, items } = selfTimes(profile);
  const busy = items.filter((i) => !i.name.startsWith('(idle)')).reduce((sum, i) => sum + i.us, 0);
  return (
    `sampled ${(total / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s\n\n` +
    table(
      ['self ms', '% busy', 'function'],
      items
        .filter((i) => !i.name.startsWith('(idle)'))
        .slice(0, top)
        .map((i) => [(i.us / 1000).toFixed(0), ((i.us / busy) * 100).toFixed(1), i.name]),
    )
  );
}

/** Every .cpuprofile in `dir`, each with its top items. */
export async function summariseCpuProfiles(dir: string, top = 25): Promise<string> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).sort();
  const parts = [];
  for (const file of files) {
    const profile = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as CpuProfile;
    parts.push(`CPU profile ${file}: top ${top} by self time\n\n${profileTable(profile, top)}`);
  }
  return parts.join('\n\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const target = process.argv[2];
  if (!target) {
    console.error('usage: tsx bench/cpu-profile.ts FILE.cpuprofile|DIR [TOP]');
    process.exit(2);
  }
  const top = Number(process.argv[3] ?? 25);
  if ((await stat(target)).isDirectory()) console.log(await summariseCpuProfiles(target, top));
  else console.log(profileTable(JSON.parse(await readFile(target, 'utf8')) as CpuProfile, top));
}
