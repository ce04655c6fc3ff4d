/**
 * The eight stages of the chain as separate `qt pipeline <stage>` processes on the mock cluster, and the same market
 * through `qt run`, for the parity and crash tests. Each process is a real child (node bin/qt.mjs).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import type { Subscription } from 'rxjs';
import type { StepMark } from '../../schemas/step-mark.ts';
import { DATA_TOPICS, dlqOf } from '../../schemas/topics.ts';
import type { KafkaBus } from '../../sources/kafka/kafka-bus.ts';
import { committedOffsets, endOffsets, rawAdmin, testBus, waitFor } from './helpers.ts';
import { startMockCluster, type MockCluster } from './mock-cluster.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** The stages after ingest, in flow order. */
export const CHAIN = ['features', 'ensemble', 'brains', 'risk', 'execution', 'exits'] as const;

/** The market and settings both runs share: flags of qt run and qt pipeline ingest, and the environment of all. */
export interface Scenario {
  /** Market flags, e.g. ['--symbols', '4', '--from', ..., '--to', ...]. */
  readonly market: readonly string[];
  /** Model registry folder (qt run bootstraps it; the ensemble process publishes its log). */
  readonly registry: string;
  /** Extra environment (e.g. a lower confidence gate so that the chain trades). */
  readonly env: Readonly<Record<string, string>>;
}

/** The journal of a table-by-table comparison: row hashes under FINAL per table. */
export interface JournalRows {
  readonly tables: Record<string, string[]>;
  readonly duplicateOrders: number;
  /** Each dead letter as `topic[partition]@offset:REASON`. */
  readonly deadLetters: readonly string[];
}

/** Runs `qt run` on the scenario into `journal`; throws with its output when it fails. */
export function runReference(s: Scenario, journal: string): void {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'qt.mjs'), 'run', ...s.market, '--journal', journal, '--registry', s.registry, '--no-metrics', '--no-progress'], {
    cwd: ROOT,
    env: { ...process.env, ...s.env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`qt run failed (${r.status}): ${r.stderr}`);
}

/** Reads a journal folder's rows in a process of its own (embedded ClickHouse opens one folder per process). */
export function journalRows(dir: string): JournalRows {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'kafka', 'journal-rows.ts'), dir], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`journal-rows ${dir} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as JournalRows;
}

/** What differs between two journals, per table: rows missing from `got` and rows it has in excess. */
export function journalDiff(want: JournalRows, got: JournalRows): Record<string, { missing: number; extra: number }> {
  const out: Record<string, { missing: number; extra: number }> = {};
  for (const [table, rows] of Object.entries(want.tables)) {
    const left = new Map<string, number>();
    for (const h of rows) left.set(h, (left.get(h) ?? 0) + 1);
    let extra = 0;
    for (const h of got.tables[table] ?? []) {
      const n = left.get(h) ?? 0;
      if (n > 0) left.set(h, n - 1);
      else extra += 1;
    }
    const missing = [...left.values()].reduce((a, b) => a + b, 0);
    if (missing > 0 || extra > 0) out[table] = { missing, extra };
  }
  return out;
}

/** One stage process. */
export interface StageProcess {
  /** The stage, or `stage#i/n` for replica i of n of a split stage. */
  readonly stage: string;
  readonly child: ChildProcess;
  readonly exit: Promise<number | null>;
  stderr(): string;
}

/** The processes of a deployment on one mock cluster. */
export class Deployment {
  readonly processes: StageProcess[] = [];
  private readonly logs: string[] = [];

  constructor(
    private readonly mc: MockCluster,
    private readonly s: Scenario,
    private readonly journal: string,
    /** Extra flags per stage (e.g. the journal's deliberately broken variant). */
    private readonly flags: Readonly<Record<string, readonly string[]>> = {},
  ) {}

