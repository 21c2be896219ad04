/**
 * Generators of valid samples for every value detector, and of ordinary values that are not PII, as
 * fast-check arbitraries: the property tests of the detectors and of the composite/array rewriter embed
 * them between neighbours and in record, array, CSV and JSON syntax.
 */
import fc from 'fast-check';
import { luhnCheckDigit } from '../../hub/demo/fake-shop.ts';
import type { DetectorName } from '../../tunnel/policy/masking/detectors.ts';

export interface PiiSample {
  detector: DetectorName;
  /** The whole sample as it would be written (a keyword and the value for keyed forms). */
  text: string;
  /** The part that must never reach the client. */
  secret: string;
  /** A directly glued digit on this side would make it another, longer number (cards, SSNs, phones). */
  digitsContinue: { left: boolean; right: boolean };
  /** Letters glued on this side would make it another word (keywords, `Bearer`, scheme names). */
  lettersContinue: { left: boolean; right: boolean };
  /**
   * The separator between the groups of a phone number: after a letter or digit and this separator,
   * the number is the tail of one grouped token (`…e9-0015-1000-8000` in a UUID), not a value of its own.
   */
  groupSeparator?: string;
  /** A national number (no checksum) after `<digit>.`, `-`, `/` or `:` reads as a date, time or amount's tail. */
  national?: boolean;
}

const digitString = (n: number): fc.Arbitrary<string> =>
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }).map((d) => d.join(''));

function sample(
  detector: DetectorName,
  text: string,
  secret = text,
  glue: Partial<Pick<PiiSample, 'digitsContinue' | 'lettersContinue' | 'groupSeparator' | 'national'>> = {},
): PiiSample {
  return {
    detector,
    text,
    secret,
    digitsContinue: glue.digitsContinue ?? { left: false, right: false },
    lettersContinue: glue.lettersContinue ?? { left: false, right: false },
    groupSeparator: glue.groupSeparator,
    national: glue.national,
  };
}

const NUMBER_GLUE = { digitsContinue: { left: true, right: true } };

/** Issuer prefixes and lengths of the major networks. */
const CARD_SHAPES: readonly [string, number][] = [
  ['4', 16],
  ['4', 13],
  ['4', 19],
  ['51', 16],
  ['55', 16],
  ['2221', 16],
  ['2720', 16],
  ['34', 15],
  ['37', 15],
  ['6011', 16],
  ['65', 16],
  ['3528', 16],
  ['36', 14],
  ['62', 16],
  ['6759', 16],
];

/** Groups of four, a short last group joined to the one before (`4000 0000 00006`). */
function fourGroups(pan: string): string[] {
  const groups = pan.match(/.{1,4}/g)!;
  if (groups.at(-1)!.length < 3) {
    const last = groups.pop()!;
    groups.push(groups.pop()! + last);
  }
  return groups;
}

export const cards: fc.Arbitrary<PiiSample> = fc
  .tuple(fc.constantFrom(...CARD_SHAPES), digitString(18), fc.constantFrom('', ' ', '-'))
  .map(([[prefix, length], body, separator]) => {
    const payload = (prefix + body).slice(0, length - 1);
    const pan = payload + luhnCheckDigit(payload);
    const grouped =
      separator === ''
        ? pan
        : length === 15
          ? [pan.slice(0, 4), pan.slice(4, 10), pan.slice(10)].join(separator)
          : fourGroups(pan).join(separator);
    return sample('card', grouped, grouped, NUMBER_GLUE);
  });

const LOCAL = fc.stringMatching(/^[a-z][a-z0-9]{0,6}(?:[._+-][a-z0-9]{1,6})?$/);
const LABEL = fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/);
export const emails: fc.Arbitrary<PiiSample> = fc
  .tuple(LOCAL, LABEL, fc.constantFrom('com', 'org', 'net', 'io', 'co.uk', 'de', 'example'))
  .map(([local, domain, tld]) => sample('email', `${local}@${domain}.${tld}`));

export const ssns: fc.Arbitrary<PiiSample> = fc
  .tuple(
    fc.integer({ min: 1, max: 899 }).filter((a) => a !== 666),
    fc.integer({ min: 1, max: 99 }),
    fc.integer({ min: 1, max: 9999 }),
    fc.constantFrom('dashed', 'keyed-bare', 'keyed-dashed'),
  )
  .map(([area, group, serial, form]) => {
    const parts = [
      String(area).padStart(3, '0'),
      String(group).padStart(2, '0'),
      String(serial).padStart(4, '0'),
    ];
    const dashed = parts.join('-');
    if (form === 'dashed') return sample('ssn', dashed, dashed, NUMBER_GLUE);
    const value = form === 'keyed-bare' ? parts.join('') : dashed;
    return sample('ssn', `SSN: ${value}`, value, {
      digitsContinue: { left: false, right: true },
      lettersContinue: { left: true, right: false },
    });
  });

