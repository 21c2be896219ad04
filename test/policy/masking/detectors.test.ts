import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../hub/demo/fake-shop.ts';
import {
  createDetector,
  DETECTOR_NAMES,
  type DetectorName,
} from '../../../tunnel/policy/masking/detectors.ts';

const all = createDetector(DETECTOR_NAMES);

function redact(text: string, detector = all): string {
  return detector.redact(Buffer.from(text, 'utf8')).bytes.toString('utf8');
}

function detectedBy(text: string): DetectorName[] {
  return all.scan(Buffer.from(text, 'utf8')).map((d) => d.detector);
}

const positives: [DetectorName, string, string][] = [
  // cards: major networks, bare, grouped, inside text
  ['card', '4111111111111111', '[card]'],
  ['card', '4012888888881881', '[card]'],
  ['card', '4222222222222', '[card]'],
  ['card', '5555555555554444', '[card]'],
  ['card', '2223003122003222', '[card]'],
  ['card', '378282246310005', '[card]'],
  ['card', '3782 822463 10005', '[card]'],
  ['card', '6011111111111117', '[card]'],
  ['card', '3530111333300000', '[card]'],
  ['card', '30569309025904', '[card]'],
  ['card', '6200000000000005', '[card]'],
  ['card', 'card 4111 1111 1111 1111 exp 12/25', 'card [card] exp 12/25'],
  ['card', 'Card: 5555-5555-5555-4444.', 'Card: [card].'],
  ['card', 'pay with 4111111111111111, thanks', 'pay with [card], thanks'],
  // emails
  ['email', 'jane.doe@example.com', '[email]'],
  ['email', 'contact jane.doe+work@sub.example.co.uk or bob@example.org', 'contact [email] or [email]'],
  ['email', 'mailto:jane@example.com', 'mailto:[email]'],
  ['email', '<JANE_DOE@EXAMPLE.COM>', '<[email]>'],
  ['email', 'josé.núñez@example.es wrote', '[email] wrote'],
  ['email', 'xn--e1afmkfd@xn--80akhbyknj4f.xn--p1ai', '[email]'],
  // SSNs
  ['ssn', 'SSN 123-45-6789', 'SSN [ssn]'],
  ['ssn', 'ssn: 123456789', 'ssn: [ssn]'],
  ['ssn', 'Social Security Number: 123 45 6789', 'Social Security Number: [ssn]'],
  ['ssn', 'user_ssn=123-45-6789', 'user_ssn=[ssn]'],
  ['ssn', 'his number is 219-09-9999.', 'his number is [ssn].'],
  // IBANs
  ['iban', 'DE89 3704 0044 0532 0130 00', '[iban]'],
  ['iban', 'DE89370400440532013000', '[iban]'],
  ['iban', 'GB29 NWBK 6016 1331 9268 19', '[iban]'],
  ['iban', 'GB82WEST12345698765432', '[iban]'],
  ['iban', 'FR1420041010050500013M02606', '[iban]'],
  ['iban', 'NL91ABNA0417164300', '[iban]'],
  ['iban', 'NO9386011117947', '[iban]'],
  ['iban', 'iban: CH9300762011623852957 bic', 'iban: [iban] bic'],
  // phones
  ['phone', 'call me at +1 415 555 0100', 'call me at [phone]'],
  ['phone', '+14155550100', '[phone]'],
  ['phone', 'tel:+49 30 1234 5678', 'tel:[phone]'],
  ['phone', '+44 (0) 20 7946 0958', '[phone]'],
  ['phone', '(415) 555-0100', '[phone]'],
  ['phone', '415-555-0100', '[phone]'],
  ['phone', '415.555.0100', '[phone]'],
  ['phone', '1-800-555-0199', '[phone]'],
  ['phone', '020 7946 0958', '[phone]'],
  ['phone', 'Call 07700 900123 now', 'Call [phone] now'],
  ['phone', '06 12 34 56 78', '[phone]'],
  ['phone', '(030) 1234 5678', '[phone]'],
  ['phone', '0044 20 7946 0958', '[phone]'],
  // secrets
  [
    'secret',
    'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end',
    'token [secret] end',
  ],
  ['secret', 'AKIAIOSFODNN7EXAMPLE', '[secret]'],
  ['secret', 'ASIAY34FZKBOKMUTVV7A', '[secret]'],
  [
    'secret',
    'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    'aws_secret_access_key = [secret]',
  ],
  ['secret', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', '[secret]'],
  ['secret', 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz', '[secret]'],
  ['secret', 'xoxb-123456789012-abcdefghijkl', '[secret]'],
  ['secret', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc', '[secret]'],
  ['secret', 'rk_test_4eC39HqLyjWDarjtT1zdp7dc', '[secret]'],
  ['secret', 'AIzaSyA1234567890abcdefghijklmnopqrstuv', '[secret]'],
  ['secret', 'OPENAI_API_KEY=sk-proj-AbCdEf0123456789AbCdEf0123456789xyz', 'OPENAI_API_KEY=[secret]'],
  ['secret', 'Authorization: Bearer abcdef1234567890abcdef', 'Authorization: Bearer [secret]'],
  ['secret', 'Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l', 'Authorization: Basic [secret]'],
  ['secret', 'postgres://app:s3cr3t@db.internal:5432/app', 'postgres://app:[secret]@db.internal:5432/app'],
  [
    'secret',
    '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\nafter',
    '[secret]\nafter',
  ],
  ['secret', 'key: -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA', 'key: [secret]'],
];

/** Realistic values that must not be flagged by any detector. */
const negatives = [
  // dates and times
  '2024-01-15',
  '2024-01-15T10:30:00Z',
  '2024-01-15 10:30:00.123456+00',
  '2024-01-15T10:30:00+01:00',
  '15/01/2024 10:30',
  '05.03.2024 14:30',
  '12:30:45.123',
  '2024-01-15 09:30:00 0100',
  // identifiers
  '123e4567-e89b-12d3-a456-426614174000',
  '12345678-1234-1234-1234-123456789012',
  '00000000-0000-0000-0000-000000000000',
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  'd41d8cd98f00b204e9800998ecf8427e',
  '1700000000000',
  '1700000000123456789',
  '1.2.840.113549.1.1.11',
  '16/B374D848',
  'tracking 1Z999AA10123456784',
  'Serial: SN-9876543210',
  // network
  '192.168.100.200',
  '10.0.0.1:5432',
  '2001:db8:85a3::8a2e:370:7334',
  'fe80::1ff:fe23:4567:890a%eth0',
  'MAC 00:1A:2B:3C:4D:5E',
  'db-01.eu-west-1.internal.example.com',
  'http://example.com:8080/path?id=4111',
  'postgres://db.internal:5432/app',
  'https://jane@example.com/x',
  // money and numbers
  '$1,234,567.89',
  'EUR 12 345 678,90',
  '3.14159265358979323846',
  '0.4111111111111111',
  'Lat 37.774929, Lon -122.419416',
  'x=1e+10',
  'years 2019 2020 2021 2022',
  'amounts 1234 5678 9012 3456',
  '12 34 56 78 90',
  '0123456789',
  '4155550100',
  '123456789',
  // orders, invoices, card-like but invalid
  'Order #123456789012',
  'ORD-2024-000123',
  'Invoice INV-000123456 dated 2024-03-01 for $1,299.00',
  '4111111111111112',
  '1234567890123456',
  '5555 5555 5555 4445',
  'ISBN 978-0-306-40615-7',
  'ZIP 94103-1234',
  // SSN / IBAN / phone look-alikes
  '000-12-3456',
  '666-12-3456',
  '123-00-4567',
  '900-12-3456',
  'DE89370400440532013001',
  'DE89 3704 0044 0532 0130',
  '123-456-7890',
  '555-1234',
  'score +15',
  '+0 123 456 789',
  // versions and paths
  'v1.2.3',
  '18.4.0-beta.17',
  'version 2.14.1001.5',
  'build 1.0.0+20130313144700',
  '/var/lib/postgresql/18/main/base/16384/2619',
  'C:\\Users\\jane\\AppData\\Local\\Temp',
  // email look-alikes
  'icon@2x.png',
  '@jane_doe mentioned you',
  'user@localhost',
  'npm install react@19.3.1',
  // SQL and prose
  "SELECT * FROM users WHERE id = 42 AND created_at > '2024-01-01'",
  'UPDATE accounts SET balance = balance - 100.00 WHERE account_id = 123456789',
  'PRIMARY KEY (id)',
  'Bearer tokens are opaque strings',
  'Basic authentication is disabled',
  'this-is-a-very-long-kebab-case-article-slug-about-sk-things',
  'task-0123456789abcdefghijklmnopqrstuvwxyz',
  'eyJ is how base64-encoded JSON starts',
  '-----BEGIN CERTIFICATE-----',
  '-----BEGIN PUBLIC KEY-----',
  'AKIA is the prefix of AWS access key ids',
];

describe('detectors: positives', () => {
  it.each(positives)('%s: %s', (detector, text, expected) => {
    expect(detectedBy(text)).toContain(detector);
    expect(redact(text)).toBe(expected);
    expect(redact(text, createDetector([detector]))).toBe(expected);
  });
});

describe('detectors: negatives', () => {
  it('has a realistic list of at least 40 negatives', () => {
    expect(negatives.length).toBeGreaterThanOrEqual(40);
  });

  it.each(negatives)('does not flag %s', (text) => {
    expect(all.scan(Buffer.from(text, 'utf8'))).toEqual([]);
  });
});

/** Thousands of ordinary cells without PII: what most scanned cells of a real result look like. */
function typicalCells(): string[] {
  const rnd = mulberry32(7_340_033);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const hex = (n: number): string => Array.from({ length: n }, () => int(0, 15).toString(16)).join('');
  const timestamp = (): Date =>
    new Date(Date.UTC(2020, 0, 1) + int(0, 6 * 365 * 86_400) * 1000 + int(0, 999));
  const cells: string[] = [];
  for (let i = 0; i < 500; i++) {
    const ts = timestamp();
    const iso = ts.toISOString();
    cells.push(
      createHash('md5').update(String(i)).digest('hex'),
      `Customer ${int(1, 1_000_000)}`,
      iso,
      `${iso.slice(0, 10)} ${iso.slice(11, 23)}${int(0, 999)}+00`, // PostgreSQL timestamptz text
      `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[int(0, 3)]}${hex(3)}-${hex(12)}`,
      `${int(0, 99_999)}.${String(int(0, 99)).padStart(2, '0')}`,
      JSON.stringify({
        id: int(1, 1_000_000),
        status: ['shipped', 'pending', 'cancelled'][int(0, 2)],
        items: [int(1, 9), int(10, 99), int(100, 999)],
        total: int(1, 99_999) / 100,
        at: iso,
        sku: `SKU-${int(10_000, 99_999)}`,
        tags: ['gift', 'express'],
      }),
    );
  }
  return cells;
}

describe('detectors: typical cells', () => {
  it('finds nothing in thousands of ordinary non-PII cells', () => {
    const cells = typicalCells();
    expect(cells.length).toBeGreaterThanOrEqual(3000);
    const flagged = cells.filter((text) => all.scan(Buffer.from(text, 'utf8')).length > 0);
    expect(flagged).toEqual([]);
  });

  it('scans a cell inside a larger buffer exactly as the cell on its own', () => {
    const rnd = mulberry32(42);
    const context = '0123456789 -.()+@:/_AaBbJyeksx#\n';
    const around = (): string =>
      Array.from({ length: Math.floor(rnd() * 5) }, () => context[Math.floor(rnd() * context.length)]!).join(
        '',
      );
    const texts = [...positives.map(([, text]) => text), ...negatives, ...typicalCells().slice(0, 300)];
    for (const text of texts) {
      const value = Buffer.from(text, 'utf8');
      const before = Buffer.from(around(), 'latin1');
      const frame = Buffer.concat([before, value, Buffer.from(around(), 'latin1')]);
      expect(all.scan(frame, before.length, before.length + value.length), text).toEqual(all.scan(value));
    }
  });

  // Where the one-pass preconditions draw their lines: each of these must come out as it always did.
  it.each([
    ['call +1 415 555 0100 now', 'call [phone] now'],
    ['+1 (415) 555-0100', '[phone]'],
    ['tel 1 (415) 555-0100', 'tel [phone]'],
    ['x1-800-555-0199', 'x1-800-555-0199'],
    ['x,1-800-555-0199', 'x,[phone]'],
    ['(01) 020 794609 58', '(01) 020 794609 58'],
    ['ref 01 23 020 7946 0958', 'ref 01 23 020 7946 0958'],
    ['12 (020) 7946 0958', '12 [phone]'],
    ['12 020 7946 0958', '12 020 7946 0958'],
    ['12,020 7946 0958', '12,[phone]'],
    ['12 415-555-0100', '12 [phone]'],
    ['8509a019-8804-439e-ab2d-b43b79700934', '8509a019-8804-439e-ab2d-b43b79700934'],
    ['12- 020 7946 0958', '12- [phone]'],
    ['id 0123456789 and 0044 20 7946 0958', 'id 0123456789 and [phone]'],
    ['+12 (34) (56) 7890', '+12 (34) (56) 7890'],
    ['05.03.2024 14:30', '05.03.2024 14:30'],
    ['ssn 123 45 6789', 'ssn [ssn]'],
    ['SSN:123456789', 'SSN:[ssn]'],
    ['social_security_no. 219099999', 'social_security_no. [ssn]'],
    ['ss# 123-45-6789x', 'ss# [ssn]x'],
    ['4111 1111 1111 1111 1111', '[card] 1111'],
    ['1234 4111 1111 1111 1111', '1234 [card]'],
    ['x4111111111111111', 'x[card]'],
    ['6011111111111117,123', '[card],123'],
    ['123;6011111111111117', '123;[card]'],
    ['0.4111111111111111', '0.4111111111111111'],
    ['4111111111111111.25', '[card].25'],
    ['------BEGIN RSA PRIVATE KEY-----', '-[secret]'],
    ['eyJhbGciOiJIUzI1NiJ9 no dot here at all', 'eyJhbGciOiJIUzI1NiJ9 no dot here at all'],
    ['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0', '[secret]'],
    ['AKIAIOSFODNN7EXAMPLE.', '[secret].'],
    ['xAKIAIOSFODNN7EXAMPLE', 'xAKIAIOSFODNN7EXAMPLE'],
    ['7AKIAIOSFODNN7EXAMPLE', '7[secret]'],
    ['bearer abcdef1234567890abcdefXYZ', 'bearer [secret]'],
    ['AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"', 'AWS_SECRET_ACCESS_KEY="[secret]"'],
    ['GB82 WEST 1234 5698 7654 32', '[iban]'],
    ['XGB82WEST12345698765432', 'X[iban]'],
    ['NO9386011117947x', '[iban]x'],
    ['1-536-90-4399', '1-[ssn]'],
    ['536-90-4399-1', '[ssn]-1'],
    ['5536-90-4399', '5536-90-4399'],
    ['jane@example.com7', '[email]7'],
    ['+44 20 7946 0958 1234 5678', '[phone] 1234 5678'],
  ])('keeps its boundaries: %s', (text, expected) => {
    expect(redact(text)).toBe(expected);
  });

  it('returns one shared frozen empty result when nothing is found', () => {
    const a = all.scan(Buffer.from('d41d8cd98f00b204e9800998ecf8427e'));
    const b = all.scan(Buffer.from('Customer 12345'));
    expect(a).toEqual([]);
    expect(a).toBe(b);
    expect(Object.isFrozen(a)).toBe(true);
  });
});

describe('createDetector', () => {
  it('returns the original Buffer object when nothing is found', () => {
    const value = Buffer.from('nothing to see here, order 12345');
    const result = all.redact(value);
    expect(result.bytes).toBe(value);
    expect(result.detections).toBe(0);
  });

  it('runs only the selected detectors', () => {
    const text = 'jane@example.com 4111111111111111 +1 415 555 0100';
    expect(redact(text, createDetector(['email']))).toBe('[email] 4111111111111111 +1 415 555 0100');
    expect(redact(text, createDetector(['card', 'phone']))).toBe('jane@example.com [card] [phone]');
    expect(redact(text, createDetector([]))).toBe(text);
  });

  it('reports byte offsets, correct after multi-byte characters', () => {
    const text = 'Téléphone: +33 6 12 34 56 78 — écrire à zoé@example.fr';
    const value = Buffer.from(text, 'utf8');
    const found = all.scan(value);
    expect(found.map((d) => d.detector)).toEqual(['phone', 'email']);
    expect(value.subarray(found[0]!.start, found[0]!.end).toString('utf8')).toBe('+33 6 12 34 56 78');
    expect(value.subarray(found[1]!.start, found[1]!.end).toString('utf8')).toBe('zoé@example.fr');
    expect(redact(text)).toBe('Téléphone: [phone] — écrire à [email]');
  });

  it('scans a range of a larger buffer, with offsets relative to its start', () => {
    const frame = Buffer.from('xxxx mail jane@example.com yyyy');
    const found = all.scan(frame, 5, 26);
    expect(found).toEqual([{ detector: 'email', start: 5, end: 21 }]);
    expect(all.scan(frame, 5, 14)).toEqual([]);
  });

  it('finds PII inside JSON documents', () => {
    const json =
      '{"name":"Jane","contact":{"email":"jane.doe@example.com","phone":"+1 415 555 0100"},"n":[1,2]}';
    expect(redact(json)).toBe('{"name":"Jane","contact":{"email":"[email]","phone":"[phone]"},"n":[1,2]}');
  });

  it('merges overlapping spans under the strongest detector', () => {
    const text =
      'x -----BEGIN PRIVATE KEY-----\nMIIB jane@example.com 4111111111111111\n-----END PRIVATE KEY----- y';
    const found = all.scan(Buffer.from(text));
    expect(found).toEqual([{ detector: 'secret', start: 2, end: text.length - 2 }]);
    expect(redact('see +1 415 555 0100 or ssn: 219-09-9999')).toBe('see [phone] or ssn: [ssn]');
  });

  it('uses custom labels', () => {
    const detector = createDetector(DETECTOR_NAMES, { labels: { email: 'email', card: 'XXXX' } });
    expect(redact('jane@example.com paid with 4111111111111111', detector)).toBe('email paid with XXXX');
    expect(detector.labels.phone).toBe('[phone]');
  });

  it('refuses unknown detectors and unsafe labels', () => {
    expect(() => createDetector(['card', 'dna' as DetectorName])).toThrow(/unknown detector/);
    for (const label of ['"x"', 'a\\b', '', ' x', '{x}', 'a,b', '<x>', 'x&y', 'tab\there', 'é']) {
      expect(() => createDetector(['email'], { labels: { email: label } })).toThrow(/unsafe/);
    }
  });

  it('stays linear on adversarial input', () => {
    const inputs = [
      'a'.repeat(200_000) + '@',
      '@'.repeat(200_000),
      '1 '.repeat(100_000),
      '1-'.repeat(100_000),
      'eyJ'.repeat(60_000),
      '+1 '.repeat(60_000),
      'x://'.repeat(50_000),
      'DE89'.repeat(50_000),
      'Bearer '.repeat(30_000),
      '4111'.repeat(50_000),
    ];
    // This process's CPU time, not the clock: other processes on a loaded machine do not count against it.
    const before = process.cpuUsage();
    for (const input of inputs) all.scan(Buffer.from(input, 'latin1'));
    const used = process.cpuUsage(before);
    expect((used.user + used.system) / 1000).toBeLessThan(5_000);
  });
});
