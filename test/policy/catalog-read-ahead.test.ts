/**
 * The classifier's view of the database catalog is never older than CATALOG_TTL_MS, and statements
 * that keep coming do not stop for it: it is read again in the background before it runs out.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadClassifier } from '../../tunnel/policy/classifier.ts';
import type { Decision, StatementContext } from '../../tunnel/policy/decision-point.ts';
import { CATALOG_TTL_MS, PolicyEngine } from '../../tunnel/policy/engine.ts';
import { presetPolicy } from '../../tunnel/policy/policy.ts';
import { ROUTINE_FINGERPRINT_QUERY } from '../../tunnel/policy/routine-catalog-reader.ts';

beforeAll(async () => {
  await loadClassifier();
});

afterEach(() => {
  vi.useRealTimers();
});

const SELECT: StatementContext = {
  route: { kind: 'query', sql: 'SELECT 1' },
  transactionStatus: 'I',
  startsBatch: true,
};

/** A side connection that answers every catalog query with no rows, each fingerprint read when let go. */
function sideConnection() {
  const fingerprintReads: (() => void)[] = [];
  const runner = {
    query(sql: string): Promise<(string | null)[][]> {
      if (sql !== ROUTINE_FINGERPRINT_QUERY) return Promise.resolve([]);
      return new Promise((resolve) => fingerprintReads.push(() => resolve([['catalog-1']])));
    },
    describe: () => Promise.resolve(null),
  };
  return { get: () => Promise.resolve(runner), fingerprintReads };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

describe('the catalog the classifier reads', () => {
  it('is read again before it runs out while statements flow, so they need not wait for it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.now();
    const side = sideConnection();
    const engine = new PolicyEngine(presetPolicy('guarded'), { sideConnection: side.get });
    const session = engine.openSession({ connectionId: 's1', hooks: { notice: () => {}, record: () => {} } });

    // The first statement waits for the first read.
    const first = session.decide(SELECT);
    expect(first).toBeInstanceOf(Promise);
    await settle();
    side.fingerprintReads.shift()!();
    expect(await first).toMatchObject({ action: 'allow' });

    // Most of the TTL later: decided at once, and the next read starts in the background.
    vi.setSystemTime(start + CATALOG_TTL_MS * 0.8);
    expect(session.decide(SELECT)).not.toBeInstanceOf(Promise);
    await settle();
    expect(side.fingerprintReads).toHaveLength(1);
    side.fingerprintReads.shift()!();
    await settle();

    // Past the first read's TTL, within the second's: still decided at once.
    vi.setSystemTime(start + CATALOG_TTL_MS * 1.2);
    const decision = session.decide(SELECT) as Decision;
    expect(decision).not.toBeInstanceOf(Promise);
    expect(decision).toMatchObject({ action: 'allow' });
  });

  it('makes statements wait once it is older than the TTL and the read ahead has not come back', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.now();
    const side = sideConnection();
    const engine = new PolicyEngine(presetPolicy('guarded'), { sideConnection: side.get });
    const session = engine.openSession({ connectionId: 's1', hooks: { notice: () => {}, record: () => {} } });
    const first = session.decide(SELECT);
    await settle();
    side.fingerprintReads.shift()!();
    await first;

    vi.setSystemTime(start + CATALOG_TTL_MS * 0.8);
    session.decide(SELECT);
    await settle();
    expect(side.fingerprintReads).toHaveLength(1);

    // The read ahead is still out when the TTL runs out: the statement waits for it, no new read starts.
    vi.setSystemTime(start + CATALOG_TTL_MS * 1.1);
    const waiting = session.decide(SELECT);
    expect(waiting).toBeInstanceOf(Promise);
    await settle();
    expect(side.fingerprintReads).toHaveLength(1);
    side.fingerprintReads.shift()!();
    expect(await waiting).toMatchObject({ action: 'allow' });
  });
});
