/**
 * The step protocol (steps.ts): the edges derived from STAGES, StepGate's readiness rule and canonical order (records
 * and marks in any order, duplicates, gaps, fed-back inputs), its protocol errors, and StepPublisher's headers and mark
 * over a real MemoryBus, ending with one ingest -> features -> ensemble round through the bus.
 */
import { describe, expect, it } from 'vitest';
import { deriveId } from '../../schemas/ids.ts';
import { out } from '../../schemas/ports.ts';
import type { TopicName } from '../../schemas/topics.ts';
import { MemoryBus } from '../../sources/memory-bus.ts';
import { samples } from '../../test/fixtures/messages.ts';
import { partOfKey } from './parts.ts';
import { BTC, ETH, ids, mark, MIN, rec, S1, S2 } from './step-fixtures.ts';
import { StepPublisher } from './step-publisher.ts';
import { sideInputs, STEP_TOPIC, StepGate, stepEdges, StepProtocolError, stepTags } from './steps.ts';


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
