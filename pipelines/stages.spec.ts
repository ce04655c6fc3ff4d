import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { queueScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { noopMeter, type Bus } from '../schemas/ports.ts';
import { DATA_TOPICS, dlqOf, type DataTopic } from '../schemas/topics.ts';
import { MemoryBus } from '../sources/memory-bus.ts';
import { FakeModel } from '../models/testing/fake-model.ts';
import { loadConfig } from './config.ts';
import { FakeRegistry, FakeTrainer } from './learning/fakes.ts';
import { wireChain } from './run/chain.ts';
import { InflightTracker } from './run/stage-wiring.ts';
import { isStepped, STEP_TOPIC } from './pipeline/steps.ts';
import { EXTERNAL_PRODUCERS, METRICS_BASE_PORT, STAGE_NAMES, STAGES, stageOf, UnknownStageError } from './stages.ts';

const ROOT = join(import.meta.dirname, '..');

/** Which (group, topic) pairs wireChain consumes, recorded by a bus that passes every call on to a memory bus. */
function consumedByChain(): Map<string, Set<string>> {
  const inner = new MemoryBus({ clock: { now: () => 0 } });
  const seen = new Map<string, Set<string>>();
  const bus: Bus = {
    publish: (t, k, v, h) => inner.publish(t, k, v, h),
    consume: (topic, group, opts) => {
      let s = seen.get(group);
      if (!s) seen.set(group, (s = new Set()));
      s.add(topic);
      return inner.consume(topic, group, opts);
    },
    commit: (g, t, p, o) => inner.commit(g, t, p, o),
    close: () => inner.close(),
  };
  const chain = wireChain({
    bus,
    scheduler: queueScheduler,
    meter: noopMeter,
    models: [new FakeModel({ member: 'a', probabilities: () => [0.2, 0.3, 0.5] })],
    config: loadConfig({ flags: { learning: { enabled: true } } }),
    instruments: new Set(),
    fail: (e) => {
      throw e;
    },
    swap: { apply: async () => null, release: async () => undefined },
    learning: { trainer: new FakeTrainer(), registry: new FakeRegistry() },
    inflight: new InflightTracker(),
    steps: new InflightTracker(),
  });
  for (const s of chain.stages) s.stop();
  chain.wireIngest();
  for (const s of chain.subs) s.unsubscribe();
  return seen;
}

/** Topics passed to `out('<topic>', ...)` in a stage's sources: what the stage publishes. */
function publishedBySource(files: readonly string[]): Set<string> {
  const found = new Set<string>();
  for (const f of files) {
    for (const m of readFileSync(join(ROOT, f), 'utf8').matchAll(/\bout\('([a-z0-9.]+)'/g)) found.add(m[1]!);
  }
  return found;
}

// The files whose out(...) calls are a stage's outputs (the epic, and the engine it wraps where it has one).
const SOURCES: Record<string, readonly string[]> = {
  ingest: ['pipelines/ingest/epic.ts'],
  features: ['pipelines/features/epic.ts'],
  ensemble: ['pipelines/ensemble/epic.ts', 'pipelines/ensemble/desk.ts'],
  brains: ['pipelines/brains/epic.ts'],
  risk: ['pipelines/risk/epic.ts'],
  execution: ['pipelines/execution/epic.ts', 'gateways/paper/paper-broker.ts'],
  exits: ['pipelines/exits/epic.ts'],
  learning: ['pipelines/learning/epic.ts'],
};

describe('STAGES', () => {
  it('lists the eight stages of the chain and learning, each in consumer group qt.<stage>', () => {
    expect(STAGE_NAMES).toEqual(['ingest', 'features', 'ensemble', 'brains', 'risk', 'execution', 'exits', 'journal', 'learning']);
    for (const s of STAGES) expect(s.group).toBe(`qt.${s.name}`);
    expect(STAGES.filter((s) => s.optional).map((s) => s.name)).toEqual(['learning']);
  });

  it('gives each stage its own metrics port from 9464 up', () => {
    expect(STAGES.map((s) => s.metricsPort)).toEqual(STAGES.map((_, i) => METRICS_BASE_PORT + i));
    expect(METRICS_BASE_PORT).toBe(9464);
  });

  it('consumes what pipelines/run/chain.ts wires for each stage', () => {
    const wired = consumedByChain();
    for (const s of STAGES.filter((x) => x.name !== 'ingest' && x.name !== 'journal')) {
      // The stages of the chain also read the step marks (the step protocol, pipelines/pipeline/steps.ts).
      const expected = [...s.inputs, ...(isStepped(s.name) ? [STEP_TOPIC] : [])];
      expect([...(wired.get(s.group) ?? [])].sort(), s.name).toEqual(expected.sort());
    }
    // Ingest is fed by the market source; the journal stage is started beside the chain on every topic.
    expect(wired.has('qt.ingest')).toBe(false);
    expect(stageOf('ingest').inputs).toEqual([]);
    expect([...stageOf('journal').inputs].sort()).toEqual([...DATA_TOPICS, ...DATA_TOPICS.map((t) => dlqOf(t))].sort());
  });

  it('publishes what each stage\'s code publishes, data topics as outputs and the rest as dead letters', () => {
    for (const s of STAGES.filter((x) => x.name !== 'journal')) {
      const published = publishedBySource(SOURCES[s.name]!);
      const data = [...published].filter((t) => !t.endsWith('.dlq')).sort();
      const dlq = [...published].filter((t) => t.endsWith('.dlq'));
      expect(data, s.name).toEqual([...s.outputs].sort());
      for (const t of dlq) expect(s.deadLetters, `${s.name} writes ${t}`).toContain(t);
    }
    expect(stageOf('journal').outputs).toEqual([]);
  });

  it('dead-letters each consumed data topic (ingest: each produced one)', () => {
    expect(stageOf('ingest').deadLetters).toEqual(['md.trades.v1.dlq', 'md.bars.1m.v1.dlq']);
    expect(stageOf('risk').deadLetters).toEqual(['brain.decisions.v1.dlq', 'pos.equity.v1.dlq', 'pos.positions.v1.dlq', 'exec.orders.v1.dlq']);
    expect(stageOf('journal').deadLetters).toEqual(DATA_TOPICS.map((t) => dlqOf(t)));
  });

  it('has every consumed data topic produced by exactly one stage or a named outside producer', () => {
    const producers = new Map<string, string[]>();
    for (const s of STAGES) for (const t of s.outputs) producers.set(t, [...(producers.get(t) ?? []), s.name]);
    for (const [t, who] of Object.entries(EXTERNAL_PRODUCERS)) producers.set(t, [...(producers.get(t) ?? []), who!]);
    for (const t of DATA_TOPICS) expect(producers.get(t), t).toHaveLength(1);
    const consumed = new Set(STAGES.filter((s) => s.name !== 'journal').flatMap((s) => s.inputs));
    for (const t of consumed) expect(producers.has(t as DataTopic), t).toBe(true);
  });

  it('refuses an unknown stage with a named, non-retriable error', () => {
    expect(stageOf('risk').name).toBe('risk');
    let e: unknown;
    try {
      stageOf('riks');
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(UnknownStageError);
    expect(e).toMatchObject({ name: 'UnknownStageError', stage: 'riks', retriable: false });
    expect((e as Error).message).toContain('ingest, features');
  });
});
