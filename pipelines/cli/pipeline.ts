import { ConfigError } from '../config.ts';
import { replicaProblem, SOLE_REPLICA, type Replica } from '../pipeline/parts.ts';
import { MAX_BUFFERED_RECORDS } from '../pipeline/steps.ts';
import { STAGE_NAMES, stageOf } from '../stages.ts';
import { formatFlags, type FlagSpec } from './args.ts';
import { COMMON, configFrom, RUN_FLAGS, type CliIo } from './common.ts';

const FLAGS: readonly FlagSpec[] = [
  { name: 'bootstrap', kind: 'list', path: ['kafka', 'bootstrap'], value: 'host:port,...', help: 'Kafka bootstrap servers (or QT_KAFKA_BOOTSTRAP)' },
  { name: 'schema-registry', kind: 'string', path: ['kafka', 'schemaRegistryUrl'], value: 'url', help: 'Confluent schema registry (default: schema ids from schemas/history)' },
  { name: 'metrics-port', kind: 'string', value: 'port', help: "/metrics, /livez, /readyz (default: the stage's port from 9464 up; 0 = any free port)" },
  { name: 'drain-deadline', kind: 'string', value: 'ms', help: 'on SIGTERM/SIGINT: drain, commit and leave within this long, else exit 1 (default 10000)' },
  { name: 'commit-every', kind: 'string', value: 'ms', help: 'journal: flush and commit offsets this often (default 1000)' },
  { name: 'session-timeout', kind: 'string', value: 'ms', help: 'Kafka consumer session timeout (default 30000)' },
  { name: 'fetch-wait', kind: 'string', value: 'ms', help: 'longest wait of a Kafka fetch (default 500)' },
  { name: 'registry', kind: 'string', path: ['ensemble', 'registryDir'], value: 'dir', help: 'model registry of the ensemble and learning stages (default ./var/registry)' },
  {
    name: 'replica',
    kind: 'string',
    value: 'i/n',
    help: 'features, exits: this process is replica i of n (0-based) and processes the symbols of the md.bars.1m.v1 partitions p with p % n = i (default 0/1)',
  },
  {
    name: 'max-buffered',
    kind: 'string',
    value: 'records',
    help: 'features ... exits: records held for steps not processed yet before the partitions running ahead are paused (default 50000)',
  },
  { name: 'broken-commit-before-write', kind: 'boolean', help: 'DELIBERATELY BROKEN, crash test only: the journal commits offsets before it writes' },
  // ingest replays the market qt run would: the same flags.
  ...RUN_FLAGS.filter((f) => ['data', 'symbols', 'from', 'to', 'days', 'seed', 'speed'].includes(f.name)),
];

const USAGE = `Usage: qt pipeline <stage> [flags]

Runs one stage as its own process over Kafka, in consumer group qt.<stage>. Stages: ${STAGE_NAMES.filter((s) => s !== 'learning').join(', ')}.
features and exits may run as several replicas (--replica i/n), each processing its share of the symbols; several
journals share the group qt.journal. The other stages keep state across symbols and run once.
ingest replays the market (--data, --days, ...) and exits 0 at its end. The chain's stages process the market in bar
steps (docs/distributed-stages.md), so together they write the journal qt run writes on the same market; after a
restart a stage rebuilds its state from its retained inputs. The journal commits its offsets after each flush.
Ready (/readyz) once the group is joined and the schemas resolved; SIGTERM or SIGINT finishes the step in progress,
leaves the group and exits 0 (1 past the drain deadline); an unrecoverable error exits 1.

Flags:
${formatFlags([...FLAGS, ...COMMON])}
`;

function intFlag(own: Readonly<Record<string, unknown>>, name: string, fallback: number, problems: string[], min = 1): number {
  const v = own[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    problems.push(`--${name}: expects an integer >= ${min}, got ${String(v)}`);
    return fallback;
  }
  return n;
}

function replicaFlag(v: unknown, stage: string, problems: string[]): Replica {
  if (v === undefined) return SOLE_REPLICA;
  const m = /^(\d{1,4})\/(\d{1,4})$/.exec(String(v));
  if (!m) {
    problems.push(`--replica: expects i/n (replica i of n, 0-based), got ${String(v)}`);
    return SOLE_REPLICA;
  }
  const r = { index: Number(m[1]), count: Number(m[2]) };
  const problem = replicaProblem(stage, r);
  if (problem) problems.push(`--replica: ${problem}`);
  return r;
}

/** `qt pipeline <stage>`: one stage as its own process over Kafka; returns the exit code. */
export async function pipelineCli(argv: readonly string[], io: CliIo): Promise<number> {
  const { config, positionals, help, own } = configFrom(argv, FLAGS, io);
  if (help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new ConfigError([`qt pipeline takes one stage (${STAGE_NAMES.join(', ')}), got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`]);
  let spec;
  try {
    spec = stageOf(positionals[0]!);
  } catch (e) {
    throw new ConfigError([(e as Error).message]);
  }
  const problems: string[] = [];
  const metricsPort = intFlag(own, 'metrics-port', spec.metricsPort, problems, 0);
  const drainDeadlineMs = intFlag(own, 'drain-deadline', 10_000, problems);
  const commitEveryMs = intFlag(own, 'commit-every', 1_000, problems);
  const sessionTimeoutMs = intFlag(own, 'session-timeout', 30_000, problems);
  const maxWaitTimeMs = intFlag(own, 'fetch-wait', 500, problems);
  const maxBufferedRecords = intFlag(own, 'max-buffered', MAX_BUFFERED_RECORDS, problems);
  if (metricsPort > 65535) problems.push(`--metrics-port: at most 65535, got ${metricsPort}`);
  const replica = replicaFlag(own['replica'], spec.name, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  const { runStage } = await import('../pipeline/stage.ts');
  const abort = new AbortController();
  let forced: NodeJS.Timeout | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (abort.signal.aborted) process.exit(1);
    io.stderr.write(`qt pipeline ${spec.name}: ${sig}, draining\n`);
    abort.abort();
    // The drain has its own deadline; this one ends a process stuck past it (a hung client, a blocked loop).
    forced = setTimeout(() => process.exit(1), drainDeadlineMs + 2_000);
    forced.unref();
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  let code: number;
  try {
    code = await runStage(config, {
      stage: spec.name,
      metricsPort,
      drainDeadlineMs,
      commitEveryMs,
      stderr: io.stderr,
      signal: abort.signal,
      consumer: { sessionTimeoutMs, maxWaitTimeMs, heartbeatIntervalMs: Math.max(100, Math.floor(sessionTimeoutMs / 10)) },
      brokenCommitBeforeWrite: own['broken-commit-before-write'] === true,
      replica,
      maxBufferedRecords,
    });
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    if (forced) clearTimeout(forced);
  }
  // Crash-only: a failed stage may hold client handles open; the exit code must reach the supervisor regardless.
  setTimeout(() => process.exit(code), code === 0 ? 2_000 : 100).unref();
  return code;
}
