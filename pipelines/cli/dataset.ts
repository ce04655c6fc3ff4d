import { ConfigError } from '../config.ts';
import type { MarketExportResult } from '../dataset/main.ts';
import type { TimeRange } from '../dataset/splits.ts';
import { formatFlags, parseArgs, type FlagSpec } from './args.ts';
import { COMMON, configFrom, RUN_FLAGS, type CliIo } from './common.ts';

/** The market flags of `qt run` that choose the data (replay pacing, progress and metrics do not apply here). */
const MARKET_FLAGS: readonly FlagSpec[] = RUN_FLAGS.filter((f) => ['data', 'symbols', 'from', 'to', 'days', 'seed'].includes(f.name));

/** The flags `qt dataset export` handles itself. */
const EXPORT_FLAGS: readonly FlagSpec[] = [
  { name: 'out', kind: 'string', value: 'file.csv', help: 'dataset CSV; sidecars .meta.json, .window.f32/.window.json, .splits.json beside it (default var/dataset/dataset.csv)' },
  { name: 'horizon', kind: 'string', value: 'bars', help: 'H: the label looks this many bars ahead (default 15)' },
  { name: 'band-k', kind: 'string', value: 'k', help: 'neutral band of the label: k * rvol_30 * sqrt(H) (default 0.5)' },
  { name: 'folds', kind: 'string', value: 'n', help: 'walk-forward folds: validation blocks after an initial training block (default 4)' },
  { name: 'purge-bars', kind: 'string', value: 'bars', help: 'bars dropped from training before each validation block, >= horizon (default: the horizon)' },
  { name: 'embargo-bars', kind: 'string', value: 'bars', help: 'bars dropped from training after each earlier validation block (default 60, the longest feature look-back)' },
];

const USAGE = `Usage: qt dataset export [flags]

Writes a training set from market data: the market qt run replays (synthetic by default, or Binance kline or trade
CSV files with --data) -> ingest validation (refused records counted as dead letters) -> the serving feature operator
-> CSV open_time,exchange,symbol,close,<features>,fwd_ret,label (label 0/1/2 = DOWN/FLAT/UP: the H-bar forward log
return against a band of k * rvol_30 * sqrt(H), empty where unknown), the window sidecar for the sequence models, and
expanding walk-forward splits with purge and embargo (<out>.splits.json; train with
qt_training.train --splits <file> --fold k).

Market flags:
${formatFlags(MARKET_FLAGS)}

Export flags:
${formatFlags([...EXPORT_FLAGS, ...COMMON.filter((f) => f.name !== 'journal')])}
`;

/** Validated export flags. */
interface ExportFlags {
  readonly out: string;
  readonly horizon: number;
  readonly bandK: number;
  readonly folds: number;
  readonly purgeBars: number;
  readonly embargoBars: number;
}

/** The export flags with every problem listed (ints, ranges, the purge against the horizon). */
function exportFlags(own: Readonly<Record<string, unknown>>, problems: string[]): ExportFlags {
  const int = (name: string, dflt: number, min: number): number => {
    const raw = own[name];
    if (raw === undefined) return dflt;
    const v = Number(raw);
    if (!/^\d+$/.test(String(raw)) || v < min) {
      problems.push(`--${name}: expects an integer >= ${min}, got ${String(raw)}`);
      return dflt;
    }
    return v;
  };
  const horizon = int('horizon', 15, 1);
  const folds = int('folds', 4, 1);
  const purgeBars = int('purge-bars', horizon, 0);
  const embargoBars = int('embargo-bars', 60, 0);
  if (purgeBars < horizon) problems.push(`--purge-bars ${purgeBars} is shorter than --horizon ${horizon}: training labels would overlap validation labels`);
  let bandK = 0.5;
  if (own['band-k'] !== undefined) {
    const raw = String(own['band-k']);
    bandK = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(bandK) || bandK < 0) problems.push(`--band-k: expects a number >= 0, got ${raw}`);
  }
  return { out: typeof own.out === 'string' ? own.out : 'var/dataset/dataset.csv', horizon, bandK, folds, purgeBars, embargoBars };
}