/** Country, BBAN length in digits (IBANs of digit-only BBANs keep the generator simple). */
const IBAN_COUNTRIES: readonly [string, number][] = [
  ['DE', 18],
  ['FR', 23],
  ['ES', 20],
  ['IT', 23],
  ['BE', 12],
  ['NO', 11],
  ['PL', 24],
  ['CH', 17],
];

function ibanCheck(country: string, bban: string): string {
  const rearranged = bban + country + '00';
  const numeric = [...rearranged].map((c) => (/[A-Z]/.test(c) ? String(c.charCodeAt(0) - 55) : c)).join('');
  let rem = 0;
  for (const d of numeric) rem = (rem * 10 + Number(d)) % 97;
  return String(98 - rem).padStart(2, '0');
}

export const ibans: fc.Arbitrary<PiiSample> = fc
  .tuple(fc.constantFrom(...IBAN_COUNTRIES), digitString(24), fc.boolean())
  .map(([[country, length], digits, spaced]) => {
    const bban = digits.slice(0, length);
    const iban = country + ibanCheck(country, bban) + bban;
    const text = spaced ? iban.match(/.{1,4}/g)!.join(' ') : iban;
    return sample('iban', text);
  });

/**
 * Letters glued before a phone number make digits of a token (hex ids, UUIDs: `8509a019-8804-439e…`);
 * ten digits without a checksum are too weak to tell them apart.
 */
const PHONE_GLUE = { ...NUMBER_GLUE, lettersContinue: { left: true, right: false } };
const NATIONAL_GLUE = { ...PHONE_GLUE, groupSeparator: ' ', national: true };

export const phones: fc.Arbitrary<PiiSample> = fc.oneof(
  fc
    .tuple(fc.constantFrom('+1 415', '+44 20', '+49 30', '+33 6', '+81 3'), digitString(4), digitString(4))
    .map(([cc, a, b]) => sample('phone', `${cc} ${a} ${b}`, `${cc} ${a} ${b}`, NUMBER_GLUE)),
  fc
    .tuple(
      fc.integer({ min: 200, max: 999 }),
      fc.integer({ min: 200, max: 999 }),
      digitString(4),
      fc.constantFrom('-', '.', ' ', 'paren'),
    )
    .map(([area, exchange, line, sep]) => {
      const text = sep === 'paren' ? `(${area}) ${exchange}-${line}` : [area, exchange, line].join(sep);
      return sample('phone', text, text, {
        ...PHONE_GLUE,
        groupSeparator: sep === 'paren' ? undefined : sep,
      });
    }),
  digitString(4).map((d) => sample('phone', `020 7946 ${d}`, `020 7946 ${d}`, NATIONAL_GLUE)),
  digitString(4).map((d) => sample('phone', `030 1234${d}`, `030 1234${d}`, NATIONAL_GLUE)),
  fc
    .tuple(digitString(2), digitString(2))
    .map(([a, b]) => sample('phone', `06 12 34 ${a} ${b}`, `06 12 34 ${a} ${b}`, NATIONAL_GLUE)),
);

const TOKEN = (n: number): fc.Arbitrary<string> =>
  fc
    .stringMatching(new RegExp(`^[A-Za-z0-9]{${n}}$`))
    .filter((t) => /\d/.test(t) && /[A-Z]/.test(t) && /[a-z]/.test(t));

/** Letters glued before a token's prefix make it part of an identifier (`task_test_…`, `SLOVAKIA…`). */
const TOKEN_GLUE = { lettersContinue: { left: true, right: false } };

export const secrets: fc.Arbitrary<PiiSample> = fc.oneof(
  // An access key id is exactly 20 characters: glued to more, it is some longer token.
  fc.stringMatching(/^[A-Z2-7]{16}$/).map((t) =>
    sample('secret', `AKIA${t}`, `AKIA${t}`, {
      lettersContinue: { left: true, right: true },
      digitsContinue: { left: false, right: true },
    }),
  ),
  TOKEN(36).map((t) => sample('secret', `ghp_${t}`, `ghp_${t}`, TOKEN_GLUE)),
  TOKEN(24).map((t) => sample('secret', `sk_live_${t}`, `sk_live_${t}`, TOKEN_GLUE)),
  TOKEN(40).map((t) => sample('secret', `sk-${t}`, `sk-${t}`, TOKEN_GLUE)),
  fc.tuple(TOKEN(12), TOKEN(20), TOKEN(16)).map(([h, p, s]) => sample('secret', `eyJ${h}.eyJ${p}.${s}`)),
  TOKEN(24).map((t) => sample('secret', `Bearer ${t}`, t, { lettersContinue: { left: true, right: false } })),
);

