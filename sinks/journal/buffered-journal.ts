import type { Counter, Journal, Meter } from '../../schemas/ports.ts';
import type { TopicName, Topics } from '../../schemas/topics.ts';
import { METRICS, defineCounter } from '../../schemas/metrics.ts';
import { loadDdl, type DdlStatement } from './ddl.ts';
import { JournalClosedError, JournalOpenError, JournalQueryError, JournalWriteError, toJournalError } from './errors.ts';
import { mapRows, type Row } from './rows.ts';
import { JOURNAL_DB, JOURNAL_TABLES, columnsOf, type JournalTable } from './tables.ts';

/** A column of a query result: its name and ClickHouse type. */
export interface ResultColumn {
  readonly name: string;
  readonly type: string;
}

/** A query result with its columns in order. */
export interface QueryResult<R = Record<string, unknown>> {
  readonly columns: readonly ResultColumn[];
  readonly rows: R[];
}

/**
 * What a journal needs from ClickHouse: implemented over embedded chdb and over @clickhouse/client. Errors are thrown
 * as the client throws them; the journal translates them.
 */
export interface JournalBackend {
  /** Runs a statement that returns nothing (DDL). */
  command(sql: string): Promise<void>;
  /**
   * Inserts positional JSON-ready rows into `qt.<table>` with an explicit column list, unknown fields rejected; stored
   * as their JSONCompactEachRow insert stores them, whatever the body's format (chdb: RowBinary, server: JSON).
   */
  insert(table: string, columns: readonly string[], rows: readonly Row[]): Promise<void>;
  /** Runs a query in ClickHouse's JSON format: `meta` (names and types) and `data` (64-bit integers and non-finite floats quoted). */
  queryJson(sql: string): Promise<{ meta: ResultColumn[]; data: Record<string, unknown>[] }>;
  /** Runs a query that carries its own FORMAT clause and returns the text as ClickHouse wrote it. */
  queryText(sql: string): Promise<string>;
  /** Releases the connection. */
  close(): Promise<void>;
}

/** Options shared by the journals. */
export interface JournalOptions {
  /** Rows buffered per table before an insert; also the largest insert. Default 10,000. */
  readonly batchRows?: number;
  /** Counts inserted rows as qt_journal_rows_total{table}. */
  readonly meter?: Meter;
  /** DDL statements to apply on init (default: deploy/clickhouse). */
  readonly ddl?: readonly DdlStatement[];
}

/**
 * Output settings given to the engine at connect: 64-bit integers and nan/inf quoted in JSON, so nothing loses
 * precision in JSON.parse and a NaN does not come back as null (both backends set them).
 */
export const JSON_OUTPUT_SETTINGS = {
  output_format_json_quote_64bit_integers: 1,
  output_format_json_quote_denormals: 1,
} as const;

/** Insert settings: a misnamed column or a value of the wrong type fails the insert instead of being dropped. */
export const INSERT_SETTINGS = {
  input_format_skip_unknown_fields: 0,
  input_format_null_as_default: 0,
} as const;

/**
 * Parses ClickHouse's JSON output format; a statement that returns nothing (DDL) gives no columns and no rows. Output
 * that is not JSON (a query with its own FORMAT clause) is a JournalQueryError, not retriable.
 */
export function parseJsonFormat(text: string, sql: string): { meta: ResultColumn[]; data: Record<string, unknown>[] } {
  if (text.trim() === '') return { meta: [], data: [] };
  try {
    const parsed = JSON.parse(text) as { meta?: ResultColumn[]; data?: Record<string, unknown>[] };
    return { meta: parsed.meta ?? [], data: parsed.data ?? [] };
  } catch (e) {
    const statement = sql.length > 500 ? `${sql.slice(0, 500)}…` : sql;
    throw new JournalQueryError('query', `the result is not JSON (does the query end in its own FORMAT clause?): ${sql.slice(0, 200)}`, undefined, undefined, statement, {
      retriable: false,
      cause: e,
    });
  }
}

/** The default batch size of journal inserts. */
export const DEFAULT_BATCH_ROWS = 10_000;

/**
 * The journal over any backend: rows buffered per table and inserted in batches of `batchRows`, one backend call at a
 * time in call order. An insert that fails puts its rows back, so the next flush retries them and a flush that
 * resolves means every row written before it is inserted (what the journal stage needs before committing offsets).
 */
