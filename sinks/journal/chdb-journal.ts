import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
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
import type { Row } from './rows.ts';
import { JOURNAL_DB } from './tables.ts';

/** The default folder of the embedded journal. */
export const DEFAULT_JOURNAL_PATH = './var/journal';

/** Backend over an embedded chdb Session (one data folder per process). */
export class ChdbBackend implements JournalBackend {
  private constructor(private readonly session: Session) {}

  /** Opens (creating if needed) the data folder. */
  static open(path: string): ChdbBackend {
    const abs = resolve(path);
    try {
      mkdirSync(abs, { recursive: true });
      const args = Object.entries(JSON_OUTPUT_SETTINGS).map(([k, v]) => `--${k}=${v}`);
      return new ChdbBackend(new Session(abs, { connectionArgs: args }));
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
    // JSONCompactEachRow as one Buffer: measured fastest (see insert-bench.ts); the engine parses it off the event loop.
    let body = '';
    for (const r of rows) body += `${JSON.stringify(r)}\n`;
    await this.session.insert({ table: `${JOURNAL_DB}.${table}`, columns, values: Buffer.from(body), format: 'JSONCompactEachRow', settings: INSERT_SETTINGS });
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
  }
}

/** Options of the embedded journal. */
export interface ChdbJournalOptions extends JournalOptions {
  /** Data folder (default ./var/journal); created if missing. */
  readonly path?: string;
}

/**
 * The embedded journal: ClickHouse in the process (chdb) over a data folder. Only one folder can be open per process;
 * opening the same folder again shares the engine.
 */
export class ChdbJournal extends BufferedJournal {
  /** The absolute data folder. */
  readonly path: string;

  constructor(opts: ChdbJournalOptions = {}) {
    const path = resolve(opts.path ?? DEFAULT_JOURNAL_PATH);
    super(ChdbBackend.open(path), opts);
    this.path = path;
  }
}
