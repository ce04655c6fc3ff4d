/**
 * The step protocol (steps.ts): the edges derived from STAGES, StepGate's readiness rule and canonical order (records
 * and marks in any order, duplicates, gaps, fed-back inputs), its protocol errors, and StepPublisher's headers and mark
 * over a real MemoryBus, ending with one ingest -> features -> ensemble round through the bus.
 */
import { describe, expect, it } from 'vitest';
import { deriveId } from '../../schemas/ids.ts';
import { out, type BusRecord } from '../../schemas/ports.ts';
import type { StepMark } from '../../schemas/step-mark.ts';
import type { TopicName, Topics } from '../../schemas/topics.ts';
import { MemoryBus } from '../../sources/memory-bus.ts';
import { samples, T1 } from '../../test/fixtures/messages.ts';
import { ownedParts, partOfKey, partsOf, replicaGroup, replicaProblem } from './parts.ts';
import { StepPublisher } from './step-publisher.ts';
import { sideInputs, STEP_TOPIC, StepGate, stepEdges, StepProtocolError, stepTags, type ReadyStep, type SteppedStage } from './steps.ts';

const BTC = 'binance:BTC/USDT';
const ETH = 'binance:ETH/USDT';
const MIN = 60_000;
const S1 = T1;
const S2 = S1 + MIN;

let offset = 0;
/** A record of `topic` tagged with (step, seq), its value the topic's sample with the given id. */
function rec<T extends TopicName>(topic: T, step: number, seq: number, id: string, partition = 0): BusRecord<unknown> {
  const value = { ...samples[topic], id } as Topics[T];
  return { topic, partition, offset: offset++, key: BTC, value, timestamp: T1, headers: { 'qt.step': String(step), 'qt.seq': String(seq) } };
}

/** A stage's mark of a step; counts as [topic, partition, records, part?]; parts default to the only one. */
function mark(stage: SteppedStage, step: number, prevStep: number, counts: [string, number, number, number?][], last = false, parts = [0], partsOf = 1): StepMark {
  return {
    id: deriveId('step', stage, step), tsEvent: step, tsInit: step, stage, step, prevStep, clock: step + 59_000, last,
    counts: counts.map(([topic, partition, records, part]) => ({ topic, partition, records, part: part ?? 0 })),
    parts,
    partsOf,
  };
}

/** The records of a ready step as `topic:id`. */
const ids = (s: ReadyStep | undefined): string[] => (s?.records ?? []).map((r) => `${r.topic}:${(r.value as { id: string }).id}`);

describe('stepEdges and sideInputs', () => {
  it('derive producers and lags from STAGES', () => {
    expect(stepEdges('features')).toEqual([{ topic: 'md.bars.1m.v1', producer: 'ingest', lag: 0 }]);
    expect(stepEdges('ensemble')).toEqual([{ topic: 'feat.vectors.v1', producer: 'features', lag: 0 }]);
    expect(stepEdges('brains')).toEqual([
      { topic: 'ens.signals.v1', producer: 'ensemble', lag: 0 },
      { topic: 'pos.equity.v1', producer: 'execution', lag: 1 },
      { topic: 'pos.positions.v1', producer: 'execution', lag: 1 },
    ]);
    expect(stepEdges('execution')).toEqual([
      { topic: 'risk.orders.v1', producer: 'risk', lag: 0 },
      { topic: 'exit.events.v1', producer: 'exits', lag: 1 },
      { topic: 'md.bars.1m.v1', producer: 'ingest', lag: 0 },
    ]);
    expect(stepEdges('ingest')).toEqual([]);
    expect(sideInputs('ensemble')).toEqual(['model.registry.v1']);
    expect(sideInputs('brains')).toEqual([]);
  });
});

