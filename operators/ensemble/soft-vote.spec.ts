import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { InvalidVoteError, softVote, softVoting, type WeightedVote } from './soft-vote.ts';

const vote = (member: string, weight: number, pDown: number, pFlat: number, pUp: number): WeightedVote => ({
  member,
  modelVersion: 'v1',
  weight,
  pDown,
  pFlat,
  pUp,
});

describe('softVote', () => {
  it('blends with weights normalised over the members present', () => {
    // weights 1 and 3 -> 0.25 and 0.75
    // pDown = 0.25*0.2 + 0.75*0.6 = 0.5; pFlat = 0.25*0.3 + 0.75*0.2 = 0.225; pUp = 0.25*0.5 + 0.75*0.2 = 0.275
    const r = softVote([vote('xgb', 1, 0.2, 0.3, 0.5), vote('lgb', 3, 0.6, 0.2, 0.2)]);
    expect(r.pDown).toBeCloseTo(0.5, 12);
    expect(r.pFlat).toBeCloseTo(0.225, 12);
    expect(r.pUp).toBeCloseTo(0.275, 12);
    expect(r.signal).toBe('SHORT');
    // directional confidence: pDown / (pDown + pUp) = 0.5 / 0.775
    expect(r.confidence).toBeCloseTo(0.5 / 0.775, 12);
    expect(r.members.map((m) => [m.member, m.weight])).toEqual([
      ['xgb', 0.25],
      ['lgb', 0.75],
    ]);
    expect(r.members[0]).toMatchObject({ modelVersion: 'v1', pDown: 0.2, pFlat: 0.3, pUp: 0.5 });
  });

  it('is LONG when P(UP) is the largest, with P(UP | a move) as confidence', () => {
    const r = softVote([vote('xgb', 2, 0.1, 0.3, 0.6)]);
    expect(r).toMatchObject({ pDown: 0.1, pFlat: 0.3, pUp: 0.6, signal: 'LONG' });
    expect(r.confidence).toBeCloseTo(0.6 / 0.7, 12);
    expect(r.members[0]!.weight).toBe(1);
  });

  it('is FLAT when P(FLAT) is the largest', () => {
    expect(softVote([vote('a', 1, 0.3, 0.4, 0.3)])).toMatchObject({ signal: 'FLAT', confidence: 0.4 });
  });

  it('is FLAT with P(FLAT) as confidence when UP and DOWN tie at the top', () => {
    // two opposite members with equal weight: pDown = pUp = 0.4, pFlat = 0.2
    const r = softVote([vote('a', 1, 0.7, 0.2, 0.1), vote('b', 1, 0.1, 0.2, 0.7)]);
    expect(r.pUp).toBeCloseTo(0.4, 12);
    expect(r.pDown).toBeCloseTo(0.4, 12);
    expect(r.signal).toBe('FLAT');
    expect(r.confidence).toBeCloseTo(0.2, 12);
  });

  it('counts members equally when every weight is zero', () => {
    const r = softVote([vote('a', 0, 1, 0, 0), vote('b', 0, 0, 0, 1), vote('c', 0, 0, 0, 1)]);
    expect(r.pDown).toBeCloseTo(1 / 3, 12);
    expect(r.pUp).toBeCloseTo(2 / 3, 12);
    expect(r.signal).toBe('LONG');
  });

  it('ignores a zero-weight member in the blend', () => {
    const r = softVote([vote('a', 0, 1, 0, 0), vote('b', 5, 0.2, 0.2, 0.6)]);
    expect(r).toMatchObject({ pDown: 0.2, pFlat: 0.2, pUp: 0.6, signal: 'LONG' });
  });

  it('refuses no members and negative or non-finite weights', () => {
    expect(() => softVote([])).toThrow(InvalidVoteError);
    for (const w of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      try {
        softVote([vote('bad', w, 0.3, 0.3, 0.4)]);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(InvalidVoteError);
        expect(e).toMatchObject({ reason: 'BAD_WEIGHT', member: 'bad', retriable: false });
      }
    }
  });
});

describe('softVoting', () => {
  it('votes once per emitted set, in order (marbles)', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const sets = {
        a: [vote('x', 1, 0.1, 0.2, 0.7)],
        b: [vote('x', 1, 0.5, 0.25, 0.25), vote('y', 1, 0.5, 0.25, 0.25)],
      };
      expectObservable(cold('-a--b|', sets).pipe(softVoting())).toBe('-A--B|', {
        A: softVote(sets.a),
        B: {
          pDown: 0.5,
          pFlat: 0.25,
          pUp: 0.25,
          signal: 'SHORT',
          confidence: 0.5 / 0.75,
          members: [
            { member: 'x', modelVersion: 'v1', weight: 0.5, pDown: 0.5, pFlat: 0.25, pUp: 0.25 },
            { member: 'y', modelVersion: 'v1', weight: 0.5, pDown: 0.5, pFlat: 0.25, pUp: 0.25 },
          ],
        },
      });
    });
  });

  it('errors the stream on an invalid set (a broken invariant, not a refusal)', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      expectObservable(cold('-a|', { a: [] as WeightedVote[] }).pipe(softVoting())).toBe('-#', undefined, new InvalidVoteError('NO_MEMBERS'));
    });
  });
});
