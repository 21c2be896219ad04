/**
 * `npm run soak [SCENARIO…]`: long runs that measure the product under hostile load and faults. Not part
 * of `npm test`. With no scenario, all of them, one after another:
 *
 * - `load`: 300 clients, protocol fuzzers and misbehaving clients at one guarded, recording tunnel;
 * - `hub-outage`: the hub down for 2 minutes during 10,000 recorded events, then SIGKILLed mid-ingest;
 * - `fuzz`: a million generated and mutated frontend messages, before and after sign-in.
 *
 * Exits 1 when a scenario found a fault it checks for.
 */
import { runFuzzSoak } from './fuzz-soak.ts';
import { runHostileLoad } from './hostile-load.ts';
import { runHubOutageSoak } from './hub-outage-soak.ts';

const SCENARIOS: Record<string, () => Promise<boolean | void>> = {
  load: runHostileLoad,
  'hub-outage': runHubOutageSoak,
  fuzz: runFuzzSoak,
};

const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !(name in SCENARIOS));
if (unknown.length > 0) {
  console.error(
    `unknown soak scenario ${unknown.join(', ')}; choose from ${Object.keys(SCENARIOS).join(', ')}`,
  );
  process.exit(2);
}
let failed = false;
for (const name of asked.length > 0 ? asked : Object.keys(SCENARIOS)) {
  console.log(`\n== soak: ${name}`);
  if ((await SCENARIOS[name]!()) === false) failed = true;
}
process.exit(failed ? 1 : 0);
