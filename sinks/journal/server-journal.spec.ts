import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journalDigest } from './digest.ts';
import { JournalOpenError, JournalQueryError, JournalWriteError } from './errors.ts';
import { ServerJournal } from './server-journal.ts';
import { runSql } from './sql.ts';
import { JOURNAL_TABLES } from './tables.ts';
import { sampleMessages, writeSamples } from './test-messages.ts';

// No ClickHouse server here: the real @clickhouse/client runs against chdb plugged in as its connection, so the
// client calls, settings, formats and error shapes are the real ones; only the HTTP transport is not exercised.
describe('ServerJournal over @clickhouse/client (chdb as the connection)', () => {
  let dir: string;
  let journal: ServerJournal;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qt-server-journal-'));
    // chdb types its Connection against @clickhouse/client-common, the client against its bundled copy: same shape.
    type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>;
    const connection = createChdbConnection({ path: dir }) as unknown as ClientConnection;
    journal = new ServerJournal({ client: createClient({ connection }), batchRows: 4 });
    await journal.init();
  });

  afterAll(async () => {
    await journal?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the tables, writes in batches and deduplicates re-inserted events', async () => {
    await writeSamples((t, m) => journal.write(t, m), 6);
    await writeSamples((t, m) => journal.write(t, m), 6);
    const digest = await journalDigest(journal);
    expect(Object.keys(digest)).toEqual([...JOURNAL_TABLES]);
    for (const table of JOURNAL_TABLES) expect(digest[table].rows, table).toBe(table === 'decision_members' ? 12 : 6);
  });

  it('reads values back exactly, NaN and 64-bit integers included', async () => {
    const fv = sampleMessages(1)['feat.vectors.v1'];
    const [r] = await journal.query(`SELECT values, toUnixTimestamp64Milli(ts_event) AS ts, toUInt64(18446744073709551615) AS big FROM qt.feature_vectors FINAL WHERE id = '${fv.id}'`);
    expect(r).toEqual({ values: [0.001, NaN, Infinity, -Infinity, 1e-300, -2.5], ts: fv.tsEvent, big: '18446744073709551615' });
    const [dl] = await journal.query<{ p: string }>("SELECT hex(payload) AS p FROM qt.dead_letters FINAL WHERE id = 'md.trades.v1:0:2'");
    expect(dl!.p).toBe('00FFFE0A4102');
  });

  it('translates the client\'s ClickHouseError into JournalQueryError', async () => {
    const err = (await journal.query('SELECT * FROM qt.missing').catch((e: unknown) => e)) as JournalQueryError;
    expect(err).toBeInstanceOf(JournalQueryError);
    expect(err.clickhouseCode).toBe(60);
    expect(err.clickhouseType).toBe('UNKNOWN_TABLE');
    expect(err.message).toContain('qt.missing');
  });

  it('runs qt sql through the client, table and FORMAT passthrough', async () => {
    expect(await runSql(journal, "SELECT account, count() AS n FROM qt.equity FINAL GROUP BY account")).toBe(' account | n\n---------+---\n paper   | 6\n(1 row)');
    expect(await runSql(journal, 'SELECT count() AS n FROM qt.equity FINAL FORMAT TSV')).toBe('6');
  });
});

describe('ServerJournal against an unreachable server', () => {
  it('fails init with a retriable JournalOpenError, and a write with a retriable JournalWriteError that keeps the rows', async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const j = new ServerJournal({ url: 'http://127.0.0.1:1', requestTimeoutMs: 2_000 });
    const open = (await j.init().catch((e: unknown) => e)) as JournalOpenError;
    expect(open).toBeInstanceOf(JournalOpenError);
    expect(open.retriable).toBe(true);
    expect(open.message).toContain('000_database.sql');
    await j.write('md.trades.v1', [sampleMessages(0)['md.trades.v1']]);
    const write = (await j.flush().catch((e: unknown) => e)) as JournalWriteError;
    expect(write).toBeInstanceOf(JournalWriteError);
    expect(write.retriable).toBe(true);
    expect(j.pendingRows()).toEqual({ trades: 1 });
    await expect(j.close()).rejects.toBeInstanceOf(JournalWriteError);
  });
});
