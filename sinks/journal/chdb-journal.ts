import { mkdirSync, rmSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Session } from 'chdb';
import {
  BufferedJournal,
  INSERT_SETTINGS,
  JSON_OUTPUT_SETTINGS,
  parseJsonFormat,
  type JournalBackend,
  type JournalOptions,
  type ResultColumn,
} from './buffered-journal.ts';
import { JournalOpenError, toJournalError } from './errors.ts';
import { BinaryWriter, rowsEncoderFor, Unencodable, type RowsEncoder } from './row-binary.ts';
import type { Row } from './rows.ts';
import { JOURNAL_DB } from './tables.ts';

/** The default folder of the embedded journal. */
export const DEFAULT_JOURNAL_PATH = './var/journal';

/**
 * How the embedded journal hands rows to the engine: `RowBinary` (default) encodes them in ClickHouse's binary row
 * format and inserts the batch from a file (`INSERT ... FROM INFILE`, chdb's insert API takes only text formats);
 * `JSONCompactEachRow` prints them as JSON text and inserts that. Both store the same bytes (row-binary.ts, and
 * chdb-journal.spec.ts compares them); a batch the binary form cannot store exactly goes as JSON anyway.
 */
export type ChdbInsertFormat = 'RowBinary' | 'JSONCompactEachRow';

/** Sub-folder of the data folder holding each binary batch while it is inserted (removed on open and close). */
const INSERT_DIR = '.qt-insert';
// Backends open per insert folder in this process (the same data folder can be opened twice: they share it), and a
// file counter shared by all of them, so no two batches ever have the same file.
const openInsertDirs = new Map<string, number>();
let fileSeq = 0;

/** Backend over an embedded chdb Session (one data folder per process). */
export class ChdbBackend implements JournalBackend {
  // Per table: the RowBinary encoder of its inserted columns (read from system.columns), null when there is none.
  private readonly encoders = new Map<string, RowsEncoder | null>();
  private readonly insertDir: string;
  private spare: BinaryWriter | undefined;
  private closed = false;
  /** Batches inserted so far, per body format (a batch the binary form cannot store exactly goes as JSON). */
  readonly insertedBatches: Record<ChdbInsertFormat, number> = { RowBinary: 0, JSONCompactEachRow: 0 };

  private constructor(
    private readonly session: Session,
    path: string,
    private readonly format: ChdbInsertFormat,
  ) {
    this.insertDir = join(path, INSERT_DIR);
  }

  /** Opens (creating if needed) the data folder. */
  static open(path: string, format: ChdbInsertFormat = 'RowBinary'): ChdbBackend {
    const abs = resolve(path);
    try {
      mkdirSync(abs, { recursive: true });
      const args = Object.entries(JSON_OUTPUT_SETTINGS).map(([k, v]) => `--${k}=${v}`);
      const backend = new ChdbBackend(new Session(abs, { connectionArgs: args }), abs, format);
      const open = openInsertDirs.get(backend.insertDir) ?? 0;
      // Batches left by a process that died mid-insert (never inserted, or inserted and not removed); not those of a
      // backend of this process still open on the same folder.
      if (open === 0) rmSync(backend.insertDir, { recursive: true, force: true });
      openInsertDirs.set(backend.insertDir, open + 1);
      return backend;
    } catch (e) {
      const err = toJournalError(e, 'open', `open ${abs}`, JournalOpenError);
      throw new JournalOpenError('open', `cannot open the journal at ${abs}: ${err.clickhouseMessage}`, err.clickhouseCode, err.clickhouseType, err.sql, {
        retriable: err.retriable,
        cause: e,
      });
    }
  }

  async command(sql: string): Promise<void> {
    await this.session.queryAsync(sql, { format: 'TabSeparated' });
  }

