import { ConfigError, loadConfig, type Config } from '../config.ts';
import { formatFlags, parseArgs, type FlagSpec } from './args.ts';

/** Where the CLI writes; injected so tests can capture it. */
export interface CliIo {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly wallNow: () => number;
}

const COMMON: readonly FlagSpec[] = [
  { name: 'config', kind: 'string', value: 'file.json', help: 'JSON config file (layered: defaults < file < QT_* env < flags)' },
  { name: 'journal', kind: 'string', path: ['journal', 'path'], value: 'dir', help: 'journal folder for embedded ClickHouse (default ./var/journal)' },
  { name: 'help', kind: 'boolean', help: 'show this help' },
];

const RUN_FLAGS: readonly FlagSpec[] = [
  { name: 'data', kind: 'list', path: ['run', 'data'], value: 'files or folders', help: 'Binance kline or trade CSV files (.csv, .csv.gz); default: the synthetic market' },
  { name: 'symbols', kind: 'list', path: ['run', 'symbols'], value: 'list', help: 'symbols to trade, e.g. BTCUSDT,ETH/USDT (default: all in the data, or 5 synthetic; a number: that many synthetic)' },
  { name: 'from', kind: 'string', path: ['run', 'from'], value: 'time', help: 'start, ISO-8601 UTC (synthetic default 2025-01-06, a Monday)' },
  { name: 'to', kind: 'string', path: ['run', 'to'], value: 'time', help: 'end (exclusive)' },
  { name: 'days', kind: 'string', path: ['run', 'syntheticDays'], value: 'n', help: 'length of the synthetic market when --to is not given (default 2)' },
  { name: 'seed', kind: 'string', path: ['run', 'seed'], value: 'int', help: 'seed of the synthetic market (default 42)' },
  { name: 'speed', kind: 'string', path: ['run', 'speed'], value: 'rate|max', help: 'replay rate (event-time per wall time, e.g. 3600) or max (default)' },
  { name: 'progress', kind: 'boolean', path: ['run', 'progress'], help: 'progress bar (--no-progress to hide)' },
  { name: 'metrics-port', kind: 'string', path: ['metrics', 'port'], value: 'port', help: '/metrics, /livez, /readyz on 127.0.0.1 (default 9464, 0 = any free port)' },
  { name: 'metrics', kind: 'boolean', path: ['metrics', 'enabled'], help: 'serve metrics (--no-metrics to disable)' },
];

const USAGE = `qt: Quantum Trader

Usage:
  qt run [flags]          run the whole chain in one process (synthetic market by default, paper broker)
  qt sql "<query>"        query the trade journal (ClickHouse SQL) and print a table
  qt help                 this text

Run flags:
${formatFlags([...RUN_FLAGS, ...COMMON])}

Every setting can also come from the environment as QT_<SECTION>_<KEY>, e.g. QT_RUN_SEED=7, QT_JOURNAL_PATH=./var/j.
`;

function configFrom(argv: readonly string[], specs: readonly FlagSpec[], io: CliIo): { config: Config; positionals: string[]; help: boolean } {
  const parsed = parseArgs(argv, [...specs, ...COMMON]);
  let config: Config | undefined;
  const problems = [...parsed.problems];
  try {
    config = loadConfig({ file: parsed.own.config as string | undefined, env: io.env, flags: parsed.tree });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
  }
  if (problems.length > 0 || !config) throw new ConfigError(problems);
  return { config, positionals: parsed.positionals, help: parsed.own.help === true };
}

/** Runs the `qt` command line; returns the exit code. */
export async function cli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(USAGE);
        return 0;
      case 'run': {
        const { config, positionals, help } = configFrom(rest, RUN_FLAGS, io);
        if (help) {
          io.stdout.write(USAGE);
          return 0;
        }
        if (positionals.length > 0) throw new ConfigError([`unexpected arguments: ${positionals.join(' ')} (use --data for files)`]);
        const { runAll } = await import('../run/main.ts');
        const { formatSummary } = await import('../run/summary.ts');
        // Ctrl-C or SIGTERM: stop reading the market, settle and journal what was processed, print the summary.
        // A second signal exits at once.
        const abort = new AbortController();
        const onSignal = (sig: NodeJS.Signals): void => {
          if (abort.signal.aborted) process.exit(130);
          io.stderr.write(`\n${sig}: stopping after the current record (again to exit at once)\n`);
          abort.abort();
        };
        process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
        let result;
        try {
          result = await runAll(config, { stderr: io.stderr, wallNow: io.wallNow, signal: abort.signal });
        } finally {
          process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
        }
        io.stdout.write(`\nQuantum Trader run ${result.interrupted ? 'interrupted' : 'finished'}\n${formatSummary(result.summary, { journal: result.journalPath, seconds: result.seconds })}\n`);
        io.stdout.write(`\nQuery the journal, e.g.:\n  qt sql "SELECT symbol, count() AS trades, round(sum(realized_pnl), 2) AS pnl FROM qt.positions FINAL WHERE side = 'FLAT' GROUP BY symbol"\n`);
        return 0;
      }
      case 'sql': {
        const { config, positionals, help } = configFrom(rest, [], io);
        if (help || positionals.length !== 1) {
          if (!help) io.stderr.write('qt sql takes exactly one query, in quotes\n');
          io.stdout.write('Usage: qt sql "<ClickHouse SQL>" [--journal dir]\n');
          return help ? 0 : 2;
        }
        const { runSql } = await import('../../sinks/journal/sql.ts');
        const { openJournal } = await import('../../sinks/journal/open.ts');
        const journal = await openJournal(config.journal);
        try {
          io.stdout.write(`${await runSql(journal, positionals[0]!)}\n`);
        } finally {
          await journal.close();
        }
        return 0;
      }
      default:
        io.stderr.write(`qt: unknown command ${command}\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      io.stderr.write(`qt ${command}: ${e.message}\n`);
      return 2;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    io.stderr.write(`qt ${command}: ${err.name}: ${err.message}\n`);
    if (io.env.QT_DEBUG) io.stderr.write(`${err.stack ?? ''}\n`);
    return 1;
  }
}