  /** Starts `qt pipeline <stage>` (`stage#i/n`: with `--replica i/n`); resolves once it reports ready. */
  async start(name: string): Promise<StageProcess> {
    const [stage, replica] = name.split('#') as [string, string | undefined];
    const extra = this.flags[stage] ?? [];
    const defaults: [string, string][] = [['--metrics-port', '0'], ['--session-timeout', '6000'], ['--fetch-wait', '50'], ['--commit-every', '200']];
    const args = [join(ROOT, 'bin', 'qt.mjs'), 'pipeline', stage, '--bootstrap', this.mc.bootstrap, '--journal', this.journal, '--registry', this.s.registry];
    for (const [flag, value] of defaults) if (!extra.includes(flag)) args.push(flag, value);
    if (stage === 'ingest') args.push(...this.s.market);
    if (replica) args.push('--replica', replica);
    args.push(...extra);
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...this.s.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    const ready = new Promise<void>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (/: ready\n/.test(err)) readyResolve();
    });
    const exit = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => {
        this.logs.push(`--- ${name} (exit ${code}) ---\n${err.slice(-3000)}`);
        readyReject(new Error(`${name} exited (${code}) before it was ready: ${err}`));
        resolve(code);
      }),
    );
    const p: StageProcess = { stage: name, child, exit, stderr: () => err };
    this.processes.push(p);
    await ready;
    return p;
  }

  /** The running process of a stage. */
  running(stage: string): StageProcess | undefined {
    return this.processes.find((p) => p.stage === stage && p.child.exitCode === null && p.child.signalCode === null);
  }

  /** kill -9 of a stage's running process; resolves once it is gone. */
  async kill(stage: string): Promise<void> {
    const p = this.running(stage);
    if (!p) throw new Error(`no running ${stage}`);
    p.child.kill('SIGKILL');
    await p.exit;
  }

  /** SIGTERM to every running process; resolves with their exit codes. */
  async stopAll(): Promise<Record<string, number | null>> {
    const codes: Record<string, number | null> = {};
    await Promise.all(
      this.processes
        .filter((p) => p.child.exitCode === null && p.child.signalCode === null)
        .map(async (p) => {
          p.child.kill('SIGTERM');
          codes[p.stage] = await p.exit;
        }),
    );
    return codes;
  }

  /** Ends every process at once (test teardown). */
  killAll(): void {
    for (const p of this.processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  }

  /** Why each process that exited non-zero stopped: its stage and its last line of stderr. */
  crashes(): string[] {
    return this.processes
      .filter((p) => p.child.exitCode !== null && p.child.exitCode !== 0)
      .map((p) => `${p.stage}: ${p.stderr().trim().split('\n').pop() ?? ''}`);
  }

  /** The stderr of every process so far (for a failing assertion). */
  log(): string {
    return [...this.logs, ...this.processes.filter((p) => p.child.exitCode === null).map((p) => `--- ${p.stage} (running) ---\n${p.stderr().slice(-3000)}`)].join('\n');
  }
}

/**
 * Follows pipe.steps.v1: the last step each stage (any of its replicas) marked, and whether it marked the market's last
 * step for every part of its work.
 */
export function watchSteps(
  bus: KafkaBus,
  group: string,
): { readonly last: Map<string, StepMark>; readonly done: Set<string>; readonly records: Map<string, number>; readonly sub: Subscription } {
  const last = new Map<string, StepMark>();
  const done = new Set<string>();
  /** Records marked per `stage parts` (`features 0,2,4,6,8,10`): what each replica published (steps marked again count again). */
  const records = new Map<string, number>();
  const lastParts = new Map<string, Set<number>>();
  const sub = bus.consume('pipe.steps.v1', group).subscribe((r) => {
    const m = r.value;
    const who = `${m.stage} ${m.parts.join(',')}`;
    records.set(who, (records.get(who) ?? 0) + m.counts.reduce((n, c) => n + c.records, 0));
    if ((last.get(m.stage)?.step ?? -1) < m.step) last.set(m.stage, m);
    if (!m.last) return;
    let parts = lastParts.get(m.stage);
    if (!parts) lastParts.set(m.stage, (parts = new Set()));
    for (const p of m.parts) parts.add(p);
    if (parts.size === m.partsOf) done.add(m.stage);
  });
  return { last, done, records, sub };
}

/** A mock cluster with a connected test bus and admin client. */
export interface TestCluster {
  readonly mc: MockCluster;
  readonly bus: KafkaBus;
  readonly admin: Admin;
  close(): Promise<void>;
}

/** Starts a mock cluster (every topic of deploy/kafka/topics.json) with a test bus and an admin client. */
export async function openTestCluster(): Promise<TestCluster> {
  const mc = await startMockCluster();
  const bus = testBus(mc);
  await bus.connect();
  const admin = await rawAdmin(mc);
  return {
    mc,
    bus,
    admin,
    close: async () => {
      await admin.disconnect();
      await bus.close();
      await mc.stop();
    },
  };
}

/** True once the journal's group has committed every record of every topic. */
export async function journalCaughtUp(admin: Admin): Promise<boolean> {
  for (const t of [...DATA_TOPICS, ...DATA_TOPICS.map((d) => dlqOf(d))]) {
    const [ends, committed] = await Promise.all([endOffsets(admin, t), committedOffsets(admin, 'qt.journal', t)]);
    if (ends.some((e, p) => e > 0 && committed[p]! < e)) return false;
  }
  return true;
}

/** Waits until every stage of the chain has marked the last step and the journal has committed every record. */
export async function waitForEnd(d: Deployment, steps: ReturnType<typeof watchSteps>, admin: Admin, ms = 240_000): Promise<void> {
  await waitFor(() => CHAIN.every((s) => steps.done.has(s)), ms, `every stage's last step (${d.log()})`);
  const until = Date.now() + 90_000;
  while (!(await journalCaughtUp(admin))) {
    if (Date.now() > until) throw new Error(`the journal did not catch up: ${d.log()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
