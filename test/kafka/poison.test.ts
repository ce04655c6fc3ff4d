/**
 * Poison messages in a running deployment: garbage bytes, an unknown schema id, a truncated body, a foreign record and
 * a valid record published outside the step protocol, mixed into md.bars.1m.v1 (read by features, execution and exits)
 * and ens.signals.v1 (read by brains) before and during the run. Every one lands in its topic's .dlq (one journal row
 * each, whichever groups read it), no stage stops, and the rest of the journal equals `qt run`'s on the same market;
 * the only other difference is the untagged bar itself, a valid message the journal keeps in qt.bars.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalSchemaIds } from '../../sources/kafka/schema-ids.ts';
import { frame, WireCodec } from '../../sources/kafka/wire.ts';
import { samples } from '../fixtures/messages.ts';
import { CHAIN, Deployment, journalDiff, journalRows, openTestCluster, runReference, waitForEnd, watchSteps, type Scenario, type TestCluster } from './deployment.ts';
import { endOffsets, rawProducer, waitFor } from './helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'qt-poison-'));
const FROM = Date.UTC(2025, 0, 6);
const TO = FROM + 4 * 3_600_000;
const SCENARIO: Scenario = {
  market: ['--symbols', '4', '--from', new Date(FROM).toISOString(), '--to', new Date(TO).toISOString(), '--seed', '11'],
  registry: join(tmp, 'registry'),
  env: { QT_RISK_CONFIDENCE_GATE: '0.5' },
};

let cluster: TestCluster;
let producer: Producer;
let deployment: Deployment | undefined;

beforeAll(async () => {
  cluster = await openTestCluster();
  producer = await rawProducer(cluster.mc);
});

afterAll(async () => {
  deployment?.killAll();
  await producer?.disconnect();
  await cluster?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Injects the poison into partition 0 of both topics; returns what each must become: `topic[0]@offset:REASON`. */
async function inject(round: number): Promise<string[]> {
  const wire = new WireCodec(new LocalSchemaIds());
  const bar = { ...samples['md.bars.1m.v1'], id: `poison-bar-${round}`, symbol: 'POISON/USDT' };
  const barBytes = await wire.encode('md.bars.1m.v1', bar);
  const expected: string[] = [];
  for (const topic of ['md.bars.1m.v1', 'ens.signals.v1'] as const) {
    // The topic's own schema id with a body cut short: it violates the schema.
    const own = await wire.encode(topic, samples[topic]);
    const body = own.subarray(5);
    const poison = [
      { value: Buffer.from(`{"not":"avro","round":${round}}`), reason: 'BAD_WIRE_FORMAT' },
      { value: frame(999_001, body), reason: 'UNKNOWN_SCHEMA_ID' },
      { value: frame(new LocalSchemaIds().writerIdSync(topic), body.subarray(0, body.length - 4)), reason: 'UNDECODABLE' },
      { value: await wire.encode('md.trades.v1', samples['md.trades.v1']), reason: 'SCHEMA_MISMATCH' },
    ];
    const [end] = await endOffsets(cluster.admin, topic);
    const [meta] = await producer.send({ topic, acks: -1, messages: poison.map((p) => ({ key: 'binance:POISON/USDT', value: p.value, partition: 0 })) });
    const base = Number(meta!.baseOffset);
    expect(base).toBeGreaterThanOrEqual(end!);
    poison.forEach((p, i) => expected.push(`${topic}[0]@${base + i}:${p.reason}`));
  }
  // A valid bar without step tags: the stages reading it dead-letter it (MISSING_STEP_TAGS).
  const [meta] = await producer.send({ topic: 'md.bars.1m.v1', acks: -1, messages: [{ key: 'binance:POISON/USDT', value: barBytes, partition: 0 }] });
  expected.push(`md.bars.1m.v1[0]@${Number(meta!.baseOffset)}:MISSING_STEP_TAGS`);
  return expected;
}

describe('poison messages in a running deployment', () => {
  it('all land in their .dlq, and the journal is otherwise that of qt run', async () => {
    runReference(SCENARIO, join(tmp, 'reference'));
    const want = journalRows(join(tmp, 'reference'));

    const d = (deployment = new Deployment(cluster.mc, SCENARIO, join(tmp, 'pipeline')));
    const steps = watchSteps(cluster.bus, 'qt-test.poison');
    await Promise.all([d.start('journal'), ...CHAIN.map((s) => d.start(s))]);
    const expected = await inject(0);
    await d.start('ingest');
    await waitFor(() => ((steps.last.get('exits')?.step ?? FROM) - FROM) / (TO - FROM) >= 0.3, 240_000, `progress (${d.log()})`);
    expected.push(...(await inject(1)));
    await waitForEnd(d, steps, cluster.admin, 240_000);
    // No stage stopped on the way: each of the eight ran once and drains cleanly.
    expect(d.processes.map((p) => p.stage).sort()).toEqual(['brains', 'ensemble', 'execution', 'exits', 'features', 'ingest', 'journal', 'risk']);
    const codes = await d.stopAll();
    for (const [stage, code] of Object.entries(codes)) expect(code, `${stage}\n${d.log()}`).toBe(0);
    steps.sub.unsubscribe();

    const got = journalRows(join(tmp, 'pipeline'));
    expect([...got.deadLetters].sort()).toEqual([...expected].sort());
    expect(want.deadLetters).toEqual([]);
    expect(journalDiff(want, got)).toEqual({ bars: { missing: 0, extra: 2 }, dead_letters: { missing: 0, extra: expected.length } });
  }, 420_000);
});
