/**
 * `npm run bench`: every benchmark prints its measurement next to a baseline measured in the same run,
 * as ratios, because these machines are shared and absolute numbers drift.
 */
import { benchPostgresTunnel } from './postgres-tunnel.ts';

const suites: Record<string, () => Promise<void>> = {
  'postgres-tunnel': benchPostgresTunnel,
};

const only = process.argv.slice(2);
for (const [name, suite] of Object.entries(suites)) {
  if (only.length > 0 && !only.includes(name)) continue;
  await suite();
}