const n = (x: number): string => x.toLocaleString('en-US');
const pct = (x: number, of: number): string => (of > 0 ? `${((100 * x) / of).toFixed(1)}%` : '-');
const when = (ms: number): string => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
const span = (r: Pick<TimeRange, 'fromMs' | 'toMs'>): string => `${when(r.fromMs)} .. ${when(r.toMs)}`;

/** The summary `qt dataset export` prints. */
export function formatExportSummary(r: MarketExportResult): string {
  const s = r.summary;
  const [down, flat, up] = s.classCounts;
  const lines = [
    `qt dataset export: ${r.market}`,
    `  bars          ${n(r.bars)} (dead letters ${n(r.deadLetters)})`,
    `  rows          ${n(s.rows)}, ${s.instruments.length} instruments, ${s.rows > 0 ? span({ fromMs: s.fromMs, toMs: s.toMs }) : '-'}`,
    `  labelled      ${n(s.labelled)}: DOWN ${n(down)} (${pct(down, s.labelled)})  FLAT ${n(flat)} (${pct(flat, s.labelled)})  UP ${n(up)} (${pct(up, s.labelled)})`,
    `  label         ${s.label.kind}: H ${s.label.horizonBars} bars, band ${s.label.k} * ${s.label.volFeature} * sqrt(${s.label.horizonBars})`,
  ];
  const sp = s.splits;
  if (sp) {
    lines.push(`  folds         ${sp.folds.length}, expanding walk-forward, purge ${sp.purgeBars} bars, embargo ${sp.embargoBars} bars (ranges [from, to), UTC)`);
    for (const f of sp.folds) {
      const first = f.train[0];
      const last = f.train.at(-1);
      const train = first && last ? span({ fromMs: first.fromMs, toMs: last.toMs }) : '-';
      const holes = f.embargoed.length > 0 ? ` minus ${f.embargoed.length} embargo${f.embargoed.length > 1 ? 'es' : ''}` : '';
      lines.push(`    fold ${f.fold}  train ${train}${holes} (${n(f.trainRows)} rows)  validation ${span(f.validation)} (${n(f.validationRows)} rows)`);
    }
  }
  lines.push('  files');
  for (const file of [s.file, `${s.file}.meta.json`, `${s.file}.window.f32`, `${s.file}.window.json`, ...(s.splitsFile ? [s.splitsFile] : [])]) lines.push(`    ${file}`);
  return `${lines.join('\n')}\n`;
}

/** `qt dataset export`: a training set (features, label, walk-forward splits) from market data; returns the exit code. */
export async function datasetCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    (sub === undefined ? io.stderr : io.stdout).write(USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'export') {
    io.stderr.write(`qt dataset: unknown subcommand ${sub} (expected export)\n\n${USAGE}`);
    return 2;
  }
  const specs = [...MARKET_FLAGS, ...EXPORT_FLAGS];
  // Parse once for the export's own flags, so their problems are listed together with the config's.
  const parsed = parseArgs(rest, [...specs, ...COMMON]);
  if (parsed.own.help === true) {
    io.stdout.write(USAGE);
    return 0;
  }
  const problems: string[] = [];
  const flags = exportFlags(parsed.own, problems);
  if (parsed.positionals.length > 0) problems.push(`unexpected arguments: ${parsed.positionals.join(' ')} (use --data for files)`);
  let config;
  try {
    config = configFrom(rest, specs, io).config;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.unshift(...e.problems);
  }
  if (problems.length > 0 || !config) {
    io.stderr.write(`qt dataset export: ${new ConfigError(problems).message}\n`);
    return 2;
  }
  const { exportMarketDataset } = await import('../dataset/main.ts');
  const { SplitError } = await import('../dataset/splits.ts');
  try {
    const result = await exportMarketDataset(config, {
      out: flags.out,
      horizon: flags.horizon,
      labelK: flags.bandK,
      splits: { folds: flags.folds, purgeBars: flags.purgeBars, embargoBars: flags.embargoBars },
    });
    io.stdout.write(formatExportSummary(result));
    return 0;
  } catch (e) {
    // Too little data for the folds asked for is a usage problem: say which flags to change.
    if (e instanceof SplitError) {
      io.stderr.write(`qt dataset export: ${e.message} (fewer --folds, a shorter --purge-bars, or more data: --days, --from/--to)\n`);
      return 2;
    }
    throw e;
  }
}
