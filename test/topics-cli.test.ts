/**
 * `qt topics diff|apply` against FakeTopicAdmin (pipelines/topics/fake-admin.ts), an in-memory cluster that refuses
 * what a broker refuses (existing topic, replication above its brokers, fewer partitions, unknown settings). The kafkajs
 * adapter is tested on its own (pipelines/topics/kafkajs-admin.spec.ts); no Kafka broker with a controller runs here,
 * so the real admin path is covered only up to a refused connection (the last tests, through bin/qt.mjs).
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TOPIC_LIST } from '../schemas/topic-config.ts';
import type { CliIo } from '../pipelines/cli/common.ts';
import { BOOTSTRAP_ENV, TOPICS_EXIT, topicsCli, type TopicsCliDeps } from '../pipelines/cli/topics.ts';
import { FakeTopicAdmin } from '../pipelines/topics/fake-admin.ts';
import { desiredTopics } from '../pipelines/topics/planner.ts';

const ROOT = join(import.meta.dirname, '..');
const DESIRED = desiredTopics(TOPIC_LIST);
const N = DESIRED.length;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  brokers: (readonly string[])[];
}

async function qtTopics(argv: string[], admin: FakeTopicAdmin, env: Record<string, string> = {}, deps: TopicsCliDeps = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) => ({ write: (s: string) => (append(s), true) }) as unknown as NodeJS.WriteStream;
  const io: CliIo = { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env, wallNow: () => 0 };
  const brokers: (readonly string[])[] = [];
  const code = await topicsCli(argv, io, {
    ...deps,
    connect: async (b) => {
      brokers.push(b);
      // A new connection to the same cluster (the CLI closes its admin when done).
      admin.open = true;
      return admin;
    },
  });
  return { code, stdout, stderr, brokers };
}

function syncedFake(): FakeTopicAdmin {
  const admin = new FakeTopicAdmin();
  for (const d of DESIRED) admin.seed(d.name, d.partitions, d.replicationFactor, d.config);
  return admin;
}

describe('qt topics diff', () => {
  it('says there is nothing to do and exits 0 when the cluster matches the file', async () => {
    const admin = syncedFake().seed('__consumer_offsets', 50, 3);
    const r = await qtTopics(['diff', '--bootstrap', 'k1:9092,k2:9092'], admin);
    expect(r.code).toBe(TOPICS_EXIT.ok);
    expect(r.stderr).toBe('');
    expect(r.brokers).toEqual([['k1:9092', 'k2:9092']]);
    expect(r.stdout).toBe(`qt topics diff: k1:9092,k2:9092 against deploy/kafka/topics.json (${N} topics)\nNothing to do: the cluster matches deploy/kafka/topics.json (${N} topics).\n`);
    expect(admin.calls).toEqual([]);
    expect(admin.open).toBe(false);
  });

  it('prints every change and exits 3 without changing anything', async () => {
    const admin = syncedFake()
      .seed('md.bars.1m.v1', 4, 3, { ...DESIRED[1]!.config, 'retention.ms': '86400000' })
      .seed('legacy.ticks.v0', 1, 1);
    const fresh = new FakeTopicAdmin();
    for (const d of DESIRED.filter((x) => x.name !== 'exit.events.v1')) fresh.seed(d.name, d.partitions, d.replicationFactor, d.config);
    const r = await qtTopics(['diff', '--bootstrap', 'k:9092'], admin);
    expect(r.code).toBe(TOPICS_EXIT.changes);
    expect(r.stdout.split('\n').slice(1)).toEqual([
      '~ md.bars.1m.v1: partitions 4 -> 12',
      '~ md.bars.1m.v1: retention.ms 86400000 -> 1209600000',
      '  unmanaged topic legacy.ticks.v0 (not in deploy/kafka/topics.json; left alone)',
      `Plan: 0 to create, 1 to add partitions, 1 to change settings; 0 refused; ${N - 1} of ${N} topics in sync.`,
      '',
    ]);
    expect(admin.calls).toEqual([]);
    const missing = await qtTopics(['diff', '--bootstrap', 'k:9092'], fresh);
    expect(missing.code).toBe(TOPICS_EXIT.changes);
    expect(missing.stdout).toContain('+ create exit.events.v1: 6 partitions, replication 3\n    cleanup.policy=delete, min.insync.replicas=2, retention.bytes=-1, retention.ms=31536000000\n');
  });

  it('shows a setting taken from a default as such', async () => {
    const admin = syncedFake().seed('feat.vectors.v1', 12, 3, { 'retention.ms': '604800000', 'cleanup.policy': 'delete', 'min.insync.replicas': '2' });
    const r = await qtTopics(['diff'], admin, { [BOOTSTRAP_ENV]: 'env-broker:9092' });
    expect(r.brokers).toEqual([['env-broker:9092']]);
    expect(r.stdout).toContain('~ feat.vectors.v1: retention.bytes -1 (Kafka default, not set on the topic) -> 1073741824\n');
  });

  it('reports a partition decrease as refused and exits 4', async () => {
    const admin = syncedFake().seed('pos.equity.v1', 3, 3, DESIRED.find((d) => d.name === 'pos.equity.v1')!.config);
    const r = await qtTopics(['diff', '--bootstrap', 'k:9092'], admin);
    expect(r.code).toBe(TOPICS_EXIT.refused);
    expect(r.stdout).toContain('! refused pos.equity.v1: partitions 3 -> 1: Kafka cannot remove partitions');
    expect(r.stdout).toContain('1 refused');
  });
});

describe('qt topics apply', () => {
  it('creates every topic on an empty cluster, prints what it did, and a second apply has nothing to do', async () => {
    const admin = new FakeTopicAdmin();
    const r = await qtTopics(['apply', '--bootstrap', 'k:9092'], admin);
    expect(r.code).toBe(TOPICS_EXIT.ok);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(N + 2);
    expect(lines[1]).toBe('created md.trades.v1: 12 partitions, replication 3, cleanup.policy=delete, min.insync.replicas=2, retention.bytes=10737418240, retention.ms=259200000');
    expect(lines.at(-1)).toBe(`Applied ${N} of ${N} changes; 0 failed, 0 skipped, 0 refused.`);
    expect(admin.topic('pos.positions.v1')).toMatchObject({ partitions: 6, replicationFactor: 3, config: { 'cleanup.policy': 'compact', 'segment.ms': '86400000' } });
    const again = await qtTopics(['apply', '--bootstrap', 'k:9092'], admin);
    expect(again.code).toBe(TOPICS_EXIT.ok);
    expect(again.stdout).toContain('Nothing to do');
    expect(admin.calls).toHaveLength(N);
  });

  it('raises partitions and sets settings, leaves a refused decrease alone and exits 4', async () => {
    const admin = syncedFake()
      .seed('md.bars.1m.v1', 4, 3, { ...DESIRED[1]!.config, 'retention.ms': '86400000' })
      .seed('pos.equity.v1', 3, 3, DESIRED.find((d) => d.name === 'pos.equity.v1')!.config);
    const r = await qtTopics(['apply', '--bootstrap', 'k:9092'], admin);
    expect(r.code).toBe(TOPICS_EXIT.refused);
    expect(r.stdout.split('\n').slice(1)).toEqual([
      'added partitions md.bars.1m.v1: 4 -> 12',
      'set md.bars.1m.v1: retention.ms=1209600000',
      expect.stringMatching(/^! refused pos\.equity\.v1: partitions 3 -> 1: /),
      'Applied 2 of 2 changes; 0 failed, 0 skipped, 1 refused.',
      '',
    ]);
    expect(admin.topic('md.bars.1m.v1')).toMatchObject({ partitions: 12, config: { 'retention.ms': '1209600000' } });
    expect(admin.topic('pos.equity.v1')!.partitions).toBe(3);
  });

  it('lists a failed change with its named error, makes the others and exits 1', async () => {
    const admin = new FakeTopicAdmin({ brokers: 1 });
    const r = await qtTopics(['apply', '--bootstrap', 'k:9092'], admin);
    expect(r.code).toBe(TOPICS_EXIT.failed);
    expect(r.stdout).toContain('FAILED create md.trades.v1: 12 partitions, replication 3: CreateTopicsError: replication factor 3 is larger than the 1 brokers');
    expect(r.stdout).toContain(`Applied 0 of ${N} changes; ${N} failed, 0 skipped, 0 refused.`);
  });

  it('exits 1 with the named error when the cluster cannot be read', async () => {
    const admin = new FakeTopicAdmin();
    admin.down = true;
    const r = await qtTopics(['apply', '--bootstrap', 'k:9092'], admin);
    expect(r.code).toBe(TOPICS_EXIT.failed);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('qt topics apply: AdminConnectionError: listTopics: cannot reach the Kafka cluster (fake is down) (retriable: try again)\n');
  });

  it('applies another topic list when given one', async () => {
    const one = { ...TOPIC_LIST, replicationFactor: 1, minInsyncReplicas: 1, topics: [TOPIC_LIST.topics[0]!] };
    const admin = new FakeTopicAdmin({ brokers: 1 });
    const r = await qtTopics(['apply', '--bootstrap', 'k:9092'], admin, {}, { topics: one });
    expect(r.code).toBe(TOPICS_EXIT.ok);
    expect(admin.topic('md.trades.v1')).toMatchObject({ partitions: 12, replicationFactor: 1, config: { 'min.insync.replicas': '1' } });
  });
});

describe('qt topics usage', () => {
  it('lists every problem of a bad command line and exits 2 without connecting', async () => {
    const admin = new FakeTopicAdmin();
    const r = await qtTopics(['sync', 'extra', '--bogus', '--bootstrap', 'nohost'], admin);
    expect(r.code).toBe(TOPICS_EXIT.usage);
    for (const p of ['--bogus: unknown flag', 'unknown subcommand sync', 'unexpected arguments: extra', 'bootstrap server nohost: expected host:port']) expect(r.stderr).toContain(p);
    expect(r.brokers).toEqual([]);
  });

  it('needs bootstrap servers from the flag or the environment', async () => {
    const r = await qtTopics(['diff'], new FakeTopicAdmin());
    expect(r.code).toBe(TOPICS_EXIT.usage);
    expect(r.stderr).toContain(`no bootstrap servers: pass --bootstrap host:port or set ${BOOTSTRAP_ENV}`);
  });

  it('documents the exit codes in its help', async () => {
    const r = await qtTopics(['help'], new FakeTopicAdmin());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Exit codes: 0 in sync .*; 1 .*\n\s+2 usage; 3 diff found changes to apply; 4 a difference was refused/);
  });
});

describe('qt topics through bin/qt.mjs', () => {
  const qt = (args: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'qt.mjs'), ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };

  it('is listed in qt help and fails with a retriable AdminConnectionError when no broker answers', async () => {
    expect(qt(['help']).stdout).toContain('qt topics diff|apply');
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const r = qt(['topics', 'diff'], { [BOOTSTRAP_ENV]: `127.0.0.1:${port}` });
    expect(r.code).toBe(TOPICS_EXIT.failed);
    expect(r.stderr).toContain(`qt topics diff: AdminConnectionError: cannot reach the Kafka cluster at 127.0.0.1:${port}`);
    expect(r.stderr).toContain('(retriable: try again)');
  });
});
