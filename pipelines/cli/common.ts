import { ConfigError, loadConfig, type Config } from '../config.ts';
import { parseArgs, type FlagSpec } from './args.ts';

/** Where the CLI writes; injected so tests can capture it. */
export interface CliIo {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly wallNow: () => number;
}

/** Flags every command takes. */
export const COMMON: readonly FlagSpec[] = [
  { name: 'config', kind: 'string', value: 'file.json', help: 'JSON config file (layered: defaults < file < QT_* env < flags)' },
  { name: 'journal', kind: 'string', path: ['journal', 'path'], value: 'dir', help: 'journal folder for embedded ClickHouse (default ./var/journal)' },
  { name: 'help', kind: 'boolean', help: 'show this help' },
];

/** Flags choosing the market data, shared by run, dataset export and evaluate. */
export const RUN_FLAGS: readonly FlagSpec[] = [
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
  { name: 'registry', kind: 'string', path: ['ensemble', 'registryDir'], value: 'dir', help: 'model registry (default ./var/registry; created from models/store on first use)' },
  { name: 'learning', kind: 'boolean', path: ['learning', 'enabled'], help: 'continuous learning: retrain, shadow, test, promote or roll back (default off)' },
];

/**
 * Parses flags and loads the layered config; throws ConfigError listing every problem. Flags without a config path are
 * returned in `own` (by flag name).
 */
export function configFrom(argv: readonly string[], specs: readonly FlagSpec[], io: CliIo): { config: Config; positionals: string[]; help: boolean; own: Readonly<Record<string, unknown>> } {
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
  return { config, positionals: parsed.positionals, help: parsed.own.help === true, own: parsed.own };
}