  async insert(table: string, columns: readonly string[], rows: readonly Row[]): Promise<void> {
    if (rows.length === 0) return;
    if (this.format === 'RowBinary') {
      const encode = await this.encoderOf(table, columns);
      if (encode) {
        const w = this.spare ?? new BinaryWriter(1 << 20);
        this.spare = undefined;
        w.pos = 0;
        let encoded = true;
        try {
          encode(rows, w);
        } catch (e) {
          if (!(e instanceof Unencodable)) throw e;
          encoded = false;
        }
        try {
          if (encoded) {
            await this.insertBinary(table, columns, w.bytes());
            this.insertedBatches.RowBinary++;
            return;
          }
        } catch (e) {
          // The engine may disagree with the types read earlier (a table re-created since): read them again next time.
          this.encoders.delete(table);
          throw e;
        } finally {
          this.spare = w;
        }
      }
    }
    // JSONCompactEachRow as one Buffer: the engine parses it off the event loop.
    let body = '';
    for (const r of rows) body += `${JSON.stringify(r)}\n`;
    await this.session.insert({ table: `${JOURNAL_DB}.${table}`, columns, values: Buffer.from(body), format: 'JSONCompactEachRow', settings: INSERT_SETTINGS });
    this.insertedBatches.JSONCompactEachRow++;
  }

  /** Writes the batch to a file and inserts it from there: the engine reads it off the event loop, like any insert. */
  private async insertBinary(table: string, columns: readonly string[], bytes: Buffer): Promise<void> {
    mkdirSync(this.insertDir, { recursive: true });
    const file = join(this.insertDir, `${table}-${process.pid}-${++fileSeq}.rowbinary`);
    try {
      await writeFile(file, bytes);
      const settings = Object.entries(INSERT_SETTINGS).map(([k, v]) => `${k} = ${v}`).join(', ');
      await this.session.queryAsync(
        `INSERT INTO ${JOURNAL_DB}.${table} (${columns.map((c) => `\`${c}\``).join(', ')}) FROM INFILE ${sqlString(file)} SETTINGS ${settings} FORMAT RowBinary`,
        { format: 'TabSeparated' },
      );
    } finally {
      await rm(file, { force: true });
    }
  }

  /** The RowBinary encoder of the columns, from their types in the table; null when a type has no encoder. */
  private async encoderOf(table: string, columns: readonly string[]): Promise<RowsEncoder | null> {
    let hit = this.encoders.get(table);
    if (hit !== undefined) return hit;
    const res = await this.queryJson(`SELECT name, type FROM system.columns WHERE database = ${sqlString(JOURNAL_DB)} AND table = ${sqlString(table)}`);
    const types = new Map(res.data.map((r) => [String(r.name), String(r.type)]));
    const wanted = columns.map((c) => types.get(c));
    // A column the table lacks: the JSON insert reports it as ClickHouse words it.
    hit = wanted.every((t) => t !== undefined) ? (rowsEncoderFor(wanted as string[]) ?? null) : null;
    this.encoders.set(table, hit);
    return hit;
  }

  async queryJson(sql: string): Promise<{ meta: ResultColumn[]; data: Record<string, unknown>[] }> {
    const text = (await this.session.queryAsync(sql, { format: 'JSON' })).text();
    return parseJsonFormat(text, sql);
  }

  async queryText(sql: string): Promise<string> {
    return (await this.session.queryAsync(sql)).text();
  }

  async close(): Promise<void> {
    this.session.close();
    if (this.closed) return;
    this.closed = true;
    const open = (openInsertDirs.get(this.insertDir) ?? 1) - 1;
    if (open > 0) openInsertDirs.set(this.insertDir, open);
    else {
      openInsertDirs.delete(this.insertDir);
      rmSync(this.insertDir, { recursive: true, force: true });
    }
  }
}

/** A ClickHouse string literal. */
function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Options of the embedded journal. */
export interface ChdbJournalOptions extends JournalOptions {
  /** Data folder (default ./var/journal); created if missing. */
  readonly path?: string;
  /** How rows reach the engine (default RowBinary); both store the same bytes. */
  readonly insertFormat?: ChdbInsertFormat;
}

/**
 * The embedded journal: ClickHouse in the process (chdb) over a data folder. Only one folder can be open per process;
 * opening the same folder again shares the engine.
 */
export class ChdbJournal extends BufferedJournal {
  /** The absolute data folder. */
  readonly path: string;
  private readonly chdb: ChdbBackend;

  constructor(opts: ChdbJournalOptions = {}) {
    const path = resolve(opts.path ?? DEFAULT_JOURNAL_PATH);
    const backend = ChdbBackend.open(path, opts.insertFormat);
    super(backend, opts);
    this.path = path;
    this.chdb = backend;
  }

  /** Batches inserted so far, per body format. */
  insertedBatches(): Readonly<Record<ChdbInsertFormat, number>> {
    return { ...this.chdb.insertedBatches };
  }
}
