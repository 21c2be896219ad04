/**
 * Password literals never reach a recording or an approver's screen: read with PostgreSQL's own scanner
 * (libpg-query), whatever the quoting, and redacted whole even when the text cannot be scanned.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadClassifier } from '../../tunnel/policy/classifier.ts';
import { redactPasswords } from '../../tunnel/policy/password-literals.ts';

beforeAll(async () => {
  await loadClassifier();
});

describe('redactPasswords', () => {
  it.each([
    ["ALTER ROLE bob WITH ENCRYPTED PASSWORD 'sécret''s'", "ALTER ROLE bob WITH ENCRYPTED PASSWORD '***'"],
    [
      "create user x password $$hunter2$$ valid until '2030-01-01'",
      "create user x password '***' valid until '2030-01-01'",
    ],
    [
      // What psql's \password sends: the SCRAM verifier, which is worth as much as the password offline.
      `ALTER USER "élodie" PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy'`,
      `ALTER USER "élodie" PASSWORD '***'`,
    ],
    [
      "select 'password' as x; alter user me password E'a\\'b'",
      "select 'password' as x; alter user me password '***'",
    ],
    [
      "CREATE USER MAPPING FOR bob SERVER foo OPTIONS (user 'bob', password 'secret')",
      "CREATE USER MAPPING FOR bob SERVER foo OPTIONS (user 'bob', password '***')",
    ],
    [
      "SELECT dblink_connect('host=db user=u password=hunter2 dbname=x')",
      "SELECT dblink_connect('host=db user=u password=*** dbname=x')",
    ],
    [
      "CREATE SUBSCRIPTION s CONNECTION 'host=a password=''q r''' PUBLICATION p",
      "CREATE SUBSCRIPTION s CONNECTION 'host=a password=***' PUBLICATION p",
    ],
    ["alter user me password 'unterminated", "alter user me password '***'"],
  ])('%s', (sql, redacted) => {
    expect(redactPasswords(sql)).toBe(redacted);
  });

  it('leaves statements without a password literal as they are', () => {
    for (const sql of [
      'select 1',
      "select password from users where name = 'ada'",
      "select * from users where password = crypt('x', password)",
    ]) {
      expect(redactPasswords(sql)).toBe(sql);
    }
  });
});
