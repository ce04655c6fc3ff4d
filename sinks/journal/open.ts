import type { Meter } from '../../schemas/ports.ts';
import type { BufferedJournal } from './buffered-journal.ts';

/** Where the journal lives: `url` set = a ClickHouse server, else embedded chdb at `path` (the config's journal section). */
export interface JournalConfig {
  readonly path: string;
  readonly url?: string | undefined;
  readonly batchRows: number;
}

/**
 * Opens the journal the configuration names and applies the DDL. The chdb or @clickhouse/client module is loaded only
 * for the kind in use.
 */
export async function openJournal(config: JournalConfig, opts: { meter?: Meter } = {}): Promise<BufferedJournal> {
  const common = { batchRows: config.batchRows, ...(opts.meter ? { meter: opts.meter } : {}) };
  let journal: BufferedJournal;
  if (config.url) {
    const { ServerJournal } = await import('./server-journal.ts');
    journal = new ServerJournal({ ...common, url: config.url });
  } else {
    const { ChdbJournal } = await import('./chdb-journal.ts');
    journal = new ChdbJournal({ ...common, path: config.path });
  }
  try {
    await journal.init();
  } catch (e) {
    await journal.close().catch(() => undefined);
    throw e;
  }
  return journal;
}
