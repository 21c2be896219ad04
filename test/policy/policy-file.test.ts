import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  loadPolicyFile,
  parsePolicy,
  PolicyFileError,
  resolvePolicy,
  splitIdentifiers,
} from '../../tunnel/policy/policy-file.ts';
import { judgeStatement, maskRuleFor, presetPolicy } from '../../tunnel/policy/policy.ts';
import type { StatementClass } from '../../tunnel/policy/classifier.ts';

const contract = `extends: guarded                 # read-only | guarded | observe
block:   [ddl, {class: read, table: secrets}]
approve: [{class: write, table: payments}]
allow:   [{class: write, table: scratch}]
mask:
  - {column: customers.email, strategy: email}
  - {column: customers.card_number, strategy: partial, keep: 4}
  - {column: "*.ssn", strategy: redact}
detect: [card, email, ssn, iban, phone, secret]
`;

function statement(classes: StatementClass[], tables: string[] = [], writes: string[] = tables) {
  const ref = (t: string) =>
    t.includes('.') ? { schema: t.split('.')[0], name: t.split('.')[1]! } : { name: t };
  return { classes: new Set(classes), tables: tables.map(ref), writes: writes.map(ref) };
}

describe('policy files', () => {
  const policy = parsePolicy(contract, 'policy.yaml');

  it('reads the documented shape', () => {
    expect(policy.preset).toBe('guarded');
    expect(policy.rules.map((r) => [r.verdict, r.class, r.table?.name])).toEqual([
      ['block', 'ddl', undefined],
      ['block', 'read', 'secrets'],
      ['approve', 'write', 'payments'],
      ['allow', 'write', 'scratch'],
    ]);
    expect(policy.mask.map((m) => [m.schema, m.table, m.column, m.strategy.kind])).toEqual([
      [undefined, 'customers', 'email', 'email'],
      [undefined, 'customers', 'card_number', 'partial'],
      [undefined, '*', 'ssn', 'redact'],
    ]);
    expect(policy.detect).toEqual(['card', 'email', 'ssn', 'iban', 'phone', 'secret']);
    expect(policy.rules[1]!.source).toBe('policy.yaml:2');
  });

  it('lets file rules override the preset for the statements they match', () => {
    expect(judgeStatement(policy, statement(['write'], ['scratch'])).verdict).toBe('allow');
    expect(judgeStatement(policy, statement(['write'], ['payments'])).verdict).toBe('approve');
    expect(judgeStatement(policy, statement(['write'], ['orders'])).verdict).toBe('approve');
    expect(judgeStatement(policy, statement(['read'], ['secrets'])).verdict).toBe('block');
    expect(judgeStatement(policy, statement(['read'], ['orders'])).verdict).toBe('allow');
    expect(judgeStatement(policy, statement(['ddl'], ['scratch'])).verdict).toBe('block');
  });

  it('judges each class of a statement on its own, so an allow for writes does not let a drop through', () => {
    const judgement = judgeStatement(policy, statement(['write', 'drop'], ['scratch']));
    expect(judgement.verdict).toBe('block');
    expect(judgement.class).toBe('drop');
  });

  it('ranks block over approve over allow among matching rules', () => {
    const conflicting = parsePolicy(
      'extends: observe\nallow: [{class: write, table: t}]\napprove: [{class: write, table: t}]\nblock: [{table: t}]\n',
      'p.yaml',
    );
    expect(judgeStatement(conflicting, statement(['write'], ['t'])).verdict).toBe('block');
  });

  it('finds the mask rule for a column, preferring the named table over *', () => {
    expect(
      maskRuleFor(policy, { schema: 'public', table: 'customers', column: 'email' })?.strategy.kind,
    ).toBe('email');
    expect(maskRuleFor(policy, { schema: 'hr', table: 'people', column: 'ssn' })?.strategy.kind).toBe(
      'redact',
    );
    expect(maskRuleFor(policy, { schema: 'public', table: 'customers', column: 'name' })).toBeUndefined();
  });

  it('asks for strict recording only when the file says so', () => {
    expect(parsePolicy('extends: guarded\n', 'p.yaml').recording).toBe('best-effort');
    expect(parsePolicy('extends: guarded\nrecording: strict\n', 'p.yaml').recording).toBe('strict');
  });

  it.each([
    ['colour: blue\n', 1, 'colour', /unknown key/],
    ['extends: lenient\n', 1, 'extends', /must be one of read-only, guarded, observe/],
    ['block: [ddl, writes]\n', 1, 'block[1]', /unknown class "writes"/],
    ['block:\n  - ddl\n  - {class: read, tabel: x}\n', 3, 'block[1].tabel', /unknown key/],
    ['mask:\n  - {column: email, strategy: redact}\n', 2, 'mask[0].column', /\[schema\.\]table\.column/],
    ['mask:\n  - {column: a.b.c.d, strategy: redact}\n', 2, 'mask[0].column', /\[schema\.\]table\.column/],
    ['mask:\n  - {column: t.c, strategy: scramble}\n', 2, 'mask[0].strategy', /must be one of/],
    ['mask:\n  - {column: t.c, strategy: partial}\n', 2, 'mask[0].keep', /keep/],
    ['detect: [card, dna]\n', 1, 'detect[1]', /unknown detector "dna"/],
    ['hold_timeout: soon\n', 1, 'hold_timeout', /duration/],
    ['recording: maybe\n', 1, 'recording', /strict or best-effort/],
    // The parser notices the unclosed list where the text ends.
    ['block: [ddl\n', 2, 'yaml', /./],
  ])('refuses %j naming line %i and field %s', (text, line, field, problem) => {
    try {
      parsePolicy(text, 'bad.yaml');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(PolicyFileError);
      const e = error as PolicyFileError;
      expect([e.file, e.line, e.field]).toEqual(['bad.yaml', line, field]);
      expect(e.message).toMatch(problem);
      expect(e.message.startsWith(`bad.yaml:${line}: ${field}: `)).toBe(true);
    }
  });

  it('loads presets by name and files by path, and names a missing file', async () => {
    expect(resolvePolicy('read-only').preset).toBe('read-only');
    const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-policy-'));
    const file = path.join(dir, 'p.yaml');
    await writeFile(file, contract);
    expect(loadPolicyFile(file).rules).toHaveLength(4);
    expect(() => resolvePolicy(path.join(dir, 'missing.yaml'))).toThrow(
      /not a preset .* nor an existing policy file/,
    );
  });

  it('reads identifiers the way PostgreSQL does', () => {
    expect(splitIdentifiers('Public.Customers')).toEqual(['public', 'customers']);
    expect(splitIdentifiers('"Mixed Case"."Col"')).toEqual(['Mixed Case', 'Col']);
    expect(splitIdentifiers('*.ssn', true)).toEqual(['*', 'ssn']);
    expect(splitIdentifiers('a..b')).toBeUndefined();
    expect(splitIdentifiers('a.')).toBeUndefined();
  });

  it('gives each preset its documented verdicts', () => {
    const verdict = (preset: 'read-only' | 'guarded' | 'observe', c: StatementClass) =>
      judgeStatement(presetPolicy(preset), statement([c])).verdict;
    expect(['read', 'session'].map((c) => verdict('read-only', c as StatementClass))).toEqual([
      'allow',
      'allow',
    ]);
    expect(verdict('read-only', 'write')).toBe('block');
    expect(verdict('guarded', 'write')).toBe('approve');
    for (const c of [
      'drop',
      'truncate',
      'ddl',
      'privilege',
      'server-access',
      'dynamic',
      'delete-without-where',
      'update-without-where',
      'unknown',
    ] as StatementClass[]) {
      expect(verdict('guarded', c), c).toBe('block');
    }
  });
});