describe('StepGate', () => {
  it('waits for every mark and counted record, in any order, then yields them in canonical order', () => {
    // exits reads md.bars (ingest), risk.orders (risk), exec.orders and pos.positions (execution), all of the same step.
    const gate = new StepGate('exits');
    gate.offerRecord(rec('exec.orders.v1', S1, 2, 'o2'));
    gate.offerRecord(rec('md.bars.1m.v1', S1, 1, 'b2'));
    gate.offerMark(mark('ingest', S1, -1, [['md.bars.1m.v1', 0, 2], ['md.trades.v1', 0, 5]]));
    expect(gate.next()).toBeUndefined();
    gate.offerRecord(rec('md.bars.1m.v1', S1, 0, 'b1'));
    gate.offerMark(mark('execution', S1, -1, [['exec.fills.v1', 0, 3], ['exec.orders.v1', 0, 2], ['pos.positions.v1', 0, 1]]));
    gate.offerRecord(rec('pos.positions.v1', S1, 1, 'p1'));
    gate.offerRecord(rec('exec.orders.v1', S1, 0, 'o1'));
    expect(gate.next()).toBeUndefined(); // no mark from risk yet
    gate.offerMark(mark('risk', S1, -1, [['risk.orders.v1', 0, 1]]));
    expect(gate.next()).toBeUndefined(); // risk's record not yet in
    expect(gate.done).toBe(-1);
    gate.offerRecord(rec('risk.orders.v1', S1, 0, 'r1'));
    const s = gate.next();
    expect(s).toMatchObject({ step: S1, prevStep: -1, clock: S1 + 59_000, last: false });
    expect(ids(s)).toEqual([
      'md.bars.1m.v1:b1', 'md.bars.1m.v1:b2', 'risk.orders.v1:r1', 'exec.orders.v1:o1', 'pos.positions.v1:p1', 'exec.orders.v1:o2',
    ]);
    expect(gate.done).toBe(S1);
    expect(gate.next()).toBeUndefined();
  });

  it('needs the fed-back mark of the previous step after the first, and puts fed-back records first', () => {
    // risk reads brain.decisions of the step (brains) and positions, equity and order events of the step before (execution).
    const gate = new StepGate('risk');
    gate.offerMark(mark('ingest', S1, -1, []));
    gate.offerMark(mark('brains', S1, -1, [['brain.decisions.v1', 0, 1]]));
    gate.offerRecord(rec('brain.decisions.v1', S1, 0, 'd1'));
    expect(ids(gate.next())).toEqual(['brain.decisions.v1:d1']); // the first step needs no execution mark

    gate.offerMark(mark('ingest', S2, S1, []));
    gate.offerMark(mark('brains', S2, S1, [['brain.decisions.v1', 0, 1]]));
    gate.offerRecord(rec('brain.decisions.v1', S2, 0, 'd2'));
    gate.offerRecord(rec('pos.equity.v1', S1, 2, 'e1'));
    gate.offerRecord(rec('exec.orders.v1', S1, 0, 'o1'));
    gate.offerRecord(rec('pos.positions.v1', S1, 1, 'p1'));
    gate.offerRecord(rec('exec.orders.v1', S2, 0, 'o-next')); // of S2: fed back into the step after S2
    expect(gate.next()).toBeUndefined(); // execution has not marked S1
    gate.offerMark(mark('execution', S1, -1, [['exec.orders.v1', 0, 1], ['pos.equity.v1', 0, 1], ['pos.positions.v1', 0, 1]]));
    const s = gate.next();
    expect(s).toMatchObject({ step: S2, prevStep: S1 });
    expect(ids(s)).toEqual(['exec.orders.v1:o1', 'pos.positions.v1:p1', 'pos.equity.v1:e1', 'brain.decisions.v1:d2']);
    // A fed-back record of the step just consumed through the feedback is already processed.
    expect(gate.offerRecord(rec('pos.positions.v1', S1, 1, 'p1'))).toBe(false);
    expect(gate.duplicates).toBe(1);
  });

  it('counts a duplicate record once, drops records of processed steps, ignores a repeated mark and refuses a different one', () => {
    const gate = new StepGate('features');
    expect(gate.offerRecord(rec('md.bars.1m.v1', S1, 0, 'b1'))).toBe(true);
    expect(gate.offerRecord(rec('md.bars.1m.v1', S1, 0, 'b1'))).toBe(false);
    expect(gate.duplicates).toBe(1);
    gate.offerMark(mark('ingest', S1, -1, [['md.bars.1m.v1', 0, 1]]));
    // The same mark again (a restarted producer) changes nothing; a different one is a producer gone wrong.
    gate.offerMark(mark('ingest', S1, -1, [['md.bars.1m.v1', 0, 1]]));
    expect(() => gate.offerMark(mark('ingest', S1, -1, [['md.bars.1m.v1', 0, 3]]))).toThrow(/marked step \d+ twice, differently/);
    gate.offerMark(mark('brains', S1, -1, [])); // a stage features does not read
    expect(ids(gate.next())).toEqual(['md.bars.1m.v1:b1']);
    expect(gate.offerRecord(rec('md.bars.1m.v1', S1, 0, 'b1'))).toBe(false);
    expect(gate.offerRecord(rec('md.bars.1m.v1', S1, 7, 'b7'))).toBe(false);
    expect(gate.duplicates).toBe(3);
    gate.offerMark(mark('ingest', S1, -1, [['md.bars.1m.v1', 0, 1]])); // resent after processing
    expect(gate.next()).toBeUndefined();
    expect(gate.done).toBe(S1);
  });

  it('follows ingest\'s prevStep chain: a missing mark blocks later steps, gaps are fine', () => {
    const gate = new StepGate('features');
    const S3 = S1 + 3 * MIN;
    const S4 = S3 + 2 * MIN;
    gate.offerMark(mark('ingest', S4, S3, [['md.bars.1m.v1', 0, 1]], true));
    gate.offerRecord(rec('md.bars.1m.v1', S4, 0, 'b4'));
    gate.offerMark(mark('ingest', S3, S1, [['md.bars.1m.v1', 0, 1]]));
    gate.offerRecord(rec('md.bars.1m.v1', S3, 0, 'b3'));
    expect(gate.next()).toBeUndefined(); // S1's mark is missing
    expect(gate.done).toBe(-1);
    gate.offerMark(mark('ingest', S1, -1, []));
    expect(gate.next()).toMatchObject({ step: S1, prevStep: -1, records: [] });
    const s3 = gate.next();
    expect(s3).toMatchObject({ step: S3, prevStep: S1, last: false });
    expect(ids(s3)).toEqual(['md.bars.1m.v1:b3']);
    const s4 = gate.next();
    expect(s4).toMatchObject({ step: S4, prevStep: S3, clock: S4 + 59_000, last: true });
    expect(ids(s4)).toEqual(['md.bars.1m.v1:b4']);
    expect(gate.next()).toBeUndefined();
    expect(gate.done).toBe(S4);
  });

  it('throws StepProtocolError on missing tags, foreign topics and more records than marked', () => {
    const gate = new StepGate('features');
    const bare = { ...rec('md.bars.1m.v1', S1, 0, 'b1') };
    delete (bare as { headers?: unknown }).headers;
    expect(() => gate.offerRecord(bare)).toThrow(StepProtocolError);
    expect(() => gate.offerRecord({ ...bare, headers: { 'qt.step': String(S1) } })).toThrow(/without valid qt\.step\/qt\.seq/);
    expect(() => gate.offerRecord({ ...bare, headers: { 'qt.step': String(S1), 'qt.seq': '-1' } })).toThrow(StepProtocolError);
    expect(() => gate.offerRecord(rec('feat.vectors.v1', S1, 0, 'f1'))).toThrow(/feat\.vectors\.v1 is not a stepped input of features/);
    expect(() => new StepGate('ensemble').offerRecord(rec('model.registry.v1', S1, 0, 'm1'))).toThrow(StepProtocolError);
    expect(stepTags('features', rec('md.bars.1m.v1', S1, 4, 'b'))).toEqual({ step: S1, part: 0, seq: 4 });

    gate.offerMark(mark('ingest', S1, -1, [['md.bars.1m.v1', 0, 1]]));
    gate.offerRecord(rec('md.bars.1m.v1', S1, 0, 'b1'));
    gate.offerRecord(rec('md.bars.1m.v1', S1, 1, 'b2'));
    expect(() => gate.next()).toThrow(StepProtocolError);
    expect(() => gate.next()).toThrow(/2 distinct records of md\.bars\.1m\.v1\[0\] in step \d+, marked 1/);
  });

  it('refuses loose tags and records on a partition the mark does not list', () => {
    const gate = new StepGate('features');
    for (const bad of ['', '0x10', '1e1', ' 5', '-3']) {
      expect(() => gate.offerRecord({ ...rec('md.bars.1m.v1', S1, 0, 'b'), headers: { 'qt.step': bad, 'qt.seq': '0' } }), JSON.stringify(bad)).toThrow(StepProtocolError);
    }
    gate.offerMark(mark('ingest', S1, -1, [['md.bars.1m.v1', 0, 1]]));
    gate.offerRecord(rec('md.bars.1m.v1', S1, 0, 'b1', 0));
    gate.offerRecord(rec('md.bars.1m.v1', S1, 1, 'b2', 9));
    expect(() => gate.next()).toThrow(/2 distinct records of md\.bars\.1m\.v1 in step \d+, marked 1/);
  });
});

