import { describe, expect, it } from 'vitest';
import {
  parseOptions,
  startupSettings,
  StartupOptionsError,
} from '../../tunnel/postgres/wire/startup-options.ts';

describe('the options startup parameter, read as PostgreSQL reads it', () => {
  it.each([
    ['-c statement_timeout=5s', [['statement_timeout', '5s']]],
    ['-cstatement_timeout=5s', [['statement_timeout', '5s']]],
    ['--statement-timeout=5s', [['statement_timeout', '5s']]],
    ['--statement_timeout=5s', [['statement_timeout', '5s']]],
    [
      '  -c\ta=1 \n -c   b=2  ',
      [
        ['a', '1'],
        ['b', '2'],
      ],
    ],
    ['-c application_name=my\\ app', [['application_name', 'my app']]],
    ['-c search_path=a\\,\\ b', [['search_path', 'a, b']]],
    ['-c x=back\\\\slash', [['x', 'back\\slash']]],
    ['-c x=trailing\\', [['x', 'trailing']]],
    ['-c x=', [['x', '']]],
    ['-c x=a=b', [['x', 'a=b']]],
    [
      '-c some.var=42 -c Some.Other=x',
      [
        ['some.var', '42'],
        ['Some.Other', 'x'],
      ],
    ],
    ['-c my-ext.some-var=1', [['my_ext.some_var', '1']]],
    ['-c default_transaction_isolation=serializable', [['default_transaction_isolation', 'serializable']]],
    ['', []],
    ['   ', []],
    ['--', []],
  ])('%j', (options, expected) => {
    expect(parseOptions(options).map((s) => [s.name, s.value])).toEqual(expected);
  });

  it.each([
    ['-c statement_timeout', '-c statement_timeout requires a value'],
    ['--statement_timeout', '--statement_timeout requires a value'],
    ['-c', 'option -c requires an argument'],
    ['-B 1000', 'command-line switch -B in options is not accepted'],
    ['-e', 'command-line switch -e in options is not accepted'],
    ['postgres', 'invalid command-line argument for server process: postgres'],
    ['-- -c a=1', 'invalid command-line argument for server process: -c'],
  ])('refuses %j as the server would', (options, message) => {
    expect(() => parseOptions(options)).toThrow(StartupOptionsError);
    expect(() => parseOptions(options)).toThrow(message);
  });
});

describe('the settings of a startup packet', () => {
  it('applies options first and the other parameters after them, leaving out the protocol’s own', () => {
    const parameters = new Map([
      ['user', 'alice'],
      ['database', 'prod'],
      ['options', '-c statement_timeout=1s -c search_path=app'],
      ['statement_timeout', '2s'],
      ['_pq_.something', 'on'],
      ['replication', 'false'],
      ['DateStyle', 'ISO'],
    ]);
    expect(startupSettings(parameters)).toEqual([
      { name: 'statement_timeout', value: '1s' },
      { name: 'search_path', value: 'app' },
      { name: 'statement_timeout', value: '2s' },
      { name: 'DateStyle', value: 'ISO' },
    ]);
  });

  it('makes node-postgres’s fallback_application_name the application_name when none is given', () => {
    expect(startupSettings(new Map([['fallback_application_name', 'node-postgres']]))).toEqual([
      { name: 'application_name', value: 'node-postgres' },
    ]);
    expect(
      startupSettings(
        new Map([
          ['fallback_application_name', 'node-postgres'],
          ['options', '-c application_name=mine'],
        ]),
      ),
    ).toEqual([{ name: 'application_name', value: 'mine' }]);
  });
});
