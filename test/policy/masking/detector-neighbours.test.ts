/**
 * Property tests of the value detectors: a valid sample of every detector is found whatever it touches
 * (other numbers through any separator, letters, quotes, brackets, the cell's edges) and in whatever
 * syntax it is written (plain text, a CSV line, a record or array literal, a JSON document); ordinary
 * values that are not PII are left alone, and the false-positive rate over them is kept under a bound.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createDetector, DETECTOR_NAMES } from '../../../tunnel/policy/masking/detectors.ts';
import { detectCell, TypeOid } from '../../../tunnel/policy/masking/cell-values.ts';
import {
  anySample,
  forbiddenForms,
  ordinaryValues,
  SAMPLES,
  type PiiSample,
} from '../../support/pii-samples.ts';
import { embed, SYNTAXES, type Syntax } from '../../support/value-syntax.ts';

const detector = createDetector(DETECTOR_NAMES);

/** What a value can touch: another token (number, word, nothing) through a joiner (or glued to it). */
const TOKENS = ['', '7', '123', '2024', '0', 'x', 'abc', 'ID', 'é'];
const JOINERS = [
  '',
  ',',
  ';',
  '|',
  '\t',
  '/',
  ':',
  ' ',
  '-',
  '.',
  '\n',
  '=',
  '#',
  '"',
  "'",
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  '<',
  '>',
];

interface Neighbours {
  left: string;
  right: string;
}

const isDigits = (t: string): boolean => /^\d+$/.test(t);
const isLetters = (t: string): boolean => t !== '' && !isDigits(t);

/**
 * Whether a neighbour makes the sample another value rather than a value beside something: digits
 * glued to a number make a longer number, letters glued to a keyword another word, a token joined by a
 * phone number's own separator one grouped token, digits and '.', '-', '/' or ':' before a national
 * phone number the tail of a date, time or amount, and digits before a card's '.' a decimal fraction
 * (`0.4111…`, what floats look like).
 */
function changesTheValue(sample: PiiSample, token: string, joiner: string, side: 'left' | 'right'): boolean {
  if (joiner === '') {
    if (isDigits(token) && sample.digitsContinue[side]) return true;
    if (isLetters(token) && sample.lettersContinue[side]) return true;
  }
  if (joiner === sample.groupSeparator) {
    // One grouped token: `12 020 7946 0958`, `020 7946 0958 12`, `…e9-415-555-0199`.
    if (side === 'right' ? isDigits(token) : joiner === ' ' ? isDigits(token) : /^[A-Za-z0-9]+$/.test(token))
      return true;
  }
  if (side === 'right') return false;
  if (sample.national && '.-/:'.includes(joiner) && joiner !== '' && isDigits(token)) return true;
  return sample.detector === 'card' && joiner === '.' && isDigits(token);
}

function neighbours(sample: PiiSample): fc.Arbitrary<Neighbours> {
  const side = (which: 'left' | 'right'): fc.Arbitrary<string> =>
    fc
      .tuple(fc.constantFrom(...TOKENS), fc.constantFrom(...JOINERS))
      .filter(([token, joiner]) => !changesTheValue(sample, token, joiner, which))
      .map(([token, joiner]) => (which === 'left' ? token + joiner : joiner + token));
  return fc.record({ left: side('left'), right: side('right') });
}

/** The cell as it reaches the rewriter: JSON syntaxes as json, everything else as text. */
function masked(syntax: Syntax, text: string): string {
  const typeOid = syntax.startsWith('json') ? TypeOid.json : TypeOid.text;
  const out = detectCell(detector, Buffer.from(text, 'utf8'), typeOid, 0);
  return out === undefined ? text : (out?.toString('utf8') ?? '');
}

function leaked(sample: PiiSample, output: string): string[] {
  return forbiddenForms(sample.secret).filter((form) => output.includes(form));
}

describe('detectors find a value whatever it touches', () => {
  it.each(DETECTOR_NAMES)('%s: every neighbour on either side, in every syntax', (name) => {
    const samples = fc.sample(SAMPLES[name], { numRuns: 12, seed: 9 });
    const failures: string[] = [];
    for (const sample of samples) {
      for (const token of TOKENS) {
        for (const joiner of JOINERS) {
          const cases: Neighbours[] = [];
          if (!changesTheValue(sample, token, joiner, 'left'))
            cases.push({ left: token + joiner, right: '' });
          if (!changesTheValue(sample, token, joiner, 'right'))
            cases.push({ left: '', right: joiner + token });
          for (const { left, right } of cases) {
            for (const syntax of SYNTAXES) {
              const output = masked(syntax, embed(syntax, left + sample.text + right));
              if (leaked(sample, output).length > 0)
                failures.push(`${syntax}: ${JSON.stringify(left + sample.text + right)} → ${output}`);
            }
          }
        }
      }
    }
    expect(failures.slice(0, 20), `${failures.length} leaks`).toEqual([]);
  });

  it('any sample between any two neighbours, in any syntax (property)', () => {
    fc.assert(
      fc.property(
        anySample.chain((sample) =>
          fc.tuple(fc.constant(sample), neighbours(sample), fc.constantFrom(...SYNTAXES)),
        ),
        ([sample, { left, right }, syntax]) => {
          const output = masked(syntax, embed(syntax, left + sample.text + right));
          expect(leaked(sample, output), `${syntax}: ${left}${sample.text}${right} → ${output}`).toEqual([]);
        },
      ),
      { numRuns: 4000, seed: 20_240_314 },
    );
  });

  it('several values touching each other in one CSV line, record, array and JSON array', () => {
    fc.assert(
      fc.property(
        fc.array(anySample, { minLength: 2, maxLength: 5 }),
        fc.constantFrom(',', ';', '|', '\t', ', ', ' / '),
        (samples, separator) => {
          const line = samples.map((s) => s.text).join(separator);
          for (const syntax of SYNTAXES) {
            const output = masked(syntax, embed(syntax, line));
            for (const sample of samples)
              expect(leaked(sample, output), `${syntax}: ${line} → ${output}`).toEqual([]);
          }
        },
      ),
      { numRuns: 1500, seed: 77 },
    );
  });
});

/** The share of ordinary values the detectors flag, alone and in every syntax; kept under this bound. */
const MAX_FALSE_POSITIVE_RATE = 0.0001;

describe('detectors leave ordinary values alone', () => {
  it(`flags fewer than ${MAX_FALSE_POSITIVE_RATE * 100}% of dates, times, amounts, ids, versions, addresses, UUIDs, hashes and order numbers`, () => {
    const values = fc.sample(ordinaryValues, { numRuns: 20_000, seed: 4242 });
    const rows = fc.sample(fc.array(ordinaryValues, { minLength: 2, maxLength: 6 }), {
      numRuns: 5_000,
      seed: 99,
    });
    let checked = 0;
    const flagged: string[] = [];
    const check = (text: string): void => {
      checked++;
      if (detector.scan(Buffer.from(text, 'utf8')).length > 0) flagged.push(text);
    };
    for (const [, value] of values) for (const syntax of SYNTAXES) check(embed(syntax, value));
    for (const row of rows) {
      for (const separator of [',', ';', '|', '\t', ' ']) check(row.map(([, v]) => v).join(separator));
    }
    const rate = flagged.length / checked;
    console.log(
      `detector false positives: ${flagged.length} of ${checked} ordinary cells (${(rate * 100).toFixed(3)}%)`,
      flagged.slice(0, 10),
    );
    expect(rate).toBeLessThan(MAX_FALSE_POSITIVE_RATE);
  });
});
