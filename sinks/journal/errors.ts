/** Where a journal error happened. */
export type JournalOperation = 'open' | 'ddl' | 'insert' | 'query' | 'close';

/** ClickHouse error codes that a retry can cure (network, overload, timeouts), as opposed to bad SQL or data. */
const RETRIABLE_CODES = new Set([159, 164, 202, 203, 209, 210, 241, 242, 285, 319, 425, 999, 1000]);

/** Node socket errors that mean the server was not reachable or dropped the connection. */
const RETRIABLE_SYSCALL = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|ENETUNREACH)$/;

/**
 * A ClickHouse failure, from the embedded engine or a server: the ClickHouse message and code, the statement (trimmed),
 * and whether retrying can help.
 */
export class JournalError extends Error {
  override readonly name: string = 'JournalError';
  readonly retriable: boolean;
  constructor(
    readonly operation: JournalOperation,
    /** The ClickHouse error message, without the `Code: N. DB::Exception:` prefix. */
    readonly clickhouseMessage: string,
    /** The numeric ClickHouse error code, when known. */
    readonly clickhouseCode: number | undefined,
    /** The ClickHouse error name, e.g. SYNTAX_ERROR or UNKNOWN_TABLE, when known. */
    readonly clickhouseType: string | undefined,
    readonly sql: string,
    opts: { retriable?: boolean; cause?: unknown } = {},
  ) {
    const tag = [clickhouseCode, clickhouseType].filter((x) => x !== undefined).join(' ');
    super(`${shortenExpected(clickhouseMessage)}${tag ? ` [${tag}]` : ''}`, { cause: opts.cause });
    this.retriable = opts.retriable ?? (clickhouseCode !== undefined && RETRIABLE_CODES.has(clickhouseCode));
  }
}

/** A query (from `query` or `qt sql`) that ClickHouse rejected: syntax error, unknown table, type mismatch... */
export class JournalQueryError extends JournalError {
  override readonly name = 'JournalQueryError';
}

/** An insert that failed; the rows stay buffered and the next flush retries them. */
export class JournalWriteError extends JournalError {
  override readonly name = 'JournalWriteError';
  constructor(
    readonly table: string,
    readonly rows: number,
    base: JournalError,
  ) {
    super('insert', `insert of ${rows} rows into ${table} failed: ${base.clickhouseMessage}`, base.clickhouseCode, base.clickhouseType, base.sql, {
      retriable: base.retriable,
      cause: base.cause ?? base,
    });
  }
}

/** The journal could not be opened or its DDL could not be applied. */
export class JournalOpenError extends JournalError {
  override readonly name = 'JournalOpenError';
}

/** A call on a closed journal. */
export class JournalClosedError extends Error {
  override readonly name = 'JournalClosedError';
  readonly retriable = false;
  constructor(readonly operation: string) {
    super(`journal is closed (${operation})`);
  }
}

/** A syntax error lists every token the parser would accept: the first few are enough for a person to read. */
function shortenExpected(message: string, keep = 8): string {
  return message.replace(/(Expected one of: )([^.]*?)(, end of query|$)/, (_all, head: string, list: string, tail: string) => {
    const items = list.split(', ');
    return items.length <= keep ? `${head}${list}${tail}` : `${head}${items.slice(0, keep).join(', ')}, … (${items.length - keep} more)`;
  });
}

/** Splits a ClickHouse exception text into its code, name and message. */
export function parseClickhouseMessage(text: string): { code?: number; type?: string; message: string } {
  let message = text.trim().replace(/^Query failed:\s*/, '');
  let code: number | undefined;
  const head = /^Code:\s*(\d+)\.\s*(?:DB::Exception:\s*)?/.exec(message);
  if (head) {
    code = Number(head[1]);
    message = message.slice(head[0].length);
  }
  // The server appends the error name in parentheses and sometimes its version: "(UNKNOWN_TABLE) (version 24.3...)".
  let type: string | undefined;
  const tail = /\s*\(([A-Z][A-Z0-9_]+)\)(?:\s*\(version .*\))?\s*$/.exec(message);
  if (tail) {
    type = tail[1];
    message = message.slice(0, tail.index);
  }
  return { ...(code !== undefined ? { code } : {}), ...(type ? { type } : {}), message: message.replace(/\s+$/, '').replace(/[.:]\s*$/, '') };
}

/** Translates a chdb or @clickhouse/client error into a JournalError of the given class. */
export function toJournalError(
  e: unknown,
  operation: JournalOperation,
  sql: string,
  Kind: new (...a: ConstructorParameters<typeof JournalError>) => JournalError = operation === 'query' ? JournalQueryError : JournalError,
): JournalError {
  if (e instanceof JournalError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  const fields = err as Error & { code?: unknown; clickhouseCode?: unknown; type?: unknown; syscall?: unknown };
  const parsed = parseClickhouseMessage(err.message);
  // chdb: numeric clickhouseCode; @clickhouse/client: ClickHouseError with code '62' and type 'SYNTAX_ERROR'.
  const numeric = typeof fields.clickhouseCode === 'number' ? fields.clickhouseCode : typeof fields.code === 'string' && /^\d+$/.test(fields.code) ? Number(fields.code) : parsed.code;
  const type = typeof fields.type === 'string' ? fields.type : parsed.type;
  const network = typeof fields.code === 'string' && RETRIABLE_SYSCALL.test(fields.code);
  const statement = sql.length > 500 ? `${sql.slice(0, 500)}…` : sql;
  return new Kind(operation, parsed.message || err.message, numeric, type, statement, { cause: e, ...(network ? { retriable: true } : {}) });
}