export const SAMPLES: Readonly<Record<DetectorName, fc.Arbitrary<PiiSample>>> = {
  card: cards,
  email: emails,
  ssn: ssns,
  iban: ibans,
  phone: phones,
  secret: secrets,
};

/** Every detector's samples. */
export const anySample: fc.Arbitrary<PiiSample> = fc.oneof(...Object.values(SAMPLES));

/** The forms a value must never take in masked output: itself, lower/upper case and its digits alone. */
export function forbiddenForms(secret: string): string[] {
  const forms = new Set([secret, secret.toLowerCase(), secret.toUpperCase()]);
  const digits = secret.replace(/\D/g, '');
  if (digits.length >= 9) forms.add(digits);
  return [...forms];
}

// ---- ordinary values that are not PII --------------------------------------------------------------

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
const date = fc.date({
  min: new Date('1990-01-01T00:00:00Z'),
  max: new Date('2035-12-31T00:00:00Z'),
  noInvalidDate: true,
});

/** Ordinary values of the kinds a result is mostly made of, each with the kind it is. */
type Ordinary = [kind: string, value: string];

export const ordinaryValues: fc.Arbitrary<Ordinary> = fc.oneof(
  date.map((d): Ordinary => ['date', d.toISOString().slice(0, 10)]),
  date.map((d): Ordinary => [
    'date',
    `${pad(d.getUTCDate())}/${pad(d.getUTCMonth() + 1)}/${d.getUTCFullYear()}`,
  ]),
  date.map((d): Ordinary => [
    'date',
    `${pad(d.getUTCDate())}.${pad(d.getUTCMonth() + 1)}.${d.getUTCFullYear()}`,
  ]),
  date.map((d): Ordinary => ['time', d.toISOString().slice(11, 19)]),
  date.map((d): Ordinary => ['timestamp', d.toISOString()]),
  fc
    .tuple(date, fc.integer({ min: 0, max: 999_999 }))
    .map(([d, us]): Ordinary => [
      'timestamp',
      `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)}.${pad(us, 6)}+00`,
    ]),
  date.map((d): Ordinary => ['epoch', String(Math.floor(d.getTime() / 1000))]),
  date.map((d): Ordinary => ['epoch', String(d.getTime())]),
  fc.integer({ min: 0, max: 99_999_999 }).map((n): Ordinary => ['amount', (n / 100).toFixed(2)]),
  fc
    .integer({ min: 100_000, max: 999_999_999 })
    .map((n): Ordinary => ['amount', `$${(n / 100).toLocaleString('en-US', { minimumFractionDigits: 2 })}`]),
  fc.double({ min: 0, max: 1, noNaN: true }).map((x): Ordinary => ['float', String(x)]),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((x): Ordinary => ['float', String(x)]),
  fc.integer({ min: 1, max: 2_000_000_000 }).map((n): Ordinary => ['id', String(n)]),
  fc
    .bigInt({ min: 1_000_000_000_000_000_000n, max: 1_999_999_999_999_999_999n })
    .map((n): Ordinary => ['snowflake', String(n)]),
  fc.tuple(fc.nat(30), fc.nat(40), fc.nat(200)).map(([a, b, c]): Ordinary => ['version', `${a}.${b}.${c}`]),
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o): Ordinary => ['ipv4', o.join('.')]),
  fc.ipV6().map((ip): Ordinary => ['ipv6', ip]),
  fc.uuid().map((u): Ordinary => ['uuid', u]),
  fc
    .tuple(fc.integer({ min: 2015, max: 2030 }), fc.nat(999_999))
    .map(([y, n]): Ordinary => ['order', `ORD-${y}-${pad(n, 6)}`]),
  fc.integer({ min: 1, max: 9_999_999 }).map((n): Ordinary => ['order', `#${n}`]),
  fc.integer({ min: 1, max: 999_999 }).map((n): Ordinary => ['order', `INV-${pad(n, 6)}`]),
  fc.stringMatching(/^[0-9a-f]{32}$/).map((h): Ordinary => ['hash', h]),
  fc.stringMatching(/^[0-9a-f]{40}$/).map((h): Ordinary => ['hash', h]),
  fc.stringMatching(/^[A-Z0-9]{10,24}$/).map((t): Ordinary => ['code', t]),
  fc.integer({ min: 10000, max: 99999 }).map((n): Ordinary => ['zip', String(n)]),
);
