/**
 * Replicas under the step protocol (parts.ts, steps.ts, step-publisher.ts): parts and ownership, replicas' records and
 * marks seen as one stage, a restarted stage's own marks, and the gate's view for backpressure.
 */
import { describe, expect, it } from 'vitest';
import { deriveId } from '../../schemas/ids.ts';
import { out, type BusRecord } from '../../schemas/ports.ts';
import type { StepMark } from '../../schemas/step-mark.ts';
import { MemoryBus } from '../../sources/memory-bus.ts';
import { samples } from '../../test/fixtures/messages.ts';
import { ownedParts, partOfKey, partsOf, replicaGroup, replicaProblem } from './parts.ts';
import { BTC, ids, mark, rec, S1, S2 } from './step-fixtures.ts';
import { StepPublisher } from './step-publisher.ts';
import { STEP_TOPIC, StepGate } from './steps.ts';

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
