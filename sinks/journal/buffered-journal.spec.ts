import { describe, expect, it } from 'vitest';
import { EncodeError } from '../../schemas/codec.ts';
import type { Meter } from '../../schemas/ports.ts';
import { BufferedJournal, converterFor, hasFormatClause, parseJsonFormat, trimStatement, type JournalBackend, type ResultColumn } from './buffered-journal.ts';
import { JournalClosedError, JournalOpenError, JournalQueryError, JournalWriteError } from './errors.ts';
import type { Row } from './rows.ts';
import { sampleMessages } from './test-messages.ts';

/** A backend that records calls and fails on demand. */
class FakeBackend implements JournalBackend {
  readonly calls: string[] = [];
  readonly inserted: { table: string; columns: readonly string[]; rows: readonly Row[] }[] = [];
  failInserts = 0;
  failCommand: string | undefined;
  /** Called as an insert starts (before it awaits). */
  onInsert: (() => void) | undefined;
  result: { meta: ResultColumn[]; data: Record<string, unknown>[] } = { meta: [], data: [] };
  closed = false;

  async command(sql: string): Promise<void> {
    this.calls.push(`command ${sql}`);
    if (this.failCommand && sql.includes(this.failCommand)) throw Object.assign(new Error('Code: 62. DB::Exception: Syntax error: bad. (SYNTAX_ERROR)'), { clickhouseCode: 62 });
  }
  async insert(table: string, columns: readonly string[], rows: readonly Row[]): Promise<void> {
    this.calls.push(`insert ${table} ${rows.length}`);
    this.onInsert?.();
    await new Promise((r) => setTimeout(r, 1));
    if (this.failInserts > 0) {
      this.failInserts--;
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
    }
    this.inserted.push({ table, columns, rows });
  }
  async queryJson(sql: string): Promise<{ meta: ResultColumn[]; data: Record<string, unknown>[] }> {
    this.calls.push(`query ${sql}`);
    if (sql.includes('nope')) throw Object.assign(new Error('Code: 60. DB::Exception: Unknown table qt.nope. (UNKNOWN_TABLE)'), { clickhouseCode: 60 });
    return structuredClone(this.result);
  }
  async queryText(sql: string): Promise<string> {
    this.calls.push(`text ${sql}`);
    return 'a,b\n1,2\n';
  }
  async close(): Promise<void> {
    this.calls.push('close');
    this.closed = true;
  }
}

const trades = (n: number, from = 0) => Array.from({ length: n }, (_, i) => sampleMessages(from + i)['md.trades.v1']);
const bars = (n: number, from = 0) => Array.from({ length: n }, (_, i) => sampleMessages(from + i)['md.bars.1m.v1']);
const insertedRows = (b: FakeBackend, table: string) => b.inserted.filter((x) => x.table === table).reduce((s, x) => s + x.rows.length, 0);

