/**
 * Starts librdkafka's mock Kafka cluster (test/kafka/mock-cluster.c, compiled once against Debian's librdkafka-dev)
 * as a child process for the Kafka integration tests, creates every topic of deploy/kafka/topics.json on it, and drives
 * its fault injection. It fails loudly when it cannot build or start the cluster: the Kafka tests never skip.
 *
 * What the mock is: real brokers speaking the Kafka protocol on localhost (produce, fetch, list offsets, metadata,
 * consumer groups with commits, idempotent producer ids), every partition's log held once in memory and served by its
 * leader. It does not replicate (replication 3 is metadata only, so a leader move or a broker down loses no acknowledged
 * data on the broker side), has no CreateTopics/DescribeConfigs admin calls and no controller, ignores topic configs
 * (retention, compaction), does not check idempotent producers' sequence numbers outside transactions, and moves a
 * leader only when told to.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TOPIC_LIST, type TopicConfig } from '../../schemas/topic-config.ts';

/** Raised when the mock cluster cannot be compiled or started, or a command fails. */
export class MockClusterError extends Error {
  override readonly name = 'MockClusterError';
  readonly retriable = false;
}

/** A running mock cluster. */
export interface MockCluster {
  /** `host:port,...` of every broker. */
  readonly bootstrap: string;
  /** The brokers' addresses, broker id i + 1 at index i. */
  readonly brokers: readonly string[];
  /** Moves the partition's leader to broker `broker` (1-based; -1 leaves it without a leader). */
  leader(topic: string, partition: number, broker: number): Promise<void>;
  /** Closes the broker's connections and refuses new ones (its partitions keep it as leader until moved). */
  down(broker: number): Promise<void>;
  /** Makes the broker accept connections again. */
  up(broker: number): Promise<void>;
  /** The next requests of `api` (e.g. `Produce`, `Fetch`, `OffsetCommit`, `JoinGroup`) fail with these errors, in order. */
  errors(api: string, codes: readonly string[]): Promise<void>;
  /** Drops the errors still queued for `api`. */
  clearErrors(api: string): Promise<void>;
  /**
   * Broker `broker` answers its next request of `api` `ms` later (handled as usual otherwise). This leaves the broker an
   * error queue of its own for `api`, which librdkafka then consults instead of the cluster's: errors() no longer reach
   * that broker's `api` requests. Use it on a cluster of its own.
   */
  delay(broker: number, api: string, ms: number): Promise<void>;
  /** Creates a topic (partitions, replication factor). */
  topic(name: string, partitions: number, replication?: number): Promise<void>;
  /** Ends the cluster process. */
  stop(): Promise<void>;
}

const ROOT = join(import.meta.dirname, '..', '..');
const SOURCE = join(import.meta.dirname, 'mock-cluster.c');

/** Compiles mock-cluster.c once per source and library version into node_modules/.cache/qt; returns the binary's path. */
export function buildMockCluster(): string {
  const headerPath = '/usr/include/librdkafka/rdkafka_mock.h';
  if (!existsSync(headerPath)) throw new MockClusterError(`${headerPath} is missing: install librdkafka-dev (scripts/test-all.sh does)`);
  const source = readFileSync(SOURCE);
  const header = readFileSync(headerPath);
  const hash = createHash('sha256').update(source).update(header).digest('hex').slice(0, 16);
  const dir = join(ROOT, 'node_modules', '.cache', 'qt');
  const bin = join(dir, `mock-cluster-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  // Several test files may build at once: each compiles to its own name, and the rename is atomic.
  const tmp = `${bin}.${process.pid}.tmp`;
  const cc = spawnSync('cc', ['-O1', '-o', tmp, SOURCE, '-lrdkafka'], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) {
    throw new MockClusterError(
      `cannot compile ${SOURCE} (needs a C compiler and librdkafka-dev): ${cc.error?.message ?? cc.stderr}`,
    );
  }
  renameSync(tmp, bin);
  return bin;
}

/** Starts a cluster of `brokers` brokers and creates `topics` (default: deploy/kafka/topics.json, replication 3). */
export async function startMockCluster(opts: { brokers?: number; topics?: readonly TopicConfig[]; replication?: number } = {}): Promise<MockCluster> {
  const brokerCount = opts.brokers ?? 3;
  const bin = buildMockCluster();
  const child: ChildProcessWithoutNullStreams = spawn(bin, [String(brokerCount)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const lines = createInterface({ input: child.stdout });
  const waiting: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  let exited: Error | undefined;
  lines.on('line', (line) => waiting.shift()?.resolve(line));
  child.on('exit', (code, signal) => {
    exited = new MockClusterError(`mock cluster exited (code ${code}, signal ${signal}): ${stderr.trim()}`);
    for (const w of waiting.splice(0)) w.reject(exited);
  });
  child.on('error', (e) => {
    exited = new MockClusterError(`cannot start ${bin}: ${e.message}`);
    for (const w of waiting.splice(0)) w.reject(exited);
  });
  const nextLine = (): Promise<string> =>
    exited ? Promise.reject(exited) : new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  // Commands are answered in order, one line each; a chain keeps concurrent callers from interleaving.
  let chain: Promise<unknown> = Promise.resolve();
  const command = (line: string): Promise<void> => {
    const run = chain.then(async () => {
      const answer = nextLine();
      child.stdin.write(`${line}\n`);
      const got = await answer;
      if (!got.startsWith('ok ')) throw new MockClusterError(`mock cluster: ${line}: ${got}`);
    });
    chain = run.catch(() => undefined);
    return run;
  };

  const first = await Promise.race([
    nextLine(),
    new Promise<string>((_, reject) => setTimeout(() => reject(new MockClusterError(`mock cluster did not start in 10 s: ${stderr}`)), 10_000).unref()),
  ]);
  const m = /^bootstrap (\S+)$/.exec(first);
  if (!m) {
    child.kill('SIGKILL');
    throw new MockClusterError(`mock cluster printed ${JSON.stringify(first)} instead of its bootstrap address`);
  }
  const bootstrap = m[1]!;
  const replication = opts.replication ?? TOPIC_LIST.replicationFactor;
  for (const t of opts.topics ?? TOPIC_LIST.topics) await command(`topic ${t.name} ${t.partitions} ${replication}`);

  return {
    bootstrap,
    brokers: bootstrap.split(','),
    leader: (topic, partition, broker) => command(`leader ${topic} ${partition} ${broker}`),
    down: (broker) => command(`down ${broker}`),
    up: (broker) => command(`up ${broker}`),
    errors: (api, codes) => command(`errors ${api} ${codes.join(' ')}`),
    clearErrors: (api) => command(`clear ${api}`),
    delay: (broker, api, ms) => command(`delay ${broker} ${api} ${ms}`),
    topic: (name, partitions, r = replication) => command(`topic ${name} ${partitions} ${r}`),
    stop: async () => {
      if (exited) return;
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await done;
      clearTimeout(timer);
    },
  };
}
