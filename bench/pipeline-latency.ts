/**
 * Benchmark (issue 4): end-to-end latency of the chain as eight processes (`qt pipeline <stage>`: journal, features,
 * ensemble, brains, risk, execution, exits, then ingest) on librdkafka's mock cluster (3 brokers, in memory), with
 * ingest paced (`--speed`) so that the synthetic market delivers a steady `--rate` ticks per second of wall time.
 *
 *   node --import tsx bench/pipeline-latency.ts [--rate 5000] [--symbols 20] [--hours 8] [--warmup 0.1]
 *                                               [--fetch-wait 10] [--timeout 600] [--seed 7]
 *
 * One KafkaBus in this process reads md.trades.v1, brain.decisions.v1, risk.orders.v1 and pipe.steps.v1, each in a
 * group of its own from the earliest offset (joined before ingest starts), and notes each record's receive time and
 * its `qt.step` tag. A step's input is complete when its last tick is received; the latency of a decision (a risk
 * order) is its receive time minus that of the last tick of the same step. Reported over the steady part (the steps
 * after the first `--warmup` fraction): p50/p90/p99/max of tick → decision and tick → risk order, how long after its
 * input each stage marked its steps, each stage's steps per second, and the achieved ticks/s.
 *
 * The stages' fetch wait defaults to 10 ms, not the 50 ms of the deployment tests: the mock holds an empty fetch for
 * the whole wait even when a record arrives meanwhile (a real broker answers as soon as one does), so every hop of the
 * chain costs up to one fetch wait, and at 50 ms the lockstep loop brains -> risk -> execution takes longer than a step
 * of 20 symbols at 5,000 ticks/s (120 ms): the chain falls behind and the latency grows through the run
 * (`--fetch-wait 50` shows it).
 *
 * Exits 1 when the deployment does not finish (every stage of the chain marks the market's last step) within
 * `--timeout` seconds, when a stage process fails, or when nothing was measured; the processes and the mock cluster are
 * always ended. Asserts no latency bound.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Subscription } from 'rxjs';
import { loadConfig } from '../pipelines/config.ts';
import { STEP_HEADER, STEP_TOPIC } from '../pipelines/pipeline/steps.ts';
import type { BusRecord } from '../schemas/ports.ts';
import type { TopicName } from '../schemas/topics.ts';
import { CHAIN, Deployment, type Scenario } from '../test/kafka/deployment.ts';
import { TEST_CONSUMER, testBus } from '../test/kafka/helpers.ts';
import { startMockCluster, type MockCluster } from '../test/kafka/mock-cluster.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const FROM = Date.UTC(2025, 0, 6);
/** Every stage that marks steps, in flow order. */
const MARKING = ['ingest', ...CHAIN] as const;
/** Fetch wait of this process's consumers: short, because the mock holds an empty fetch for the whole wait. */
const OWN_FETCH_WAIT_MS = 10;

interface Args {
  rate: number;
  symbols: number;
  hours: number;
  warmup: number;
  fetchWait: number;
  timeout: number;
  seed: number;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { rate: 5_000, symbols: 20, hours: 8, warmup: 0.1, fetchWait: 10, timeout: 600, seed: 7 };
  const keys: Record<string, keyof Args> = {
    '--rate': 'rate', '--symbols': 'symbols', '--hours': 'hours', '--warmup': 'warmup', '--fetch-wait': 'fetchWait', '--timeout': 'timeout', '--seed': 'seed',
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const key = keys[k];
    if (!key) throw new Error(`unknown flag ${k} (flags: ${Object.keys(keys).join(' ')})`);
    const v = Number(argv[++i]);
    if (!Number.isFinite(v) || v < 0 || (key !== 'warmup' && v <= 0) || (key === 'warmup' && v >= 1)) throw new Error(`${k} needs a ${key === 'warmup' ? 'fraction in [0, 1)' : 'positive number'}`);
    if (['symbols', 'fetchWait', 'seed'].includes(key) && !Number.isInteger(v)) throw new Error(`${k} needs an integer`);
    a[key] = v;
  }
  return a;
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
const ms = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '-' : fmt(x));
const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

