/**
 * Hub live events on SQLite: how long from an engineer's POST /v1/approvals (a held statement) until the
 * approver's Server-Sent Events stream delivers it, over ~200 approvals created one after another. A real
 * hub (startHub), real tokens from the development IdP, the typed client on both ends.
 *
 * Baseline, measured in the same run: the round trip of the POST itself (its answer reaching the
 * engineer), so the delivery figure reads as "this much beyond an ordinary request".
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Approval, HubEvent } from '../hub/api/types.ts';
import { parseHubConfig } from '../hub/config/hub-config.ts';
import { startDevIdp } from '../hub/dev-idp/index.ts';
import { startHub } from '../hub/server.ts';
import { createHubClient } from '../tunnel/hub-client/index.ts';
import { signIn } from '../test/support/hub-tokens.ts';
import { median, percentile, table } from './tools.ts';

const APPROVALS = 200;
const WARMUP = 10;
const AUDIENCE = 'portcullis-hub';

export async function benchHubEvents(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-bench-hub-events-'));
  const idp = await startDevIdp({ audience: AUDIENCE });
  const config = parseHubConfig(
    `identity: { issuer: ${idp.issuer}, audience: ${AUDIENCE} }
# One requester holds ${WARMUP + APPROVALS} statements back to back, nobody deciding: beyond the flood limits.
approvals: { per_session_per_minute: 1000, per_requester_per_minute: 1000, max_pending_per_requester: 1000 }
targets:
  - id: app-db
    kind: postgres
    address: 127.0.0.1:5432
    database: app
    tls: { sslmode: disable }
    credentials: { user: app, password_env: BENCH_APP_PASSWORD }
    access: [engineering]
    approvers: [managers]
`,
    path.join(dir, 'hub.yaml'),
  );
  const hub = await startHub({
    config,
    database: path.join(dir, 'hub.db'),
    env: { BENCH_APP_PASSWORD: 'bench' },
  });
  const controller = new AbortController();
  try {
    const [priya, elena] = await Promise.all([signIn(idp, 'priya'), signIn(idp, 'elena')]);
    const engineer = createHubClient({ url: hub.url, token: () => priya.accessToken });
    const approver = createHubClient({ url: hub.url, token: () => elena.accessToken });
    const { sessionId } = await engineer.openSession('app-db');
    // The hub takes held statements only from a connection it authenticated.
    await engineer.prove(sessionId, { method: 'postgres-md5', connection: 1, salt: 'AAAAAA==' });

    // The approver listens; each delivery settles the waiter for that approval id.
    const waiting = new Map<string, (at: number) => void>();
    const early = new Map<string, number>();
    let opened!: () => void;
    const open = new Promise<void>((resolve) => (opened = resolve));
    const listening = (async () => {
      for await (const event of approver.events({ signal: controller.signal, onOpen: () => opened() })) {
        const at = performance.now();
        const id = approvalId(event);
        if (!id) continue;
        const settle = waiting.get(id);
        if (settle) settle(at);
        else early.set(id, at);
      }
    })();
    await open;

    const delivery: number[] = [];
    const roundTrip: number[] = [];
    for (let i = 0; i < WARMUP + APPROVALS; i++) {
      const started = performance.now();
      const created: Approval = await engineer.holdStatement({
        sessionId,
        connection: 1,
        sql: `update orders set status = 'refunded' where id = ${i}`,
        classes: ['write'],
        rule: 'writes need approval',
      });
      const answered = performance.now();
      const deliveredAt =
        early.get(created.id) ??
        (await new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`approval ${created.id} never arrived`)), 10_000);
          waiting.set(created.id, (at) => {
            clearTimeout(timer);
            resolve(at);
          });
        }));
      waiting.delete(created.id);
      early.delete(created.id);
      if (i < WARMUP) continue;
      roundTrip.push(answered - started);
      delivery.push(deliveredAt - started);
    }
    controller.abort();
    await listening;

    const ms = (value: number): string => value.toFixed(2);
    console.log(
      `\nhub events (SQLite): ${APPROVALS} held statements, POST /v1/approvals → approver's SSE stream\n`,
    );
    console.log(
      table(
        ['measure', 'p50 ms', 'p99 ms', 'max ms'],
        [
          [
            'POST round trip (baseline)',
            ms(median(roundTrip)),
            ms(percentile(roundTrip, 99)),
            ms(Math.max(...roundTrip)),
          ],
          [
            'created → delivered over SSE',
            ms(median(delivery)),
            ms(percentile(delivery, 99)),
            ms(Math.max(...delivery)),
          ],
        ],
      ),
    );
    console.log(
      `\ndelivery p50 / POST round trip p50 = ${(median(delivery) / median(roundTrip)).toFixed(2)}×`,
    );
  } finally {
    controller.abort();
    await hub.close();
    await idp.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function approvalId(event: HubEvent): string | undefined {
  if (event.type !== 'approval.requested') return undefined;
  const approval = event.payload['approval'] as { id?: unknown } | undefined;
  return typeof approval?.id === 'string' ? approval.id : undefined;
}
