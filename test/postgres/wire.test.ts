/** The wire module's readers against its own builders, and what each makes of a malformed message. */
import { describe, expect, it } from 'vitest';
import { readSaslMechanisms } from '../../tunnel/postgres/wire/authentication.ts';
import { tagged } from '../../tunnel/postgres/wire/bytes.ts';
import { Backend } from '../../tunnel/postgres/wire/codes.ts';
import { errorResponse, readNoticeFieldList, readNoticeFields } from '../../tunnel/postgres/wire/notices.ts';
import { ProtocolViolation } from '../../tunnel/postgres/wire/reader.ts';
import { buildDataRow, dataRowCellCount } from '../../tunnel/postgres/wire/results.ts';
import {
  backendKeyData,
  parameterStatus,
  readBackendKeyData,
  readParameterStatus,
} from '../../tunnel/postgres/wire/session-status.ts';
import { cancelRequest, readStartupPacket } from '../../tunnel/postgres/wire/startup.ts';

describe('the notice field list', () => {
  const frame = errorResponse({ severity: 'ERROR', code: '42P01', message: 'no such table', position: 15 });

  it('reads the fields in order and says where the list ends', () => {
    const { fields, end } = readNoticeFieldList(frame);
    expect(fields).toEqual([
      ['S', 'ERROR'],
      ['V', 'ERROR'],
      ['C', '42P01'],
      ['M', 'no such table'],
      ['P', '15'],
    ]);
    expect(end).toBe(frame.length - 1);
    expect(readNoticeFields(frame).get('M')).toBe('no such table');
  });

  it('marks a list without its closing zero, and a field cut off inside its text', () => {
    const unclosed = tagged(Backend.errorResponse, Buffer.from('SERROR\0'));
    expect(readNoticeFieldList(unclosed)).toEqual({ fields: [['S', 'ERROR']], end: unclosed.length });
    const cut = tagged(Backend.errorResponse, Buffer.from('SERROR\0Mno such'));
    expect(readNoticeFieldList(cut)).toEqual({ fields: [['S', 'ERROR']], end: -1 });
    expect([...readNoticeFields(cut)]).toEqual([['S', 'ERROR']]);
  });
});

describe('session status messages', () => {
  it('reads back what it builds', () => {
    expect(readParameterStatus(parameterStatus('TimeZone', 'UTC'))).toEqual({
      name: 'TimeZone',
      value: 'UTC',
    });
    const key = Buffer.from('0123456789abcdef');
    expect(readBackendKeyData(backendKeyData(4242, key))).toEqual({ processId: 4242, secretKey: key });
  });

  it('refuses a ParameterStatus without its value and a BackendKeyData without a whole key', () => {
    const noValue = tagged(Backend.parameterStatus, Buffer.from('TimeZone\0UTC'));
    expect(() => readParameterStatus(noValue)).toThrow(ProtocolViolation);
    expect(() => readBackendKeyData(backendKeyData(1, Buffer.from('abc')))).toThrow(ProtocolViolation);
  });
});

describe('startup and authentication', () => {
  it('reads a CancelRequest with a protocol 3.2 key back', () => {
    const secretKey = Buffer.alloc(32, 7);
    expect(readStartupPacket(cancelRequest(99, secretKey)).cancel).toEqual({ processId: 99, secretKey });
  });

  it('reads the SASL mechanisms up to the empty name and refuses an unterminated one', () => {
    expect(readSaslMechanisms(Buffer.from('SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0'))).toEqual([
      'SCRAM-SHA-256-PLUS',
      'SCRAM-SHA-256',
    ]);
    expect(() => readSaslMechanisms(Buffer.from('SCRAM-SHA'))).toThrow(ProtocolViolation);
  });
});

it('counts the cells of a DataRow it builds', () => {
  expect(dataRowCellCount(buildDataRow(['a', null, Buffer.from([1, 2])]))).toBe(3);
});
