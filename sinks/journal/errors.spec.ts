import { describe, expect, it } from 'vitest';
import { JournalError, JournalOpenError, JournalQueryError, parseClickhouseMessage, toJournalError } from './errors.ts';

describe('parseClickhouseMessage', () => {
  it('splits a server exception into code, name and message, dropping the version', () => {
    expect(parseClickhouseMessage('Code: 60. DB::Exception: Table qt.x does not exist. (UNKNOWN_TABLE) (version 24.3.2.23 (official build))')).toEqual({
      code: 60,
      type: 'UNKNOWN_TABLE',
      message: 'Table qt.x does not exist',
    });
  });

  it('reads chdb\'s synchronous "Query failed:" prefix', () => {
    expect(parseClickhouseMessage('Query failed: Code: 62. DB::Exception: Syntax error: failed at position 1. (SYNTAX_ERROR)')).toEqual({
      code: 62,
      type: 'SYNTAX_ERROR',
      message: 'Syntax error: failed at position 1',
    });
  });

  it('leaves a message without a code alone', () => {
    expect(parseClickhouseMessage('connect ECONNREFUSED 127.0.0.1:8123')).toEqual({ message: 'connect ECONNREFUSED 127.0.0.1:8123' });
  });
});

describe('toJournalError', () => {
  it('reads the fields of an @clickhouse/client ClickHouseError (string code and type)', () => {
    const e = Object.assign(new Error('Unknown table expression identifier qt.nope. '), { code: '60', type: 'UNKNOWN_TABLE' });
    const j = toJournalError(e, 'query', 'SELECT * FROM qt.nope');
    expect(j).toBeInstanceOf(JournalQueryError);
    expect([j.clickhouseCode, j.clickhouseType, j.clickhouseMessage, j.retriable]).toEqual([60, 'UNKNOWN_TABLE', 'Unknown table expression identifier qt.nope', false]);
    expect(j.cause).toBe(e);
  });

  it('marks network failures and server overload codes retriable', () => {
    expect(toJournalError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'insert', 'INSERT').retriable).toBe(true);
    expect(toJournalError(Object.assign(new Error('Code: 159. DB::Exception: Timeout exceeded. (TIMEOUT_EXCEEDED)'), {}), 'query', 'SELECT').retriable).toBe(true);
    expect(toJournalError(new Error('Code: 241. DB::Exception: Memory limit exceeded. (MEMORY_LIMIT_EXCEEDED)'), 'insert', 'INSERT').retriable).toBe(true);
    expect(toJournalError(new Error('Code: 62. DB::Exception: Syntax error. (SYNTAX_ERROR)'), 'query', 'SELEC').retriable).toBe(false);
  });

  it('uses the class asked for, keeps a JournalError as it is, and trims a long statement', () => {
    const open = toJournalError(new Error('x'), 'open', 'p', JournalOpenError);
    expect(open).toBeInstanceOf(JournalOpenError);
    expect(open.name).toBe('JournalOpenError');
    expect(toJournalError(open, 'query', 'q')).toBe(open);
    const long = toJournalError(new Error('x'), 'insert', 'y'.repeat(2000));
    expect(long).toBeInstanceOf(JournalError);
    expect(long.sql.length).toBe(501);
  });

  it('shortens the parser\'s list of expected tokens in the message, not in clickhouseMessage', () => {
    const list = Array.from({ length: 20 }, (_, i) => `T${i}`).join(', ');
    const e = toJournalError(new Error(`Code: 62. DB::Exception: Syntax error: failed at position 7 (1): 1. Expected one of: ${list}, end of query. (SYNTAX_ERROR)`), 'query', 'SELEC 1');
    expect(e.message).toBe('Syntax error: failed at position 7 (1): 1. Expected one of: T0, T1, T2, T3, T4, T5, T6, T7, … (12 more) [62 SYNTAX_ERROR]');
    expect(e.clickhouseMessage).toContain('T19, end of query');
  });
});
