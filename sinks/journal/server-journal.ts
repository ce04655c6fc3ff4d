import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import {
  BufferedJournal,
  INSERT_SETTINGS,
  JSON_OUTPUT_SETTINGS,
  type JournalBackend,
  type JournalOptions,
  type ResultColumn,
} from './buffered-journal.ts';
import type { Row } from './rows.ts';
import { JOURNAL_DB } from './tables.ts';

/** Backend over @clickhouse/client (HTTP to a ClickHouse server, or any Connection plugged into the client). */
export class ClickHouseClientBackend implements JournalBackend {
  constructor(private readonly client: ClickHouseClient) {}

  async command(sql: string): Promise<void> {
    await this.client.command({ query: sql });
  }

  async insert(table: string, columns: readonly string[], rows: readonly Row[]): Promise<void> {
    await this.client.insert({
      table: `${JOURNAL_DB}.${table}`,
      values: rows as unknown[][],
      columns: columns as [string, ...string[]],
      format: 'JSONCompactEachRow',
      clickhouse_settings: INSERT_SETTINGS,
    });
  }

  async queryJson(sql: string): Promise<{ meta: ResultColumn[]; data: Record<string, unknown>[] }> {
    const rs = await this.client.query({ query: sql, format: 'JSON', clickhouse_settings: JSON_OUTPUT_SETTINGS });
    const body = await rs.json<Record<string, unknown>>();
    return { meta: (body.meta ?? []) as ResultColumn[], data: body.data };
  }

  async queryText(sql: string): Promise<string> {
    const { stream } = await this.client.exec({ query: sql, clickhouse_settings: JSON_OUTPUT_SETTINGS });
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
    return Buffer.concat(chunks).toString('utf8');
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** Options of the server journal. */
export interface ServerJournalOptions extends JournalOptions {
  /** Server URL, e.g. http://127.0.0.1:8123 (credentials may be in the URL; they are never logged). */
  readonly url?: string;
  readonly username?: string;
  readonly password?: string;
  /** Per-request timeout, ms (default 30,000). */
  readonly requestTimeoutMs?: number;
  /** A ready client (tests plug chdb in as its connection); `url`, credentials and timeout are then ignored. */
  readonly client?: ClickHouseClient;
}

/**
 * The journal on a ClickHouse server via @clickhouse/client: the same DDL, row mapping, batching and idempotency as
 * the embedded journal. The client's own logging is off; failures surface as JournalError classes.
 */
export class ServerJournal extends BufferedJournal {
  constructor(opts: ServerJournalOptions) {
    const client =
      opts.client ??
      createClient({
        url: opts.url ?? 'http://127.0.0.1:8123',
        ...(opts.username !== undefined ? { username: opts.username } : {}),
        ...(opts.password !== undefined ? { password: opts.password } : {}),
        request_timeout: opts.requestTimeoutMs ?? 30_000,
        clickhouse_settings: JSON_OUTPUT_SETTINGS,
        log: { level: ClickHouseLogLevel.OFF },
      });
    super(new ClickHouseClientBackend(client), opts);
  }
}
