/**
 * `npm run bench [suite…]`: every benchmark prints its measurement next to a baseline measured in the
 * same run, as ratios, because these machines are shared and absolute numbers drift.
 */
import { benchClassifier } from './classifier.ts';
import { benchCliStartup } from './cli-startup.ts';
import { benchDesktopApp } from './desktop-app.ts';
import { benchDelegation } from './delegation.ts';
import { benchHeldStatement } from './held-statement.ts';
import { benchHubEvents } from './hub-events.ts';
import { benchHubIngestion } from './hub.ts';
import { benchMasking } from './masking.ts';
import { benchRecorder } from './recorder.ts';
import { benchPolicyTunnel } from './policy-tunnel.ts';
import { benchPostgresTunnel } from './postgres-tunnel.ts';
import { benchSshTunnel } from './ssh-tunnel.ts';
import { benchStatementStall } from './statement-stall.ts';
import { benchGuardCluster } from './guard-cluster.ts';
import { benchTunnelSyscalls } from './tunnel-syscalls.ts';
import buildCliIfStale from '../test/support/build-cli.ts';

const suites: Record<string, () => Promise<void>> = {
  'postgres-tunnel': benchPostgresTunnel,
  'guard-cluster': benchGuardCluster,
  'tunnel-syscalls': benchTunnelSyscalls,
  classifier: benchClassifier,
  masking: benchMasking,
  'policy-tunnel': benchPolicyTunnel,
  'hub-ingestion': benchHubIngestion,
  'hub-events': benchHubEvents,
  recorder: benchRecorder,
  'held-statement': benchHeldStatement,
  'cli-startup': benchCliStartup,
  'desktop-app': benchDesktopApp,
  delegation: benchDelegation,
  'ssh-tunnel': benchSshTunnel,
  'statement-stall': benchStatementStall,
};

const only = process.argv.slice(2);
const unknown = only.filter((name) => !(name in suites));
if (unknown.length > 0) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; choose from ${Object.keys(suites).join(', ')}`);
  process.exit(2);
}
// The suites run the CLI as a user does (dist/cli): measure the sources as they are, not an older build.
buildCliIfStale();
for (const [name, suite] of Object.entries(suites)) {
  if (only.length > 0 && !only.includes(name)) continue;
  await suite();
}