describe('BufferedJournal', () => {
  it('applies the DDL statements in order on init', async () => {
    const b = new FakeBackend();
    const j = new BufferedJournal(b, { ddl: [{ file: '000.sql', sql: 'CREATE DATABASE a' }, { file: '001.sql', sql: 'CREATE TABLE a.t' }] });
    await j.init();
    expect(b.calls).toEqual(['command CREATE DATABASE a', 'command CREATE TABLE a.t']);
  });

  it('names the DDL file when a statement fails', async () => {
    const b = new FakeBackend();
    b.failCommand = 'a.t';
    const j = new BufferedJournal(b, { ddl: [{ file: '000.sql', sql: 'CREATE DATABASE a' }, { file: '001_t.sql', sql: 'CREATE TABLE a.t' }] });
    const err = await j.init().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JournalOpenError);
    expect((err as JournalOpenError).message).toContain('001_t.sql: Syntax error: bad');
    expect((err as JournalOpenError).clickhouseCode).toBe(62);
    expect((err as JournalOpenError).retriable).toBe(false);
  });

  it('buffers below batchRows and inserts nothing until flush', async () => {
    const b = new FakeBackend();
    const j = new BufferedJournal(b, { batchRows: 5, ddl: [] });
    await j.write('md.trades.v1', trades(4));
    expect(b.inserted).toEqual([]);
    expect(j.pendingRows()).toEqual({ trades: 4 });
    await j.flush();
    expect(b.inserted.map((x) => [x.table, x.rows.length])).toEqual([['trades', 4]]);
    expect(b.inserted[0]!.columns.slice(0, 3)).toEqual(['id', 'ts_event', 'ts_init']);
    expect(j.pendingRows()).toEqual({});
  });

  it('inserts a full batch as soon as a table reaches batchRows, in chunks of batchRows', async () => {
    const b = new FakeBackend();
    const j = new BufferedJournal(b, { batchRows: 5, ddl: [] });
    await j.write('md.trades.v1', trades(12));
    // 12 rows: two full batches of 5 go at once, 2 stay buffered.
    expect(b.inserted.map((x) => x.rows.length)).toEqual([5, 5]);
    expect(j.pendingRows()).toEqual({ trades: 2 });
    await j.write('md.bars.1m.v1', bars(3));
    await j.flush();
    expect(insertedRows(b, 'trades')).toBe(12);
    expect(insertedRows(b, 'bars')).toBe(3);
  });

  it('writes without awaiting are all inserted by the next flush, in order', async () => {
    const b = new FakeBackend();
    const j = new BufferedJournal(b, { batchRows: 3, ddl: [] });
    const writes = trades(10).map((t) => j.write('md.trades.v1', [t]));
    await j.flush();
    await Promise.all(writes);
    const ids = b.inserted.flatMap((x) => x.rows.map((r) => r[0]));
    expect(ids).toEqual(trades(10).map((t) => t.id));
  });

  it('a flush inserts what was buffered when it started, not the rows written while it awaits the engine', async () => {
    const b = new FakeBackend();
    const j = new BufferedJournal(b, { batchRows: 100, ddl: [] });
    await j.write('md.trades.v1', trades(3));
    // A producer that keeps up with the inserts would otherwise turn one flush into endless tiny inserts.
    let more = 3;
    b.onInsert = () => {
      if (more-- > 0) void j.write('md.trades.v1', trades(1, 10 + more));
    };
    await j.flush();
    expect(b.calls.filter((c) => c.startsWith('insert'))).toEqual(['insert trades 3']);
    expect(j.pendingRows()).toEqual({ trades: 1 });
    b.onInsert = undefined;
    await j.flush();
    expect(insertedRows(b, 'trades')).toBe(4);
  });

  it('keeps the rows of a failed insert and inserts them on the next flush', async () => {
    const b = new FakeBackend();
    const j = new BufferedJournal(b, { batchRows: 100, ddl: [] });
    await j.write('md.trades.v1', trades(3));
    b.failInserts = 1;
    const err = await j.flush().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JournalWriteError);
    expect((err as JournalWriteError).table).toBe('trades');
    expect((err as JournalWriteError).rows).toBe(3);
    expect((err as JournalWriteError).retriable).toBe(true);
    expect(j.pendingRows()).toEqual({ trades: 3 });
    await j.flush();
    expect(insertedRows(b, 'trades')).toBe(3);
  });

  it('a flush after a failed batch insert still covers that batch', async () => {
    const b = new FakeBackend();
    const j = new BufferedJournal(b, { batchRows: 2, ddl: [] });
    b.failInserts = 1;
    const w1 = j.write('md.trades.v1', trades(2));
    const w2 = j.write('md.trades.v1', trades(1, 2));
    // The batch insert fails after this flush was called; the flush must still insert those rows before resolving.
    const flushed = j.flush();
    await expect(w1).rejects.toBeInstanceOf(JournalWriteError);
    await expect(w2).rejects.toBeInstanceOf(JournalWriteError);
    await flushed;
    expect(insertedRows(b, 'trades')).toBe(3);
    expect(j.pendingRows()).toEqual({});
  });

  it('rejects, rather than throws, when a message cannot be mapped', async () => {
    const j = new BufferedJournal(new FakeBackend(), { ddl: [] });
    const bad = { ...sampleMessages(0)['md.trades.v1'] } as never;
    const dl = { id: 'x', payload: 'not bytes' } as never;
    await expect(j.write('md.trades.v1.dlq', [dl])).rejects.toThrow(EncodeError);
    await expect(j.write('no.such.topic' as never, [bad])).rejects.toMatchObject({ name: 'UnknownTopicError', topic: 'no.such.topic', retriable: false });
  });

  it('maps decisions to two tables: the decision and one row per member', async () => {
    const b = new FakeBackend();
    const j = new BufferedJournal(b, { ddl: [] });
    const d = sampleMessages(0)['brain.decisions.v1'];
    await j.write('brain.decisions.v1', [d]);
    expect(j.pendingRows()).toEqual({ decisions: 1, decision_members: 2 });
  });

  it('counts inserted rows per table on the meter', async () => {
    const counts: Record<string, number> = {};
    const meter: Meter = {
      counter: (name) => ({ inc: (labels, v = 1) => void (counts[`${name}{${labels?.table}}`] = (counts[`${name}{${labels?.table}}`] ?? 0) + v) }),
      gauge: () => ({ set: () => undefined }),
      histogram: () => ({ observe: () => undefined }),
    };
    const j = new BufferedJournal(new FakeBackend(), { batchRows: 4, ddl: [], meter });
    await j.write('md.trades.v1', trades(6));
    await j.flush();
    expect(counts).toEqual({ 'qt_journal_rows_total{trades}': 6 });
  });

  it('close flushes, closes the backend once, and later calls fail with JournalClosedError', async () => {
    const b = new FakeBackend();
    const j = new BufferedJournal(b, { ddl: [] });
    await j.write('md.trades.v1', trades(2));
    await Promise.all([j.close(), j.close()]);
    expect(insertedRows(b, 'trades')).toBe(2);
    expect(b.calls.filter((c) => c === 'close')).toHaveLength(1);
    await expect(j.write('md.trades.v1', trades(1))).rejects.toBeInstanceOf(JournalClosedError);
    await expect(j.flush()).rejects.toBeInstanceOf(JournalClosedError);
    await expect(j.query('SELECT 1')).rejects.toBeInstanceOf(JournalClosedError);
  });

  it('close still closes the backend when the final flush fails, and reports the failure', async () => {
    const b = new FakeBackend();
    const j = new BufferedJournal(b, { ddl: [] });
    await j.write('md.trades.v1', trades(1));
    b.failInserts = 1;
    await expect(j.close()).rejects.toBeInstanceOf(JournalWriteError);
    expect(b.closed).toBe(true);
  });

  it('query converts 64-bit integers that fit a double and quoted nan/inf, and keeps the rest', async () => {
    const b = new FakeBackend();
    b.result = {
      meta: [
        { name: 'n', type: 'UInt64' },
        { name: 'big', type: 'Int64' },
        { name: 'x', type: 'Float64' },
        { name: 'xs', type: 'Array(Nullable(Float64))' },
        { name: 's', type: 'LowCardinality(String)' },
      ],
      data: [{ n: '42', big: '9007199254740993', x: '-inf', xs: [1.5, 'nan', null], s: 'nan' }],
    };
    const j = new BufferedJournal(b, { ddl: [] });
    const rows = await j.query('SELECT 1;  ');
    expect(rows).toEqual([{ n: 42, big: '9007199254740993', x: -Infinity, xs: [1.5, NaN, null], s: 'nan' }]);
    expect(b.calls).toEqual(['query SELECT 1']);
  });

  it('query failures are JournalQueryError with the ClickHouse message and code', async () => {
    const j = new BufferedJournal(new FakeBackend(), { ddl: [] });
    const err = (await j.query('SELECT * FROM qt.nope').catch((e: unknown) => e)) as JournalQueryError;
    expect(err).toBeInstanceOf(JournalQueryError);
    expect(err.clickhouseMessage).toBe('Unknown table qt.nope');
    expect(err.clickhouseCode).toBe(60);
    expect(err.clickhouseType).toBe('UNKNOWN_TABLE');
    expect(err.sql).toBe('SELECT * FROM qt.nope');
  });

  it('rejects a batch size that is not a positive integer', () => {
    expect(() => new BufferedJournal(new FakeBackend(), { batchRows: 0 })).toThrow(RangeError);
  });
});