describe('StepPublisher', () => {
  it('closes the step when end() starts: a later output is refused, not left out of the mark', async () => {
    const bus = new MemoryBus({ clock: { now: () => 0 } });
    const p = new StepPublisher(bus, 'features');
    p.begin(S1, -1);
    void p.publish(out('feat.vectors.v1', BTC, { ...samples['feat.vectors.v1'], id: 'v1' }));
    const ending = p.end(S1 + 1, false);
    expect(() => p.publish(out('feat.vectors.v1', BTC, { ...samples['feat.vectors.v1'], id: 'v2' }))).toThrow(StepProtocolError);
    expect((await ending).counts.reduce((n, c) => n + c.records, 0)).toBe(1);
    expect(() => p.begin(-5, -1)).toThrow(/invalid step/);
    await bus.close();
  });

  it('tags outputs with step and seq and ends the step with its mark on pipe.steps.v1', async () => {
    const bus = new MemoryBus({ clock: { now: () => 0 } });
    const pub = new StepPublisher(bus, 'ensemble');
    const sig = samples['ens.signals.v1'];
    const vote = samples['model.votes.v1'];
    expect(() => pub.publish(out('ens.signals.v1', BTC, sig))).toThrow(StepProtocolError);
    await expect(pub.end(S1, false)).rejects.toThrow(StepProtocolError);
    expect(pub.open).toBe(false);

    pub.begin(S1, -1);
    expect(pub.open).toBe(true);
    expect(() => pub.begin(S2, S1)).toThrow(StepProtocolError);
    const pBtc = bus.partitionFor('model.votes.v1', BTC);
    const pEth = bus.partitionFor('model.votes.v1', ETH);
    expect(pBtc).toBeLessThan(pEth);
    await pub.publish(out('model.votes.v1', ETH, { ...vote, id: 'v1' }));
    await pub.publish(out('model.votes.v1', BTC, { ...vote, id: 'v2' }));
    await pub.publish(out('ens.signals.v1', BTC, { ...sig, id: 's1' }));
    await pub.publish(out('model.votes.v1', ETH, { ...vote, id: 'v3' }));
    const m = await pub.end(S1 + 59_000, true);
    expect(pub.open).toBe(false);

    const tags = (t: TopicName): [string, string | undefined, string | undefined][] =>
      bus.records(t).map((r) => [(r.value as { id: string }).id, r.headers?.['qt.step'], r.headers?.['qt.seq']]);
    expect(tags('model.votes.v1')).toEqual([['v1', String(S1), '0'], ['v2', String(S1), '1'], ['v3', String(S1), '3']]);
    expect(tags('ens.signals.v1')).toEqual([['s1', String(S1), '2']]);

    expect(m).toEqual({
      id: deriveId('step', 'ensemble', S1), tsEvent: S1 + 59_000, tsInit: S1 + 59_000, stage: 'ensemble', step: S1, prevStep: -1,
      clock: S1 + 59_000, last: true,
      counts: [
        { topic: 'ens.signals.v1', partition: bus.partitionFor('ens.signals.v1', BTC), records: 1, part: 0 },
        { topic: 'model.votes.v1', partition: pBtc, records: 1, part: 0 },
        { topic: 'model.votes.v1', partition: pEth, records: 2, part: 0 },
      ],
      parts: [0],
      partsOf: 1,
    });
    // A stage that is not split writes no part header.
    expect(bus.records('ens.signals.v1')[0]!.headers?.['qt.part']).toBeUndefined();
    const marks = bus.records(STEP_TOPIC);
    expect(marks.map((r) => r.key)).toEqual(['ensemble']);
    expect(marks[0]!.value).toEqual(m);

    // The next step starts its sequence again; the mark's id depends on stage and step only.
    pub.begin(S2, S1);
    await pub.publish(out('ens.signals.v1', BTC, { ...sig, id: 's2' }));
    const m2 = await pub.end(S2 + 59_000, false);
    expect(bus.records('ens.signals.v1').map((r) => r.headers?.['qt.seq'])).toEqual(['2', '0']);
    expect(m2.id).not.toBe(m.id);
    const again = new StepPublisher(new MemoryBus({ clock: { now: () => 0 } }), 'ensemble');
    again.begin(S1, -1);
    expect((await again.end(S1, false)).id).toBe(m.id);
    expect((await again.end(S1, false).catch((e: unknown) => e)) instanceof StepProtocolError).toBe(true);
  });
});

