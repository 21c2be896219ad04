/**
 * The held-statement round trip, excluding human time: an UPDATE sent through the tunnel under the `guarded`
 * preset is held, becomes a command approval at the hub, the approver is notified over the hub's live event
 * stream, decides at once, and the statement resumes and returns its result.
 *
 * Everything is the real thing: embedded Postgres; a hub (startHub, SQLite, temp dir) with the development
 * IdP; the tunnel's side signed in as the demo agent by client credentials (the account's authenticated hub
 * client) and set up from what `openSession` answers (connection material, policy, hold timeout); a
 * PostgresTunnel whose PolicyEngine holds writes through the HubApprover (hold, then long-poll); a requester
 * on node-postgres running 100 UPDATEs one after another; and an "approver bot" signed in as elena (group
 * managers, the target's approvers) that approves every `approval.requested` from its `events()` stream.
 *
 * Baseline, measured in the same run: the same UPDATEs through a tunnel set up the same way from a second
 * target whose policy is `observe` (writes pass, recorded as "would have held"), so the difference is the
 * hold machinery. Target: p50 ≤ 100 ms. The hub, the IdP, the tunnel and both clients share this process's
 * event loop.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { HubEvent, OpenedSession } from '../hub/api/types.ts';
import { parseHubConfig } from '../hub/config/hub-config.ts';
import { DEMO_AGENT, DEMO_USERS, startDevIdp } from '../hub/dev-idp/index.ts';
import { startHub } from '../hub/server.ts';
import { signIn } from '../test/support/hub-tokens.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { authenticatedHubClient } from '../tunnel/account/account.ts';
import { createHubClient, type HubClient } from '../tunnel/hub-client/index.ts';
import { clientCredentialsLogin } from '../tunnel/identity/index.ts';
import { HubApprover } from '../tunnel/manager/hub-approver.ts';
import { hubProver } from '../tunnel/manager/hub-prover.ts';
import { upstreamFromMaterial } from '../tunnel/manager/session-material.ts';
import { loadClassifier } from '../tunnel/policy/classifier.ts';
import { PolicyEngine } from '../tunnel/policy/engine.ts';
import { presetPolicy } from '../tunnel/policy/policy.ts';
import { sharedSideConnection } from '../tunnel/postgres/side-connection.ts';
import { PostgresTunnel } from '../tunnel/postgres/tunnel.ts';
import { delegatedCredentials } from '../tunnel/postgres/upstream-credentials.ts';
import { median, percentile, table } from './tools.ts';

const STATEMENTS = 100;
const WARMUP = 10;
const TARGET_P50_MS = 100;
const AUDIENCE = 'portcullis-hub';

/** A tunnel set up from the hub's answer to openSession, as the connected app does it. */
async function tunnelFor(hub: HubClient, targetId: string) {
  const opened: OpenedSession = await hub.openSession(targetId);
  const { policy: spec } = opened;
  if (spec.kind !== 'preset') throw new Error(`expected a preset policy, got ${spec.kind}`);
  const upstream = upstreamFromMaterial(opened);
  const credentials = (purpose: 'client' | 'catalog') =>
    delegatedCredentials(hubProver({ hub, sessionId: opened.sessionId, purpose, connection: () => 1 }));
  const side = sharedSideConnection(upstream, () => credentials('catalog'));
  const approver = new HubApprover(hub, {
    sessionId: opened.sessionId,
    connection: () => 1,
    timeoutSeconds: opened.holdTimeoutSeconds,
  });
  const policy = { ...presetPolicy(spec.name), holdTimeoutMs: opened.holdTimeoutSeconds * 1000 };
  const tunnel = new PostgresTunnel({
    upstream,
    upstreamCredentials: () => credentials('client'),
    decisions: new PolicyEngine(policy, { approver, sideConnection: side.get }),
  });
  const endpoint = await tunnel.listen();
  return {
    sessionId: opened.sessionId,
    endpoint,
    async close() {
      await tunnel.close();
      side.close();
    },
  };
}

interface Timings {
  /** Sent → the statement's result. */
  total: number[];
  /** Sent → the tunnel's "waiting for approval" notice (the hub holds it). */
  held: number[];
  /** Sent → the approver's event stream delivered approval.requested. */
  notified: number[];
  /** Sent → the approver's decision answered by the hub. */
  decided: number[];
}

/** The approver bot's view of one approval. */
interface Seen {
  notifiedAt: number;
  decided: Promise<number>;
}

