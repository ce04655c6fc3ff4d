import { ConfigError } from '../config.ts';
import { formatFlags } from './args.ts';
import { COMMON, configFrom, RUN_FLAGS, type CliIo } from './common.ts';

export type { CliIo } from './common.ts';

const USAGE = `qt: Quantum Trader

Usage:
  qt run [flags]          run the whole chain in one process (synthetic market by default, paper broker)
  qt sql "<query>"        query the trade journal (ClickHouse SQL) and print a table
  qt dataset export       write a training set (features, label, walk-forward splits) from market data
  qt models list|promote|rollback|shadow   the model registry: champions, shadows, versions
  qt evaluate             walk-forward backtest of the ensemble and each member: journal rows and an HTML report
  qt topics diff|apply    bring a Kafka cluster's topics in line with deploy/kafka/topics.json (qt topics help)
  qt schemas check        every message schema against its history and a schema registry (qt schemas help)
  qt pipeline <stage>     one stage as its own process over Kafka (ingest, features, ensemble, brains, risk, execution,
                          exits, journal): together they write the journal qt run writes
  qt help                 this text

Run flags:
${formatFlags([...RUN_FLAGS, ...COMMON])}

Every setting can also come from the environment as QT_<SECTION>_<KEY>, e.g. QT_RUN_SEED=7, QT_JOURNAL_PATH=./var/j.
`;

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
      case 'dataset':
        return await (await import('./dataset.ts')).datasetCli(rest, io);
      case 'models':
        return await (await import('./models.ts')).modelsCli(rest, io);
      case 'evaluate':
        return await (await import('./evaluate.ts')).evaluateCli(rest, io);
      case 'topics':
        return await (await import('./topics.ts')).topicsCli(rest, io);
      case 'schemas':
        return await (await import('./schemas.ts')).schemasCli(rest, io);
      case 'pipeline':
        return await (await import('./pipeline.ts')).pipelineCli(rest, io);
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