describe('query helpers', () => {
  it('trimStatement drops trailing semicolons and blanks only', () => {
    expect(trimStatement('SELECT 1 ;\n ')).toBe('SELECT 1');
    expect(trimStatement("SELECT ';'")).toBe("SELECT ';'");
  });

  it('hasFormatClause finds a final FORMAT clause', () => {
    expect(hasFormatClause('SELECT 1 FORMAT CSVWithNames;')).toBe(true);
    expect(hasFormatClause('select 1 format JSONEachRow')).toBe(true);
    expect(hasFormatClause("SELECT 'FORMAT' AS f")).toBe(false);
    expect(hasFormatClause('SELECT formatReadableSize(1)')).toBe(false);
  });

  it('converterFor covers wrapped 64-bit integers and floats, and nothing else', () => {
    expect(converterFor('Nullable(Int64)')?.('-12')).toBe(-12);
    expect(converterFor('UInt128')?.('340282366920938463463374607431768211455')).toBe('340282366920938463463374607431768211455');
    expect(converterFor('Array(UInt64)')?.(['1', '2'])).toEqual([1, 2]);
    expect(converterFor('Float32')?.('inf')).toBe(Infinity);
    expect(converterFor('String')).toBeUndefined();
    expect(converterFor('Int32')).toBeUndefined();
    expect(converterFor("DateTime64(3, 'UTC')")).toBeUndefined();
  });
});

describe('parseJsonFormat', () => {
  it('reads ClickHouse JSON and gives nothing for an empty result', () => {
    expect(parseJsonFormat('{"meta":[{"name":"x","type":"UInt8"}],"data":[{"x":1}]}', 'SELECT 1 AS x')).toEqual({ meta: [{ name: 'x', type: 'UInt8' }], data: [{ x: 1 }] });
    expect(parseJsonFormat(' \n', 'CREATE TABLE t')).toEqual({ meta: [], data: [] });
  });

  it('refuses output that is not JSON with a JournalQueryError that is not retriable', () => {
    let e: unknown;
    try {
      parseJsonFormat('x\n1\n', 'SELECT 1 AS x FORMAT CSVWithNames');
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(JournalQueryError);
    expect(e).toMatchObject({ name: 'JournalQueryError', operation: 'query', retriable: false, sql: 'SELECT 1 AS x FORMAT CSVWithNames' });
    expect((e as Error).message).toMatch(/not JSON/);
  });
});
