import { describe, expect, it } from 'vitest';
import type { TargetView } from '../../../../preload/api.ts';
import { matchesSearch } from './use-targets.ts';

const target: TargetView = {
  id: 'shop-db',
  name: 'Shop (production)',
  kind: 'postgres',
  address: 'db.internal:5432',
  database: 'shop',
  policy: 'policies/shop.yaml',
  status: 'standing',
  usable: true,
  grantExpiresAt: null,
  pendingRequestId: null,
  jit: null,
  port: 15432,
  connected: false,
};

describe('searching targets', () => {
  it('matches id, name, database, address, policy and status, ignoring case and blanks', () => {
    for (const search of ['', '  ', 'SHOP-DB', 'production', 'db.internal', 'shop.yaml', 'standing']) {
      expect(matchesSearch(target, search), search).toBe(true);
    }
    expect(matchesSearch(target, 'reporting')).toBe(false);
  });
});