/** Nearest-rank percentile of sorted values. */
function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface Dist {
  readonly n: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

function dist(values: readonly number[]): Dist {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: s.length ? s[s.length - 1]! : Number.NaN };
}

/** What this process saw, by step: receive times (performance.now()) of the records it follows. */
class Observer {
  /** Receive time of the last tick of each step, and the ticks of each step. */
  readonly lastTick = new Map<number, number>();
  readonly ticks = new Map<number, number>();
  firstTickAt = Number.NaN;
  lastTickAt = Number.NaN;
  tickCount = 0;
  readonly decisions: { step: number; at: number }[] = [];
  readonly orders: { step: number; at: number }[] = [];
  /** Receive time of each stage's mark per step (the first one, should a mark come twice). */
  readonly marks = new Map<string, Map<number, number>>(MARKING.map((s) => [s, new Map()]));
  /** The market's last step, once ingest marked it, and the stages that marked it. */
  lastStep: number | undefined;
  readonly done = new Set<string>();
  errors: unknown[] = [];
  private readonly subs: Subscription[] = [];

  follow(bus: ReturnType<typeof testBus>): void {
    const tag = (r: BusRecord<unknown>): number => {
      const step = Number(r.headers?.[STEP_HEADER]);
      if (!Number.isSafeInteger(step)) throw new Error(`${r.topic} record without ${STEP_HEADER}`);
      return step;
    };
    const on = <T extends TopicName>(topic: T, f: (r: BusRecord<unknown>, at: number) => void): void => {
      this.subs.push(
        bus.consume(topic, `bench.latency.${topic}`, { from: 'earliest' }).subscribe({
          next: (r) => {
            const at = performance.now();
            try {
              f(r as BusRecord<unknown>, at);
            } catch (e) {
              this.errors.push(e);
            }
          },
          error: (e: unknown) => this.errors.push(e),
        }),
      );
    };
    on('md.trades.v1', (r, at) => {
      const step = tag(r);
      this.lastTick.set(step, Math.max(this.lastTick.get(step) ?? 0, at));
      this.ticks.set(step, (this.ticks.get(step) ?? 0) + 1);
      if (this.tickCount++ === 0) this.firstTickAt = at;
      this.lastTickAt = at;
    });
    on('brain.decisions.v1', (r, at) => this.decisions.push({ step: tag(r), at }));
    on('risk.orders.v1', (r, at) => this.orders.push({ step: tag(r), at }));
    on(STEP_TOPIC, (r, at) => {
      const m = (r as BusRecord<{ stage: string; step: number; last: boolean }>).value;
      const byStep = this.marks.get(m.stage);
      if (!byStep) return;
      if (!byStep.has(m.step)) byStep.set(m.step, at);
      if (m.last) {
        this.done.add(m.stage);
        if (m.stage === 'ingest') this.lastStep = m.step;
      }
    });
  }

  stop(): void {
    for (const s of this.subs.splice(0)) s.unsubscribe();
  }

