import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DATA_TOPICS, type TopicName, type Topics } from '../../schemas/topics.ts';
import { ChdbJournal, type ChdbInsertFormat } from './chdb-journal.ts';
import { journalDigest } from './digest.ts';
import { JournalOpenError, JournalQueryError, JournalWriteError } from './errors.ts';
import { openJournal } from './open.ts';
import { rowObjects } from './rows.ts';
import { runSql } from './sql.ts';
import { JOURNAL_TABLES, tableOf, type JournalTable } from './tables.ts';
import { sampleDeadLetter, sampleMessages, writeSamples } from './test-messages.ts';

// One chdb engine per process and one data folder at a time: every test closes its journal before the next opens one.
let root: string;
let journal: ChdbJournal | undefined;
const folder = (name: string): string => join(root, name);

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'qt-chdb-journal-'));
});
afterEach(async () => {
  await journal?.close();
  journal = undefined;
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

async function open(name: string, batchRows = 10_000, insertFormat?: ChdbInsertFormat): Promise<ChdbJournal> {
  journal = new ChdbJournal({ path: folder(name), batchRows, ...(insertFormat ? { insertFormat } : {}) });
  await journal.init();
  return journal;
}

async function count(j: ChdbJournal, table: JournalTable, final = true): Promise<number> {
  const [r] = await j.query<{ n: number }>(`SELECT count() AS n FROM qt.${table}${final ? ' FINAL' : ''}`);
  return r!.n;
}

/** Reads a table back with times as ms and the payload as hex, ordered by id (and member index). */
async function readBack(j: ChdbJournal, table: JournalTable): Promise<Record<string, unknown>[]> {
  const cols = await j.query<{ name: string; type: string }>(
    `SELECT name, type FROM system.columns WHERE database = 'qt' AND table = '${table}' AND default_kind != 'EPHEMERAL' ORDER BY position`,
  );
  const select = cols.map((c) => (c.type.startsWith('DateTime64') ? `toUnixTimestamp64Milli(\`${c.name}\`) AS \`${c.name}\`` : c.name === 'payload' ? 'hex(payload) AS payload_hex' : `\`${c.name}\``));
  const order = table === 'decision_members' ? 'decision_id, idx' : 'id';
  return j.query(`SELECT ${select.join(', ')} FROM qt.${table} FINAL ORDER BY ${order}`);
}

/** What a mapped row reads back as: quoted nan/inf as numbers, base64 payload as hex. */
function asStored(row: Record<string, unknown>): Record<string, unknown> {
  const num = (v: unknown): unknown => (v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (k === 'payload_base64') out.payload_hex = Buffer.from(v as string, 'base64').toString('hex').toUpperCase();
    else out[k] = Array.isArray(v) ? v.map(num) : num(v);
  }
  return out;
}

/**
 * The samples plus messages with the values a binary encoding could store differently from the JSON insert: -0,
 * subnormal, extreme and long-printing doubles, times near 0, integers above 2^53, non-ASCII, control characters and
 * long strings.
 */
function awkwardBatches(): { topic: TopicName; messages: unknown[] }[] {
  const out: { topic: TopicName; messages: unknown[] }[] = [];
  for (const topic of DATA_TOPICS) out.push({ topic, messages: [0, 1, 2, 3].map((i) => sampleMessages(i)[topic]) });
  out.push({ topic: 'md.trades.v1.dlq', messages: [0, 1, 2, 3].map(sampleDeadLetter) });
  const s = sampleMessages(100);
  const doubles = [-0, 5e-324, 2.2250738585072014e-308, Number.MAX_VALUE, -Number.MAX_VALUE, 0.1 + 0.2, 1 / 3, -1e-310, 123456789.12345679, NaN, -Infinity, 1e21, 4.35e-7];
  out.push({
    topic: 'feat.vectors.v1',
    messages: [
      { ...s['feat.vectors.v1'], values: doubles, close: -0, window: Array.from({ length: 96 }, (_, k) => Math.sin(k + 0.5) * 10 ** ((k % 40) - 20)), windowLength: 32 },
    ],
  });
  const long = `${'é'.repeat(90)}${'x'.repeat(60)}😀`;
  out.push({ topic: 'md.trades.v1', messages: [{ ...s['md.trades.v1'], tsEvent: 5, tsInit: -7, symbol: 'ÉTH/USDT😀', tradeId: long, price: 1e-8, size: 0.1 + 0.7 }] });
  out.push({ topic: 'brain.decisions.v1', messages: [{ ...s['brain.decisions.v1'], refusalDetail: 'nul \u0000 tab \t quote " backslash \\ ü', modeReason: 'x'.repeat(127) }] });
  out.push({ topic: 'md.trades.v1.dlq', messages: [{ ...sampleDeadLetter(100), offset: 2 ** 60, key: 'клю́ч', payload: Buffer.from(Array.from({ length: 300 }, (_, k) => (k * 37) & 0xff)) }] });
  out.push({ topic: 'pos.equity.v1', messages: [{ ...s['pos.equity.v1'], equity: 1e15 + 0.5, openPositions: -2_147_483_648 }] });
  return out;
}

/** Per table, the sorted hashes of every stored row under FINAL. */
async function rowHashes(j: ChdbJournal): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of JOURNAL_TABLES) {
    const rows = await j.query<{ h: string }>(`SELECT toString(cityHash64(*)) AS h FROM qt.${table} FINAL ORDER BY h`);
    out[table] = rows.map((r) => r.h);
  }
  return out;
}