export async function benchHeldStatement(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-bench-held-'));
  await loadClassifier();
  const server = await startPostgres();
  const idp = await startDevIdp({ audience: AUDIENCE });
  const controller = new AbortController();
  const closers: (() => Promise<void>)[] = [];
  try {
    const setup = await server.connect();
    await setup.query(`CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL);
      INSERT INTO orders SELECT g, 'open' FROM generate_series(1, 1000) g`);
    await setup.end();

    const target = (id: string, policy: string): string => `  - id: ${id}
    kind: postgres
    address: ${server.host}:${server.port}
    database: ${server.database}
    tls: { sslmode: disable }
    credentials: { user: ${server.user}, password_env: BENCH_PG_PASSWORD }
    policy: ${policy}
    access: [agents]
    approvers: [managers]
`;
    const config = parseHubConfig(
      `identity: { issuer: ${idp.issuer}, audience: ${AUDIENCE} }
# ${STATEMENTS + WARMUP} held statements in a row from one session: beyond the default flood limits.
approvals: { per_session_per_minute: 1000, per_requester_per_minute: 1000, max_pending_per_requester: 1000 }
targets:
${target('app-db', 'guarded')}${target('app-db-observed', 'observe')}`,
      path.join(dir, 'hub.yaml'),
    );
    const hub = await startHub({
      config,
      database: path.join(dir, 'hub.db'),
      env: { BENCH_PG_PASSWORD: server.password },
    });
    closers.push(() => hub.close());

    // The tunnel's side: the agent, signed in by client credentials.
    const tokens = await clientCredentialsLogin({
      issuer: idp.issuer,
      clientId: DEMO_AGENT.clientId,
      clientSecret: DEMO_AGENT.clientSecret,
      env: {},
    });
    const agentHub = authenticatedHubClient(hub.url, tokens);
    const guarded = await tunnelFor(agentHub, 'app-db');
    closers.unshift(() => guarded.close());
    const observed = await tunnelFor(agentHub, 'app-db-observed');
    closers.unshift(() => observed.close());

    // The approver bot: elena approves whatever her event stream announces, as soon as it arrives.
    const elena = await signIn(idp, 'elena');
    const elenaName = DEMO_USERS.find((u) => u.username === 'elena')!.name;
    const approverHub = createHubClient({ url: hub.url, token: () => elena.accessToken });
    const seen = new Map<string, Seen>();
    const botErrors: string[] = [];
    let opened!: () => void;
    const open = new Promise<void>((resolve) => (opened = resolve));
    const bot = (async () => {
      for await (const event of approverHub.events({ signal: controller.signal, onOpen: () => opened() })) {
        const notifiedAt = performance.now();
        const id = approvalId(event);
        if (!id) continue;
        const decided = approverHub.decideApproval(id, { approve: true }).then(
          () => performance.now(),
          (error: Error) => {
            botErrors.push(`${id}: ${error.message}`);
            return NaN;
          },
        );
        seen.set(id, { notifiedAt, decided });
      }
    })();
    await open;

    const run = async (url: string, held: boolean): Promise<Timings> => {
      const client = new pg.Client({ connectionString: url });
      /** The tunnel's "waiting for approval" notices for the statement under way. */
      const holds: { id: string; at: number }[] = [];
      client.on('notice', (notice) => {
        const match = /waiting for approval: request (\S+)/.exec(notice.message ?? '');
        if (match) holds.push({ id: match[1]!, at: performance.now() });
      });
      await client.connect();
      const timings: Timings = { total: [], held: [], notified: [], decided: [] };
      try {
        for (let i = 0; i < WARMUP + STATEMENTS; i++) {
          holds.length = 0;
          const sent = performance.now();
          const result = await client.query(
            `update orders set status = 'refunded' where id = ${(i % 1000) + 1}`,
          );
          const done = performance.now();
          if (result.rowCount !== 1) throw new Error(`update ${i} changed ${result.rowCount} rows`);
          const hold = holds[0];
          if (held !== (hold !== undefined) || holds.length > 1) {
            throw new Error(
              `update ${i} was held ${holds.length} times under ${held ? 'guarded' : 'observe'}`,
            );
          }
          if (i < WARMUP) continue;
          timings.total.push(done - sent);
          if (hold) {
            const approval = seen.get(hold.id);
            if (!approval) throw new Error(`the approver never saw request ${hold.id}`);
            timings.held.push(hold.at - sent);
            timings.notified.push(approval.notifiedAt - sent);
            timings.decided.push((await approval.decided) - sent);
          }
        }
      } finally {
        await client.end();
      }
      return timings;
    };

    const baseline = await run(observed.endpoint.url, false);
    const held = await run(guarded.endpoint.url, true);
    controller.abort();
    await bot;
    if (botErrors.length > 0) throw new Error(`the approver bot failed: ${botErrors.slice(0, 3).join('; ')}`);

    // The hub's side of it: every hold decided, approved by elena.
    const approvals = await agentHub.approvals('mine', { limit: 1000 });
    const approved = approvals.filter(
      (a) => a.sessionId === guarded.sessionId && a.state === 'approved' && a.decidedBy?.name === elenaName,
    ).length;
    if (approved !== WARMUP + STATEMENTS) {
      throw new Error(`the hub has ${approved} approved holds, expected ${WARMUP + STATEMENTS}`);
    }

    const ms = (value: number): string => value.toFixed(1);
    const row = (name: string, values: number[]): string[] => [
      name,
      ms(median(values)),
      ms(percentile(values, 95)),
      ms(percentile(values, 99)),
      ms(Math.max(...values)),
    ];
    console.log(
      `\nheld statement round trip: ${STATEMENTS} UPDATEs one after another (after ${WARMUP} warm-up), approver bot deciding at once\n`,
    );
    console.log(
      table(
        ['measure (from sending the UPDATE)', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'],
        [
          row('observe: UPDATE → result (baseline)', baseline.total),
          row('guarded: held at the hub (notice to client)', held.held),
          row('guarded: approver notified (SSE)', held.notified),
          row('guarded: decision acknowledged by the hub', held.decided),
          row('guarded: UPDATE → result (round trip)', held.total),
        ],
      ),
    );
    const p50 = median(held.total);
    console.log(
      `\nround trip p50 ${ms(p50)} ms = ${(p50 / median(baseline.total)).toFixed(1)}× the observe baseline (+${ms(p50 - median(baseline.total))} ms); ${approved} holds approved at the hub`,
    );
    const verdict = p50 <= TARGET_P50_MS ? 'meets' : 'MISSES';
    console.log(`${verdict} the target of p50 ≤ ${TARGET_P50_MS} ms`);
  } finally {
    controller.abort();
    for (const close of closers) await close().catch(() => undefined);
    await idp.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function approvalId(event: HubEvent): string | undefined {
  if (event.type !== 'approval.requested') return undefined;
  const approval = event.payload['approval'] as { id?: unknown } | undefined;
  return typeof approval?.id === 'string' ? approval.id : undefined;
}
