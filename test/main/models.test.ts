/**
 * The small pure parts of the main-process services: what notifications and the tray say, links, the
 * connection strings, the state pushes, and the encrypted stores.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AccessRequest, Approval } from '../../hub/api/types.ts';
import { AppStateStore, initialState } from '../../main/services/app-state.ts';
import { connectionDetails } from '../../main/services/connection-details.ts';
import { destinationOf, linkInArguments } from '../../main/services/deep-link.ts';
import { EncryptedTokenStore, LocalSecrets } from '../../main/services/encrypted-store.ts';
import {
  accessRequestForApprover,
  estimateText,
  firstLine,
  heldStatementForApprover,
  myAccessChanged,
} from '../../main/services/notification-models.ts';
import { trayModel } from '../../main/services/tray-model.ts';
import type { PushContract } from '../../preload/api.ts';
import { testEncryption } from '../support/desktop.ts';

const approval: Approval = {
  id: 'a1',
  sessionId: 's1',
  targetId: 'shop-db',
  requester: { subject: 'priya', name: 'Priya Shah' },
  sql: "\n  UPDATE payments SET status = 'refunded'\n  WHERE created_at < now() - interval '1 day'",
  classes: ['write', 'read'],
  rule: 'policies/shop.yaml:5 (approve write on payments)',
  state: 'pending',
  createdAt: '2025-01-01T09:00:00.000Z',
  expiresAt: '2025-01-01T09:05:00.000Z',
  decidedAt: null,
  decidedBy: null,
  comment: null,
  decidedVia: null,
  context: { tables: ['payments'], writes: ['payments'], estimatedRows: 1203 },
  holds: 1,
};

describe('notification models', () => {
  it('says who wants to run what, where, and what it touches', () => {
    const model = heldStatementForApprover(approval);
    expect(model.title).toBe('Priya Shah wants to run a write on shop-db');
    expect(model.body).toBe(
      "UPDATE payments SET status = 'refunded'\n≈ 1,203 rows in payments · held by policies/shop.yaml:5 (approve write on payments)",
    );
    expect(model.actions).toEqual([
      { id: 'approve', label: 'Approve' },
      { id: 'deny', label: 'Deny' },
    ]);
    expect(model.opens).toEqual({ screen: 'approvals', kind: 'statement', id: 'a1' });
  });

  it('falls back to the tables when nothing was estimated, and says nothing of rows it does not know', () => {
    const model = heldStatementForApprover({
      ...approval,
      context: { tables: ['orders', 'payments'], writes: [], estimatedRows: null },
    });
    expect(model.body).toMatch(/\ntouches orders, payments · held by/);
    expect(heldStatementForApprover({ ...approval, context: null }).body).toMatch(/\nheld by/);
    expect(estimateText({ tables: ['t'], writes: [], estimatedRows: 1 })).toBe('≈ 1 row in t');
  });

  it('says how many identical statements one decision releases, when more than one waits', () => {
    expect(heldStatementForApprover({ ...approval, holds: 3 }).body).toMatch(
      / · 3 identical statements wait on this decision$/,
    );
    expect(heldStatementForApprover(approval).body).not.toMatch(/identical/);
  });

  it('cuts a long first line, and skips blank ones', () => {
    expect(firstLine(`\n\n  select ${'x, '.repeat(100)}1`)).toHaveLength(100);
    expect(firstLine('a\nb')).toBe('a');
  });

  it('asks for access with the duration and the reason; tells the requester what was decided', () => {
    const request: AccessRequest = {
      id: 'r1',
      targetId: 'shop-admin',
      requester: { subject: 'marcus', name: 'Marcus Reed' },
      reason: 'incident 4711',
      durationSeconds: 1800,
      state: 'pending',
      createdAt: '2025-01-01T03:00:00.000Z',
      decidedAt: null,
      expiresAt: null,
      minApprovals: 1,
      decisions: [],
      closedBy: null,
      closeComment: null,
    };
    expect(accessRequestForApprover(request)).toMatchObject({
      title: 'Marcus Reed asks for shop-admin for 30 min',
      body: 'incident 4711',
    });
    const denied = myAccessChanged(
      {
        ...request,
        state: 'denied',
        decisions: [
          {
            approver: { subject: 'elena', name: 'Elena Garcia' },
            approve: false,
            comment: 'use the replica',
            at: '',
            via: 'app',
          },
        ],
      },
      'decided',
    );
    expect(denied).toMatchObject({
      title: 'Access to shop-admin denied by Elena Garcia',
      body: 'use the replica',
    });
  });
});

describe('links', () => {
  it('maps portcullis:// links to destinations and ignores everything else', () => {
    expect(destinationOf('portcullis://approvals/abc-123')).toEqual({ screen: 'approvals', id: 'abc-123' });
    expect(destinationOf('portcullis://approvals/access/abc')).toEqual({
      screen: 'approvals',
      kind: 'access',
      id: 'abc',
    });
    expect(destinationOf('portcullis://approvals')).toEqual({ screen: 'approvals' });
    expect(destinationOf('portcullis://tunnels/shop-db')).toEqual({ screen: 'tunnel', targetId: 'shop-db' });
    expect(destinationOf('portcullis://sessions/s1')).toEqual({ screen: 'sessions', sessionId: 's1' });
    for (const bad of [
      'portcullis://approvals/a/b/c',
      'portcullis://approvals/x%2F..',
      'portcullis://approvals/../x',
      'portcullis://settings/delete-everything',
      'portcullis://approvals/<script>',
      'https://approvals/1',
      'not a link',
    ]) {
      expect(destinationOf(bad), bad).toBeNull();
    }
    expect(linkInArguments(['/usr/bin/portcullis', '--flag', 'portcullis://approvals/1'])).toBe(
      'portcullis://approvals/1',
    );
  });
});

describe('connection details', () => {
  const endpoint = {
    kind: 'postgres' as const,
    host: '127.0.0.1',
    port: 15432,
    listen: '127.0.0.1:15432',
    user: 'shop app',
    password: 'p@ss/word',
    database: 'shop',
    url: '',
  };
  it('masks the password for showing and encodes it for copying', () => {
    expect(connectionDetails(endpoint, false)).toEqual({
      host: '127.0.0.1',
      port: 15432,
      user: 'shop app',
      database: 'shop',
      password: '••••••••',
      psql: 'psql "postgresql://shop%20app:••••••••@127.0.0.1:15432/shop?sslmode=disable"',
      uri: 'postgresql://shop%20app:••••••••@127.0.0.1:15432/shop?sslmode=disable',
      jdbc: 'jdbc:postgresql://127.0.0.1:15432/shop?user=shop%20app&password=••••••••&sslmode=disable',
    });
    const real = connectionDetails(endpoint, true);
    expect(real.uri).toBe('postgresql://shop%20app:p%40ss%2Fword@127.0.0.1:15432/shop?sslmode=disable');
    expect(real.password).toBe('p@ss/word');
    expect(new URL(real.uri).password).toBe('p%40ss%2Fword');
  });
});

describe('the state store', () => {
  it('sends the changes of one turn as one patch, and nothing for a value set to what it was', async () => {
    const sent: PushContract['push:state'][] = [];
    const store = new AppStateStore(initialState('http://hub'), {
      send: (_channel, message) => sent.push(message as PushContract['push:state']),
    });
    store.set('tunnels', []);
    expect(sent).toEqual([]);
    store.set('targets', { status: 'loading', items: [], error: null });
    store.set('approvals', { status: 'ready', error: null, waiting: [], mine: [] });
    await Promise.resolve();
    expect(sent).toEqual([
      {
        kind: 'patch',
        patch: {
          targets: { status: 'loading', items: [], error: null },
          approvals: { status: 'ready', error: null, waiting: [], mine: [] },
        },
      },
    ]);
  });
});

describe('the tray', () => {
  it('lists open tunnels with their ports and counts what waits', () => {
    const state = initialState('http://hub');
    state.account = {
      state: 'signed-in',
      hubUrl: 'http://hub',
      me: { subject: 'e', name: 'Elena Garcia', groups: [], admin: false, auditor: false },
    };
    state.approvals.waiting = [
      { kind: 'statement', ...approval, decidedBy: null, context: null, classes: ['write'] } as never,
    ];
    const model = trayModel(state);
    expect(model.badge).toBe(1);
    expect(model.tooltip).toBe('Portcullis — 0 tunnels open, 1 waiting for you');
    expect(model.items.map((i) => i.label)).toEqual([
      'Signed in as Elena Garcia',
      'No tunnels open',
      '1 waiting for your approval',
      'Open Portcullis',
      'Quit',
    ]);
  });
});

describe('encrypted stores', () => {
  const tokens = {
    issuer: 'http://idp',
    clientId: 'portcullis-desktop',
    tokens: { accessToken: 'at-123', refreshToken: 'rt-456', expiresAt: 1, subject: 's', name: 'n' },
  };

  it('keeps tokens encrypted on disk, and reads them back', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-sealed-'));
    const encryption = testEncryption();
    const store = new EncryptedTokenStore(path.join(dir, 'tokens.sealed'), encryption);
    expect(await store.load()).toBeUndefined();
    await store.save(tokens);
    const raw = await readFile(path.join(dir, 'tokens.sealed'), 'utf8');
    expect(raw).not.toContain('rt-456');
    expect(await new EncryptedTokenStore(path.join(dir, 'tokens.sealed'), encryption).load()).toEqual(tokens);
    // Another key (another OS user) cannot read it: as if signed out.
    expect(
      await new EncryptedTokenStore(path.join(dir, 'tokens.sealed'), testEncryption()).load(),
    ).toBeUndefined();
    await store.clear();
    expect(await store.load()).toBeUndefined();
  });

  it('writes nothing where the OS offers no encryption', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-sealed-'));
    const store = new EncryptedTokenStore(path.join(dir, 'tokens.sealed'), testEncryption(false));
    await store.save(tokens);
    expect(await store.load()).toEqual(tokens);
    await expect(readFile(path.join(dir, 'tokens.sealed'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('gives each target one local secret that lasts', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-sealed-'));
    const encryption = testEncryption();
    const secrets = new LocalSecrets(path.join(dir, 'secrets.sealed'), encryption);
    const a = await secrets.secretFor('shop-db');
    expect(a).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(await secrets.secretFor('shop-db')).toBe(a);
    expect(await secrets.secretFor('shop-admin')).not.toBe(a);
    expect(await new LocalSecrets(path.join(dir, 'secrets.sealed'), encryption).secretFor('shop-db')).toBe(a);
  });
});