describe('a round through the memory bus', () => {
  it('ingest and features publish a step; the ensemble gate reads exactly what features published', async () => {
    const bus = new MemoryBus({ clock: { now: () => 0 } });
    const ingest = new StepPublisher(bus, 'ingest');
    const features = new StepPublisher(bus, 'features');
    const gate = new StepGate('ensemble');
    bus.consume('feat.vectors.v1', 'qt.ensemble').subscribe((r) => gate.offerRecord(r));
    bus.consume(STEP_TOPIC, 'qt.ensemble').subscribe((r) => gate.offerMark(r.value));

    const bars = [{ ...samples['md.bars.1m.v1'], id: 'b1' }, { ...samples['md.bars.1m.v1'], id: 'b2', symbol: 'ETH/USDT' }];
    ingest.begin(S1, -1);
    await ingest.publish(out('md.bars.1m.v1', BTC, bars[0]!));
    await ingest.publish(out('md.bars.1m.v1', ETH, bars[1]!));
    await ingest.end(S1 + 59_000, false);
    expect(gate.next()).toBeUndefined(); // features has not marked the step

    const vectors = [
      { ...samples['feat.vectors.v1'], id: 'f-eth', barId: 'b2', symbol: 'ETH/USDT' },
      { ...samples['feat.vectors.v1'], id: 'f-btc', barId: 'b1' },
    ];
    features.begin(S1, -1);
    await features.publish(out('feat.vectors.v1', ETH, vectors[0]!));
    await features.publish(out('feat.vectors.v1', BTC, vectors[1]!));
    expect(gate.next()).toBeUndefined(); // records in, mark not yet
    const fm = await features.end(S1 + 59_000, false);
    expect(fm.counts.map((c) => c.records)).toEqual([1, 1]);

    const s = gate.next();
    expect(s).toMatchObject({ step: S1, prevStep: -1, clock: S1 + 59_000, last: false });
    // Features is split by symbol: its records come in the order of their parts, then of their seq within the part.
    expect(partOfKey('features', BTC)).not.toBe(partOfKey('features', ETH));
    const byPart = partOfKey('features', BTC) < partOfKey('features', ETH) ? [vectors[1]!, vectors[0]!] : vectors;
    expect(s!.records).toEqual(byPart.map((value) => ({ topic: 'feat.vectors.v1', value })));
    expect(bus.records('feat.vectors.v1').map((r) => [r.headers?.['qt.part'], r.headers?.['qt.seq']])).toEqual([
      [String(partOfKey('features', ETH)), '0'],
      [String(partOfKey('features', BTC)), '0'],
    ]);
    expect(gate.next()).toBeUndefined();
    expect(gate.duplicates).toBe(0);
    await bus.close();
  });
});