  /** The last step each stage marked (for a timeout's message). */
  progress(): string {
    return MARKING.map((s) => {
      const steps = [...this.marks.get(s)!.keys()];
      const last = steps.length ? Math.max(...steps) : undefined;
      return `${s} ${steps.length} steps${last === undefined ? '' : ` (last ${new Date(last).toISOString().slice(11, 16)})`}`;
    }).join(', ');
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const env = { QT_RISK_CONFIDENCE_GATE: '0.5' };
  const tradesPerMinute = loadConfig({ env: { ...process.env, ...env } }).market.tradesPerMinute;
  const ticksPerMinute = tradesPerMinute * args.symbols;
  const speed = (args.rate * 60) / ticksPerMinute;
  const stepWallMs = MINUTE / speed;
  const to = FROM + Math.round(args.hours * HOUR);
  const expectedSteps = Math.round((to - FROM) / MINUTE);
  const ingestWallS = (to - FROM) / speed / 1000;
  const tmp = mkdtempSync(join(tmpdir(), 'qt-bench-latency-'));
  const scenario: Scenario = {
    market: ['--symbols', String(args.symbols), '--from', new Date(FROM).toISOString(), '--to', new Date(to).toISOString(), '--seed', String(args.seed), '--speed', String(speed)],
    registry: join(tmp, 'registry'),
    env,
  };
  console.log(`End-to-end latency, eight qt pipeline processes on librdkafka's mock cluster (3 brokers); ${availableParallelism()} cores; loadavg at start ${load()}`);
  console.log(
    `market: ${args.symbols} synthetic symbols x ${tradesPerMinute} trades/min = ${fmt(ticksPerMinute)} ticks per event-minute on average, ${args.hours} h ` +
      `(${fmt(expectedSteps)} steps); --speed ${speed.toFixed(2)} for ${fmt(args.rate)} ticks/s: one step (an event minute) every ${fmt(stepWallMs)} ms, ` +
      `ingest about ${fmt(ingestWallS)} s; stages' fetch wait ${args.fetchWait} ms; QT_RISK_CONFIDENCE_GATE=0.5`,
  );

  let mc: MockCluster | undefined;
  let bus: ReturnType<typeof testBus> | undefined;
  let d: Deployment | undefined;
  const obs = new Observer();
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    mc = await startMockCluster();
    bus = testBus(mc, { clientId: 'bench-latency', consumer: { ...TEST_CONSUMER, maxWaitTimeMs: OWN_FETCH_WAIT_MS } });
    await bus.connect();
    obs.follow(bus);
    await bus.ready();

    const fetchFlags = ['--fetch-wait', String(args.fetchWait)];
    d = new Deployment(mc, scenario, join(tmp, 'journal'), Object.fromEntries(['journal', ...MARKING].map((s) => [s, fetchFlags])));
    const dep = d;
    let t = performance.now();
    await Promise.all([dep.start('journal'), ...CHAIN.map((s) => dep.start(s))]);
    console.log(`journal and the six chain stages ready in ${fmt(performance.now() - t)} ms; starting ingest`);
    t = performance.now();
    const ingest = await dep.start('ingest');
    let ingestCode: number | null | undefined;
    void ingest.exit.then((c) => (ingestCode = c));

    const until = performance.now() + args.timeout * 1000;
    const chainFailed = (): string | undefined => {
      for (const p of dep.processes) {
        if (p.stage === 'ingest' && p.child.exitCode === 0) continue;
        if (p.child.exitCode !== null || p.child.signalCode !== null) return `${p.stage} exited (${p.child.exitCode ?? p.child.signalCode})`;
      }
      return undefined;
    };
    while (!MARKING.every((s) => obs.done.has(s))) {
      if (interrupted) throw new Error('interrupted');
      const failed = chainFailed();
      if (failed) throw new Error(`${failed} before every stage marked the last step; ${obs.progress()}\n${dep.log()}`);
      if (obs.errors.length > 0) throw obs.errors[0];
      if (performance.now() > until) throw new Error(`the deployment did not finish within ${args.timeout} s: ${obs.progress()}\n${dep.log()}`);
      await sleep(50);
    }
    const finishedMs = performance.now() - t;
    const codeDeadline = performance.now() + 30_000;
    while (ingestCode === undefined && performance.now() < codeDeadline) await sleep(50);
    if (ingestCode !== 0) throw new Error(`ingest exited ${ingestCode} (expected 0 at the market's end)\n${dep.log()}`);
    // Let the last decisions and orders reach this process's consumers (they are acknowledged before each mark).
    await sleep(500);
    const codes = await dep.stopAll();
    const bad = Object.entries(codes).filter(([, c]) => c !== 0);
    if (bad.length > 0) throw new Error(`stages did not stop cleanly: ${JSON.stringify(codes)}\n${dep.log()}`);
    obs.stop();
    report(args, obs, { speed, stepWallMs, finishedMs, ingestWallS });
    return 0;
  } catch (e) {
    console.error(`bench:pipeline FAILED: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    obs.stop();
    if (d) {
      d.killAll();
      await Promise.all(d.processes.map((p) => p.exit));
    }
    await bus?.close().catch(() => undefined);
    await mc?.stop().catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  }
}

function report(args: Args, obs: Observer, run: { speed: number; stepWallMs: number; finishedMs: number; ingestWallS: number }): void {
  // The steps of the market with ticks, in order; the last (ingest's closing step) has none.
  const steps = [...obs.lastTick.keys()].sort((a, b) => a - b);
  if (steps.length === 0) throw new Error('no ticks received');
  const skip = Math.floor(steps.length * args.warmup);
  const steady = new Set(steps.slice(skip));
  const firstSteady = steps[skip]!;
  const lat = (recs: readonly { step: number; at: number }[]): number[] =>
    recs.filter((r) => steady.has(r.step)).map((r) => r.at - obs.lastTick.get(r.step)!);
  const decisions = dist(lat(obs.decisions));
  const orders = dist(lat(obs.orders));

  // Achieved rate: ticks between the first and the last received, and ingest's steps per second.
  const tickRate = (obs.tickCount - 1) / ((obs.lastTickAt - obs.firstTickAt) / 1000);
  const steadyTicks = [...steady].reduce((a, s) => a + (obs.ticks.get(s) ?? 0), 0);
  const steadyTickRate = steadyTicks / ((obs.lastTick.get(steps[steps.length - 1]!)! - obs.lastTick.get(steps[skip - 1] ?? steps[0]!)!) / 1000);

  console.log('');
  console.log(`run: ${fmt(steps.length)} steps with ticks (+ ingest's closing step), ${fmt(obs.tickCount)} ticks, ${fmt(obs.decisions.length)} decisions, ${fmt(obs.orders.length)} risk orders; ` +
    `steady part: steps ${skip + 1}..${steps.length} (from ${new Date(firstSteady).toISOString().slice(11, 16)} event time), ${fmt(steadyTicks)} ticks`);
  console.log(`ingest: ${fmt(tickRate)} ticks/s over the whole run, ${fmt(steadyTickRate)} ticks/s in the steady part (target ${fmt(args.rate)}; ` +
    `the market averaged ${fmt(obs.tickCount / steps.length)} ticks per event minute, against ${fmt(args.rate * run.stepWallMs / 1000)} assumed); ` +
    `every stage marked the last step ${fmt(run.finishedMs)} ms after ingest started (paced ingest alone: ~${fmt(run.ingestWallS * 1000)} ms)`);

  const w = 24;
  console.log('');
  console.log(`${'latency (ms), steady'.padEnd(w)}  ${'n'.padStart(7)}  ${'p50'.padStart(7)}  ${'p90'.padStart(7)}  ${'p99'.padStart(7)}  ${'max'.padStart(7)}`);
  const line = (what: string, x: Dist): void =>
    console.log(`${what.padEnd(w)}  ${fmt(x.n).padStart(7)}  ${ms(x.p50).padStart(7)}  ${ms(x.p90).padStart(7)}  ${ms(x.p99).padStart(7)}  ${ms(x.max).padStart(7)}`);
  line('tick -> decision', decisions);
  line('tick -> risk order', orders);

  // Per stage: when it marked each steady step, after that step's last tick; and its steps per second.
  console.log('');
  console.log(`${'stage'.padEnd(10)}  ${'steps'.padStart(6)}  ${'steps/s'.padStart(7)}  ${'mark after last tick of the step (ms): p50'.padStart(44)}  ${'p90'.padStart(7)}  ${'p99'.padStart(7)}  ${'max'.padStart(7)}  ${'last 10% p50'.padStart(12)}`);
  const input = 1000 / run.stepWallMs;
  for (const stage of MARKING) {
    const marks = obs.marks.get(stage)!;
    const mine = steps.slice(skip).filter((s) => marks.has(s));
    const times = mine.map((s) => marks.get(s)!).sort((a, b) => a - b);
    const rate = times.length > 1 ? (times.length - 1) / ((times[times.length - 1]! - times[0]!) / 1000) : Number.NaN;
    const after = mine.map((s) => marks.get(s)! - obs.lastTick.get(s)!);
    const x = dist(after);
    const tail = dist(after.slice(Math.floor(after.length * 0.9)));
    console.log(`${stage.padEnd(10)}  ${fmt(marks.size).padStart(6)}  ${rate.toFixed(2).padStart(7)}  ${ms(x.p50).padStart(44)}  ${ms(x.p90).padStart(7)}  ${ms(x.p99).padStart(7)}  ${ms(x.max).padStart(7)}  ${ms(tail.p50).padStart(12)}`);
  }
  console.log(`(paced input: ${input.toFixed(2)} steps/s; a stage slower than that falls behind, and its "mark after" grows over the run)`);

  // Is the steady part steady? Compare the latency of decisions in its first and last tenth of steps.
  const steadySteps = steps.slice(skip);
  const tenth = Math.max(1, Math.floor(steadySteps.length / 10));
  const early = new Set(steadySteps.slice(0, tenth));
  const late = new Set(steadySteps.slice(-tenth));
  const part = (set: Set<number>): Dist => dist(obs.decisions.filter((r) => set.has(r.step)).map((r) => r.at - obs.lastTick.get(r.step)!));
  const e = part(early);
  const l = part(late);
  console.log(`tick -> decision p50: first tenth of the steady steps ${ms(e.p50)} ms, last tenth ${ms(l.p50)} ms${l.p50 > 2 * e.p50 + run.stepWallMs ? ' (GROWING: the chain falls behind the paced input)' : ''}`);

  console.log('');
  console.log(
    `What the latency includes: ingest publishes the ticks of one event minute as one step (${fmt(args.rate * run.stepWallMs / 1000)} ticks on average) ` +
      `and ends it with its mark once they are acknowledged; at --speed ${run.speed.toFixed(2)} an event minute is 60/${run.speed.toFixed(2)} s = ${fmt(run.stepWallMs)} ms of wall time. ` +
      `The clock starts when this process receives the step's last tick, so it leaves out the wait for the minute itself (a bar of minute m closes in ` +
      `the step of minute m+1, once that minute's ticks arrive) and includes: ingest's acknowledgement and mark; features, ensemble (micro-batch and ` +
      `inference) and brains (risk for orders) each waiting for the previous stage's mark and every record it counts, processing the step, and ` +
      `publishing its outputs and then its own mark after their acknowledgement (linger 5 ms + ack, twice per stage and step); one consumer fetch ` +
      `per hop (fetch wait ${args.fetchWait} ms on the mock, which holds an empty fetch for the whole wait); and the lockstep of the fed-back topics: brains and ` +
      `risk at step s also wait for execution's mark of step s-1 (positions, equity, order events) and execution for exits' of s-1, so the chain ` +
      `advances one step per round trip brains -> risk -> execution (-> exits); when that round trip is longer than a step's wall time the backlog, ` +
      `and with it the latency, grows through the run. Receive times are this process's (its own fetch wait ${OWN_FETCH_WAIT_MS} ms); all eight stage processes, ` +
      `the mock cluster and this process share the machine's ${availableParallelism()} cores.`,
  );
  console.log(`loadavg at end ${load()}`);
}

process.exitCode = await main();