export class BufferedJournal implements Journal {
  private readonly batchRows: number;
  private readonly buffers: Row[][] = JOURNAL_TABLES.map(() => []);
  private readonly scheduled: (Promise<void> | undefined)[] = JOURNAL_TABLES.map(() => undefined);
  private readonly rowsCounter: Counter | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly sink = (table: JournalTable, row: Row): void => {
    this.buffers[TABLE_INDEX.get(table)!]!.push(row);
  };

  constructor(
    private readonly backend: JournalBackend,
    private readonly opts: JournalOptions = {},
  ) {
    this.batchRows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
    if (!Number.isInteger(this.batchRows) || this.batchRows < 1) throw new RangeError(`batchRows must be a positive integer, got ${this.batchRows}`);
    this.rowsCounter = opts.meter ? defineCounter(opts.meter, METRICS.journalRows) : undefined;
  }

  /** Applies the DDL in order (every statement is IF NOT EXISTS). */
  async init(): Promise<void> {
    this.assertOpen('init');
    for (const stmt of this.opts.ddl ?? loadDdl()) {
      await this.enqueue(async () => {
        try {
          await this.backend.command(stmt.sql);
        } catch (e) {
          const err = toJournalError(e, 'ddl', stmt.sql, JournalOpenError);
          throw new JournalOpenError('ddl', `${stmt.file}: ${err.clickhouseMessage}`, err.clickhouseCode, err.clickhouseType, err.sql, {
            retriable: err.retriable,
            cause: e,
          });
        }
      });
    }
  }