describe('ChdbJournal', () => {
  it('stores the same bytes through RowBinary as through JSON, awkward values included', async () => {
    const stored: Record<string, unknown> = {};
    for (const format of ['JSONCompactEachRow', 'RowBinary'] as const) {
      const j = await open(`format-${format}`, 10_000, format);
      for (const b of awkwardBatches()) await j.write(b.topic, b.messages as never);
      await j.flush();
      stored[format] = { digest: await journalDigest(j), rows: await rowHashes(j) };
      const other = format === 'RowBinary' ? 'JSONCompactEachRow' : 'RowBinary';
      // Every batch went in the format asked for: nothing fell back.
      expect(j.insertedBatches()[other], format).toBe(0);
      expect(j.insertedBatches()[format], format).toBeGreaterThanOrEqual(JOURNAL_TABLES.length);
      await j.close();
      journal = undefined;
    }
    expect(stored.RowBinary).toEqual(stored.JSONCompactEachRow);
  });

  it('inserts a batch it cannot store exactly in binary as JSON, which stores it or fails as before', async () => {
    const j = await open('fallback');
    const trade = sampleMessages(0)['md.trades.v1'];
    // JSON reads a number into a String column as its text; the binary form refuses to guess.
    await j.write('md.trades.v1', [{ ...trade, tradeId: 12345 as unknown as string }]);
    await j.write('md.bars.1m.v1', [sampleMessages(0)['md.bars.1m.v1']]);
    await j.flush();
    // Only the batch that needed it went as JSON.
    expect(j.insertedBatches()).toEqual({ RowBinary: 1, JSONCompactEachRow: 1 });
    expect(await j.query('SELECT trade_id FROM qt.trades')).toEqual([{ trade_id: '12345' }]);
    // A lone surrogate: the JSON insert rejects it, as it always did, and the rows stay buffered for a retry.
    await j.write('md.trades.v1', [{ ...sampleMessages(1)['md.trades.v1'], symbol: 'BTC\ud800' }]);
    const err = (await j.flush().catch((e: unknown) => e)) as JournalWriteError;
    expect(err).toBeInstanceOf(JournalWriteError);
    expect(err.message).toMatch(/surrogate/);
    expect(j.pendingRows()).toEqual({ trades: 1 });
    // Closing flushes, which fails again on that row: the journal still closes.
    await expect(j.close()).rejects.toBeInstanceOf(JournalWriteError);
    journal = undefined;
  });

  it('stores every topic so that each row reads back as written, NaN, nulls, arrays and raw bytes included', async () => {
    const j = await open('roundtrip');
    await writeSamples((t, m) => j.write(t, m), 4);
    await j.flush();
    const expected = new Map<JournalTable, Record<string, unknown>[]>();
    const add = <T extends TopicName>(topic: T, m: Topics[T]): void => {
      for (const [table, rows] of Object.entries(rowObjects(topic, m))) {
        expected.set(table as JournalTable, [...(expected.get(table as JournalTable) ?? []), ...rows!.map(asStored)]);
      }
    };
    for (let i = 0; i < 4; i++) {
      const s = sampleMessages(i);
      for (const topic of DATA_TOPICS) add(topic, s[topic]);
      add('md.trades.v1.dlq', sampleDeadLetter(i));
    }
    for (const table of JOURNAL_TABLES) {
      const want = expected.get(table)!.sort((a, b) =>
        String(a.id ?? a.decision_id).localeCompare(String(b.id ?? b.decision_id)) || Number(a.idx ?? 0) - Number(b.idx ?? 0),
      );
      expect(await readBack(j, table), table).toEqual(want);
    }
    // Spot checks against the messages themselves, not the mapping.
    const fv = sampleMessages(2)['feat.vectors.v1'];
    const [v] = await j.query<{ values: number[]; close: number }>(`SELECT values, close FROM qt.feature_vectors WHERE id = '${fv.id}'`);
    expect(v).toEqual({ values: [0.001, NaN, Infinity, -Infinity, 1e-300, -2.5], close: fv.close });
    const [dl] = await j.query<{ p: string; key: string | null; offset: number }>("SELECT hex(payload) AS p, key, offset FROM qt.dead_letters WHERE id = 'md.trades.v1:0:3'");
    expect(dl).toEqual({ p: '00FFFE0A4103', key: null, offset: 2 ** 40 + 3 });
  });

  it('inserts a batch as soon as a table holds batchRows rows, the rest on flush', async () => {
    const j = await open('batching', 7);
    const trades = Array.from({ length: 10 }, (_, i) => sampleMessages(i)['md.trades.v1']);
    await j.write('md.trades.v1', trades);
    expect(await count(j, 'trades')).toBe(7);
    expect(j.pendingRows()).toEqual({ trades: 3 });
    await j.flush();
    expect(await count(j, 'trades')).toBe(10);
  });

  it('is idempotent: the same messages written twice, and again after a reopen, count once under FINAL', async () => {
    let j = await open('idempotent', 7);
    await writeSamples((t, m) => j.write(t, m), 10);
    await writeSamples((t, m) => j.write(t, m), 10);
    await j.flush();
    const once = await journalDigest(j);
    for (const table of JOURNAL_TABLES) {
      // Every sample decision carries two members.
      expect(await count(j, table), table).toBe(table === 'decision_members' ? 20 : 10);
      expect(await count(j, table, false), table).toBeGreaterThanOrEqual(await count(j, table));
    }
    expect(once.trades).toEqual({ rows: 10, hash: expect.stringMatching(/^[0-9A-F]+$/) });
    await j.close();

    j = await open('idempotent', 7);
    await writeSamples((t, m) => j.write(t, m), 10); // all duplicates
    expect(await journalDigest(j)).toEqual(once);
    await writeSamples((t, m) => j.write(t, m), 5, 10); // 5 new
    await j.flush();
    for (const table of JOURNAL_TABLES) expect(await count(j, table), table).toBe(table === 'decision_members' ? 30 : 15);
  });

  it('gives equal digests for the same messages in any order and batching, and a different hash for a changed row', async () => {
    const all = (i: number) => sampleMessages(i);
    let j = await open('digest-a', 3);
    await writeSamples((t, m) => j.write(t, m), 6);
    const a = await journalDigest(j);
    await j.close();

    j = await open('digest-b', 100);
    for (let i = 5; i >= 0; i--) {
      for (const topic of [...DATA_TOPICS].reverse()) await j.write(topic, [all(i)[topic]] as never);
      await j.write('md.trades.v1.dlq', [sampleDeadLetter(i)]);
      await j.write('md.bars.1m.v1', [all(i)['md.bars.1m.v1']]); // a duplicate
    }
    const b = await journalDigest(j);
    expect(b).toEqual(a);

    // Same id, other content: ReplacingMergeTree keeps the later row, so only that table's hash moves.
    const bar = all(0)['md.bars.1m.v1'];
    await j.write('md.bars.1m.v1', [{ ...bar, close: bar.close + 0.01 }]);
    const c = await journalDigest(j);
    expect(c.bars.rows).toBe(6);
    expect(c.bars.hash).not.toBe(a.bars.hash);
    expect({ ...c, bars: a.bars }).toEqual(a);
  });

  it('translates ClickHouse errors into JournalQueryError with the ClickHouse message', async () => {
    const j = await open('errors');
    const syntax = (await j.query('SELEC 1').catch((e: unknown) => e)) as JournalQueryError;
    expect(syntax).toBeInstanceOf(JournalQueryError);
    expect(syntax.clickhouseCode).toBe(62);
    expect(syntax.message).toMatch(/^Syntax error/);
    expect(syntax.retriable).toBe(false);
    const unknown = (await j.query('SELECT * FROM qt.no_such_table').catch((e: unknown) => e)) as JournalQueryError;
    expect(unknown).toBeInstanceOf(JournalQueryError);
    expect(unknown.clickhouseCode).toBe(60);
    expect(unknown.clickhouseType).toBe('UNKNOWN_TABLE');
    expect(unknown.message).toContain('no_such_table');
    await expect(runSql(j, 'SELECT * FROM qt.no_such_table')).rejects.toBeInstanceOf(JournalQueryError);
  });

  it('returns 64-bit integers as numbers when exact and as strings when not', async () => {
    const j = await open('ints');
    const [r] = await j.query('SELECT toUInt64(18446744073709551615) AS big, toInt64(-5) AS small, toUInt64(9007199254740991) AS edge');
    expect(r).toEqual({ big: '18446744073709551615', small: -5, edge: 9007199254740991 });
  });

  it('runSql prints an aligned table, or ClickHouse text for a query with its own FORMAT', async () => {
    const j = await open('sql');
    await j.write('pos.positions.v1', [0, 1, 3].map((i) => sampleMessages(i)['pos.positions.v1']));
    await j.flush();
    const text = await runSql(j, "SELECT side, count() AS n, round(sum(qty), 3) AS qty FROM qt.positions FINAL GROUP BY side ORDER BY side;");
    expect(text).toBe([' side | n |  qty', '------+---+------', ' FLAT | 2 |  0.1', ' LONG | 1 | 0.05', '(2 rows)'].join('\n'));
    expect(await runSql(j, "SELECT side, count() AS n FROM qt.positions FINAL GROUP BY side ORDER BY side FORMAT CSVWithNames")).toBe('"side","n"\n"FLAT",2\n"LONG",1');
  });

  it('refuses a second data folder while one is open, with a JournalOpenError', async () => {
    await open('first');
    let err: unknown;
    try {
      new ChdbJournal({ path: folder('second') });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JournalOpenError);
    expect((err as JournalOpenError).message).toContain(folder('second'));
  });

  it('openJournal opens the embedded journal at the configured path with the tables created', async () => {
    const j = await openJournal({ path: folder('opened'), batchRows: 5 });
    journal = j as ChdbJournal;
    expect(j).toBeInstanceOf(ChdbJournal);
    const tables = await j.query<{ name: string }>("SELECT name FROM system.tables WHERE database = 'qt' ORDER BY name");
    expect(tables.map((t) => t.name)).toEqual([...JOURNAL_TABLES].sort());
    expect(tableOf('exec.fills.v1.dlq')).toBe('dead_letters');
  });
});