describe('replicas of a split stage', () => {
  /** Symbols whose features parts differ: enough that each of two and of three replicas owns some of them. */
  const SYMBOLS = ['BTC', 'ETH', 'SOL', 'XRP', 'ADA', 'DOGE', 'BNB', 'LTC', 'DOT', 'LINK'].map((s) => `binance:${s}/USDT`);

  it('splits the work of features and exits into the partitions of md.bars.1m.v1; other stages run once', () => {
    expect(partsOf('features')).toBe(12);
    expect(partsOf('exits')).toBe(12);
    expect(partsOf('ensemble')).toBe(1);
    expect(partOfKey('risk', BTC)).toBe(0);
    expect(ownedParts('features', { index: 1, count: 3 })).toEqual([1, 4, 7, 10]);
    expect(ownedParts('features', { index: 0, count: 1 })).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(ownedParts('ensemble', { index: 0, count: 1 })).toEqual([0]);
    expect(replicaProblem('features', { index: 11, count: 12 })).toBeUndefined();
    expect(replicaProblem('features', { index: 0, count: 13 })).toMatch(/at most 12 replicas/);
    expect(replicaProblem('ensemble', { index: 0, count: 2 })).toMatch(/ensemble cannot run as several replicas/);
    expect(replicaProblem('exits', { index: 2, count: 2 })).toMatch(/0 <= i < n/);
    expect(() => ownedParts('brains', { index: 1, count: 2 })).toThrow(RangeError);
    expect(replicaGroup('features', { index: 0, count: 1 })).toBe('qt.features');
    expect(replicaGroup('features', { index: 1, count: 2 })).toBe('qt.features.replica-1');
  });

  /** Publishes one features step of one vector per symbol through replica i of n; resolves with its mark. */
  async function publishVectors(bus: MemoryBus, replica: { index: number; count: number }): Promise<StepMark> {
    const p = new StepPublisher(bus, 'features', replica);
    const owned = new Set(ownedParts('features', replica));
    p.begin(S1, -1);
    for (const key of SYMBOLS) {
      if (owned.has(partOfKey('features', key))) void p.publish(out('feat.vectors.v1', key, { ...samples['feat.vectors.v1'], id: `f-${key}`, symbol: key.slice(8) }));
    }
    return p.end(S1 + 59_000, false);
  }

  /** The ensemble's view of step S1 after the given features replicas published it. */
  async function ensembleSees(replicas: { index: number; count: number }[]): Promise<{ records: string[]; marks: StepMark[]; tags: string[] }> {
    const bus = new MemoryBus({ clock: { now: () => 0 } });
    const gate = new StepGate('ensemble');
    bus.consume('feat.vectors.v1', 'qt.ensemble').subscribe((r) => gate.offerRecord(r));
    bus.consume(STEP_TOPIC, 'qt.ensemble').subscribe((r) => gate.offerMark(r.value));
    const ingest = new StepPublisher(bus, 'ingest');
    ingest.begin(S1, -1);
    await ingest.end(S1 + 59_000, false);
    const marks: StepMark[] = [];
    for (const [i, r] of replicas.entries()) {
      marks.push(await publishVectors(bus, r));
      // Complete only once the marks cover every part.
      if (i < replicas.length - 1) expect(gate.next()).toBeUndefined();
    }
    const s = gate.next();
    const tags = bus.records('feat.vectors.v1').map((r) => `${(r.value as { id: string }).id}@${r.headers?.['qt.part']}.${r.headers?.['qt.seq']}`).sort();
    await bus.close();
    return { records: ids(s), marks, tags };
  }

  it('two or three replicas of features give the ensemble what one gives, in the same order and with the same tags', async () => {
    const one = await ensembleSees([{ index: 0, count: 1 }]);
    expect(one.records).toHaveLength(SYMBOLS.length);
    const two = await ensembleSees([{ index: 1, count: 2 }, { index: 0, count: 2 }]);
    const three = await ensembleSees([{ index: 2, count: 3 }, { index: 0, count: 3 }, { index: 1, count: 3 }]);
    expect(two.records).toEqual(one.records);
    expect(three.records).toEqual(one.records);
    expect(two.tags).toEqual(one.tags);
    expect(three.tags).toEqual(one.tags);
    // The only replica's mark keeps the plain id; each replica's names its parts, and marks every part it owns.
    expect(one.marks[0]!.id).toBe(deriveId('step', 'features', S1));
    expect(two.marks.map((m) => m.parts)).toEqual([[1, 3, 5, 7, 9, 11], [0, 2, 4, 6, 8, 10]]);
    expect(new Set(two.marks.map((m) => m.id)).size).toBe(2);
    expect(two.marks.every((m) => m.partsOf === 12 && m.counts.every((c) => m.parts.includes(c.part)))).toBe(true);
  });

  it('refuses an output of a part the replica does not own', () => {
    const p = new StepPublisher(new MemoryBus({ clock: { now: () => 0 } }), 'exits', { index: 0, count: 2 });
    p.begin(S1, -1);
    const foreign = SYMBOLS.find((k) => partOfKey('exits', k) % 2 === 1)!;
    expect(() => p.publish(out('exit.events.v1', foreign, samples['exit.events.v1']))).toThrow(/which this replica does not own/);
  });

  it('a replica counts every record of its inputs but processes only those of its own parts', () => {
    const replica = { index: 1, count: 2 };
    const gate = new StepGate('exits', replica);
    const mine = SYMBOLS.filter((k) => partOfKey('exits', k) % 2 === 1);
    const theirs = SYMBOLS.filter((k) => partOfKey('exits', k) % 2 === 0);
    const bars = [...theirs.slice(0, 2), ...mine.slice(0, 2)].map((key, seq) => ({ ...rec('md.bars.1m.v1', S1, seq, `b-${key}`), key }));
    gate.offerMark(mark('ingest', S1, -1, [['md.bars.1m.v1', 0, bars.length]]));
    gate.offerMark(mark('risk', S1, -1, []));
    gate.offerMark(mark('execution', S1, -1, []));
    for (const b of bars.slice(0, 3)) gate.offerRecord(b);
    expect(gate.next()).toBeUndefined(); // one record (of its own part) still missing
    expect(gate.waitingFor()).toMatch(/1 of 4 records of md.bars.1m.v1\[0\]/);
    gate.offerRecord(bars[3]!);
    expect(ids(gate.next())).toEqual(mine.slice(0, 2).map((k) => `md.bars.1m.v1:b-${k}`));
  });

  it('merges marks part by part: a step of two replicas is complete with both, the same part marked again must agree', () => {
    const gate = new StepGate('ensemble');
    const parts = (i: number, n: number): number[] => ownedParts('features', { index: i, count: n }) as number[];
    const vec = (part: number, seq: number, id: string): BusRecord<unknown> => {
      const r = rec('feat.vectors.v1', S1, seq, id, part % 3);
      return { ...r, headers: { ...r.headers, 'qt.part': String(part) } };
    };
    gate.offerMark(mark('ingest', S1, -1, []));
    // Replica 0 of 2 marks its six parts: one vector in part 0, one in part 4.
    gate.offerMark(mark('features', S1, -1, [['feat.vectors.v1', 0, 1, 0], ['feat.vectors.v1', 1, 1, 4]], false, parts(0, 2), 12));
    gate.offerRecord(vec(4, 0, 'v4'));
    gate.offerRecord(vec(0, 0, 'v0'));
    expect(gate.next()).toBeUndefined();
    expect(gate.waitingFor()).toMatch(/features's mark of step \d+ \(parts 1,3,5,7,9,11 of 12\)/);
    // After a rescale, replica 1 of 3 marks parts 1, 4, 7, 10: part 4 again, with the same counts, and part 1.
    gate.offerMark(mark('features', S1, -1, [['feat.vectors.v1', 1, 1, 1], ['feat.vectors.v1', 1, 1, 4]], false, parts(1, 3), 12));
    // Part 4 marked with other counts is corrupt state.
    expect(() => gate.offerMark(mark('features', S1, -1, [['feat.vectors.v1', 1, 2, 4]], false, [4], 12))).toThrow(/part 4/);
    expect(() => gate.offerMark(mark('features', S1, -1, [], false, [0], 6))).toThrow(/in 12 parts, then in 6/);
    gate.offerRecord(vec(1, 0, 'v1'));
    expect(gate.next()).toBeUndefined(); // parts 3, 5, 9, 11 are marked by nobody yet
    gate.offerMark(mark('features', S1, -1, [], false, [3, 5, 9, 11], 12));
    // Same part and seq twice is one record; order: part, then seq.
    expect(gate.offerRecord(vec(1, 0, 'v1'))).toBe(false);
    expect(ids(gate.next())).toEqual(['feat.vectors.v1:v0', 'feat.vectors.v1:v1', 'feat.vectors.v1:v4']);
  });
});

describe('a restarted stage', () => {
  it('knows the steps it marked before (for every part it owns) and rebuilds them without publishing', async () => {
    const replica = { index: 1, count: 2 };
    const gate = new StepGate('features', replica);
    const mine = ownedParts('features', replica) as number[];
    gate.offerMark(mark('ingest', S1, -1, []));
    gate.offerMark(mark('ingest', S2, S1, []));
    // Its own mark of S1; of S2 only the other replica's (and one of its own parts, from before a rescale to 3).
    gate.offerMark(mark('features', S1, -1, [], false, mine, 12));
    gate.offerMark(mark('features', S2, S1, [], false, ownedParts('features', { index: 0, count: 2 }) as number[], 12));
    gate.offerMark(mark('features', S2, S1, [], false, [1, 4, 7, 10], 12));
    expect(gate.next()).toMatchObject({ step: S1, marked: true });
    expect(gate.next()).toMatchObject({ step: S2, marked: false });

    const bus = new MemoryBus({ clock: { now: () => 0 } });
    const p = new StepPublisher(bus, 'features', replica);
    const key = keyInParts(mine);
    p.begin(S1, -1, true);
    await p.publish(out('feat.vectors.v1', key, { ...samples['feat.vectors.v1'], id: 'again' }));
    const m = await p.end(S1 + 59_000, false);
    expect(m.counts).toEqual([{ topic: 'feat.vectors.v1', partition: bus.partitionFor('feat.vectors.v1', key), records: 1, part: partOfKey('features', key) }]);
    expect(bus.records('feat.vectors.v1')).toEqual([]);
    expect(bus.records(STEP_TOPIC)).toEqual([]);
    // The next step is published as usual.
    p.begin(S2, S1);
    await p.publish(out('feat.vectors.v1', key, { ...samples['feat.vectors.v1'], id: 'new' }));
    await p.end(S2 + 59_000, false);
    expect(bus.records('feat.vectors.v1').map((r) => (r.value as { id: string }).id)).toEqual(['new']);
    expect(bus.records(STEP_TOPIC)).toHaveLength(1);
    await bus.close();
  });
});

/** A key whose features part is one of `parts`. */
function keyInParts(parts: readonly number[]): string {
  for (let i = 0; ; i++) if (parts.includes(partOfKey('features', `binance:S${i}/USDT`))) return `binance:S${i}/USDT`;
}

describe('StepGate.needs and buffered (backpressure)', () => {
  it('needs a partition while the next step may lack records on it, not once they are all in or before ingest marks it', () => {
    const gate = new StepGate('brains');
    // Nothing known of the next step: no partition is needed (nothing is missing before ingest marks a step).
    expect(gate.needs('ens.signals.v1', 0)).toBe(false);
    gate.offerRecord(rec('ens.signals.v1', S1, 0, 's1', 0));
    gate.offerRecord(rec('ens.signals.v1', S2, 0, 's2', 1));
    expect(gate.buffered).toBe(2);
    gate.offerMark(mark('ingest', S1, -1, []));
    // Ensemble has not marked S1: any partition of its topic may still be needed.
    expect(gate.needs('ens.signals.v1', 1)).toBe(true);
    gate.offerMark(mark('ensemble', S1, -1, [['ens.signals.v1', 0, 2]]));
    expect(gate.needs('ens.signals.v1', 0)).toBe(true); // one of two records in
    expect(gate.needs('ens.signals.v1', 1)).toBe(false); // marked with none
    gate.offerRecord(rec('ens.signals.v1', S1, 1, 's1b', 0));
    expect(gate.needs('ens.signals.v1', 0)).toBe(false);
    // The fed-back topics are of the step before S1 (none): not needed. A topic the stage does not read: not needed.
    expect(gate.needs('pos.equity.v1', 0)).toBe(false);
    expect(gate.needs('md.bars.1m.v1', 0)).toBe(false);
    expect(gate.next()).toMatchObject({ step: S1 });
    expect(gate.buffered).toBe(1);
    // S2 needs execution's mark of S1 (fed back) first.
    gate.offerMark(mark('ingest', S2, S1, []));
    expect(gate.needs('pos.positions.v1', 3)).toBe(true);
  });
});