  /** Buffers the messages' rows; resolves at once, or when the batch they completed is inserted. */
  write<T extends TopicName>(topic: T, messages: readonly Topics[T][]): Promise<void> {
    if (this.closed) return Promise.reject(new JournalClosedError('write'));
    try {
      mapRows(topic, messages, this.sink);
    } catch (e) {
      // A message that does not fit its schema (or an unknown topic): reported through the promise like any failure.
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    const full: Promise<void>[] = [];
    for (let i = 0; i < this.buffers.length; i++) {
      if (this.buffers[i]!.length < this.batchRows) continue;
      // One pending batch job per table: it takes every full batch there is when it runs.
      let job = this.scheduled[i];
      if (!job) {
        job = this.enqueue(() => this.insertTable(i, true)).finally(() => {
          this.scheduled[i] = undefined;
        });
        this.scheduled[i] = job;
      }
      full.push(job);
    }
    return full.length === 0 ? Promise.resolve() : Promise.all(full).then(() => undefined);
  }

  /** Inserts every buffered row (after any insert already under way); rejects if any insert fails. */
  flush(): Promise<void> {
    if (this.closed) return Promise.reject(new JournalClosedError('flush'));
    return this.flushAll();
  }

  /** Runs a query after the inserts already under way; 64-bit integers come back as numbers when exact, else strings. */
  async query<R = Record<string, unknown>>(sql: string): Promise<R[]> {
    return (await this.queryTable<R>(sql)).rows;
  }

  /** Like `query`, with the result's columns (names and ClickHouse types) in order. */
  queryTable<R = Record<string, unknown>>(sql: string): Promise<QueryResult<R>> {
    if (this.closed) return Promise.reject(new JournalClosedError('query'));
    const stmt = trimStatement(sql);
    return this.enqueue(async () => {
      let res: { meta: ResultColumn[]; data: Record<string, unknown>[] };
      try {
        res = await this.backend.queryJson(stmt);
      } catch (e) {
        throw toJournalError(e, 'query', stmt);
      }
      const convs = res.meta.map((c) => [c.name, converterFor(c.type)] as const).filter((x) => x[1] !== undefined);
      if (convs.length > 0) {
        for (const row of res.data) for (const [name, conv] of convs) row[name] = conv!(row[name]);
      }
      return { columns: res.meta.map((c) => ({ name: c.name, type: c.type })), rows: res.data as R[] };
    });
  }

  /** Runs a query that names its own output FORMAT and returns ClickHouse's text. */
  queryText(sql: string): Promise<string> {
    if (this.closed) return Promise.reject(new JournalClosedError('query'));
    const stmt = trimStatement(sql);
    return this.enqueue(async () => {
      try {
        return await this.backend.queryText(stmt);
      } catch (e) {
        throw toJournalError(e, 'query', stmt);
      }
    });
  }

  /** Rows buffered and not yet inserted, per table (tables with none are left out). */
  pendingRows(): Partial<Record<JournalTable, number>> {
    const out: Partial<Record<JournalTable, number>> = {};
    JOURNAL_TABLES.forEach((t, i) => {
      if (this.buffers[i]!.length > 0) out[t] = this.buffers[i]!.length;
    });
    return out;
  }

  /** Flushes, then closes the backend (also when the flush fails: that error is rethrown). Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      let failure: unknown;
      try {
        await this.flushAll();
      } catch (e) {
        failure = e;
      }
      this.closed = true;
      await this.tail.catch(() => undefined);
      await this.backend.close();
      if (failure) throw failure;
    })();
    return this.closing;
  }

  private flushAll(): Promise<void> {
    return this.enqueue(async () => {
      for (let i = 0; i < this.buffers.length; i++) await this.insertTable(i, false);
    });
  }

  /**
   * Inserts the table's buffer in chunks of batchRows (only whole chunks when `fullOnly`); on failure the rows go back.
   * A flush inserts the rows buffered when it starts, not the ones written while it awaits the engine: chasing those
   * would turn one flush into a stream of tiny inserts (each costs a new part) for as long as the producer keeps up.
   */
  private async insertTable(i: number, fullOnly: boolean): Promise<void> {
    const table = JOURNAL_TABLES[i]!;
    const columns = COLUMN_NAMES[i]!;
    let left = fullOnly ? Infinity : this.buffers[i]!.length;
    while (left > 0 && this.buffers[i]!.length > 0 && (!fullOnly || this.buffers[i]!.length >= this.batchRows)) {
      const buf = this.buffers[i]!;
      // The last chunk of a flush also takes rows written since it started, up to a full batch: same inserts, more rows.
      const chunk = buf.length <= this.batchRows ? buf : buf.slice(0, this.batchRows);
      this.buffers[i] = buf.length <= this.batchRows ? [] : buf.slice(this.batchRows);
      left -= chunk.length;
      try {
        await this.backend.insert(table, columns, chunk);
      } catch (e) {
        // Put the rows back in front: a later flush retries them, and re-inserting is idempotent by event id.
        this.buffers[i] = chunk.concat(this.buffers[i]!);
        // The body's format is the backend's choice (RowBinary or JSONCompactEachRow): the statement names the target.
        const sql = `INSERT INTO ${JOURNAL_DB}.${table} (${columns.join(', ')})`;
        throw new JournalWriteError(table, chunk.length, toJournalError(e, 'insert', sql));
      }
      this.rowsCounter?.inc({ table }, chunk.length);
    }
  }

  /** Runs backend work one call at a time, in call order; a failure rejects that call only. */
  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private assertOpen(op: string): void {
    if (this.closed) throw new JournalClosedError(op);
  }
}

const TABLE_INDEX = new Map<JournalTable, number>(JOURNAL_TABLES.map((t, i) => [t, i]));
const COLUMN_NAMES: readonly (readonly string[])[] = JOURNAL_TABLES.map((t) => columnsOf(t).map((c) => c.name));

/** Drops trailing semicolons and whitespace (clients append their own FORMAT clause). */
export function trimStatement(sql: string): string {
  return sql.replace(/[\s;]+$/, '');
}

/** True when the statement ends in its own `FORMAT <name>` clause. */
export function hasFormatClause(sql: string): boolean {
  return /\bFORMAT\s+[A-Za-z][A-Za-z0-9]*\s*$/i.test(trimStatement(sql));
}

const SPECIAL_FLOATS: Readonly<Record<string, number>> = { nan: NaN, '-nan': NaN, inf: Infinity, '+inf': Infinity, '-inf': -Infinity };

function toSafeInteger(v: unknown): unknown {
  if (typeof v !== 'string' || !/^-?\d+$/.test(v)) return v;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
}

function toFloat(v: unknown): unknown {
  return typeof v === 'string' && v in SPECIAL_FLOATS ? SPECIAL_FLOATS[v] : v;
}

/** The conversion a result column needs: 64-bit integers (quoted by ClickHouse) and quoted nan/inf; none for others. */
export function converterFor(type: string): ((v: unknown) => unknown) | undefined {
  let t = type.trim();
  for (let m = /^(?:LowCardinality|Nullable)\((.*)\)$/.exec(t); m; m = /^(?:LowCardinality|Nullable)\((.*)\)$/.exec(t)) t = m[1]!;
  const arr = /^Array\((.*)\)$/.exec(t);
  if (arr) {
    const inner = converterFor(arr[1]!);
    return inner ? (v) => (Array.isArray(v) ? v.map(inner) : v) : undefined;
  }
  if (/^U?Int(64|128|256)$/.test(t)) return toSafeInteger;
  if (/^Float(32|64)$/.test(t)) return toFloat;
  return undefined;
}
