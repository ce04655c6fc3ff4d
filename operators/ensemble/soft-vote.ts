import type { OperatorFunction } from 'rxjs';
import { map } from 'rxjs/operators';
import type { MemberVote, Signal } from '../../schemas/ensemble-signal.ts';

/** One member's probabilities and its (not yet normalised) weight. */
export interface WeightedVote {
  readonly member: string;
  readonly modelVersion: string;
  readonly weight: number;
  readonly pDown: number;
  readonly pFlat: number;
  readonly pUp: number;
}

/** The weighted soft vote: blended probabilities, the chosen direction, its probability, and the members' shares. */
export interface SoftVote {
  readonly pDown: number;
  readonly pFlat: number;
  readonly pUp: number;
  readonly signal: Signal;
  /** Probability of the chosen class. */
  readonly confidence: number;
  /** The members with their normalised weights (summing to 1), in input order. */
  readonly members: readonly MemberVote[];
}

/** A vote with no member, or with a weight that is negative or not finite: a broken invariant of the caller. */
export class InvalidVoteError extends Error {
  override readonly name = 'InvalidVoteError';
  readonly retriable = false;
  constructor(
    readonly reason: 'NO_MEMBERS' | 'BAD_WEIGHT',
    readonly member?: string,
  ) {
    super(reason === 'NO_MEMBERS' ? 'soft vote over no members' : `soft vote: member ${member} has a negative or non-finite weight`);
  }
}

/**
 * Weighted soft vote. Weights are normalised over the members present (all-zero weights count equally), the class
 * probabilities are the weighted means, and the signal is LONG when P(UP) is strictly the largest, SHORT when P(DOWN)
 * is, FLAT otherwise (FLAT largest, or a tie at the top: no side wins). Confidence of a side is its probability given
 * that the price moves, P(side) / (P(UP) + P(DOWN)): how sure the vote is of the direction, which is what the risk gate
 * trades on (P(FLAT) already had its say in the signal); the confidence of FLAT is P(FLAT).
 */
export function softVote(votes: readonly WeightedVote[]): SoftVote {
  if (votes.length === 0) throw new InvalidVoteError('NO_MEMBERS');
  let total = 0;
  for (const v of votes) {
    if (!(v.weight >= 0) || !Number.isFinite(v.weight)) throw new InvalidVoteError('BAD_WEIGHT', v.member);
    total += v.weight;
  }
  const share = (w: number): number => (total > 0 ? w / total : 1 / votes.length);
  let pDown = 0;
  let pFlat = 0;
  let pUp = 0;
  const members: MemberVote[] = votes.map((v) => {
    const weight = share(v.weight);
    pDown += weight * v.pDown;
    pFlat += weight * v.pFlat;
    pUp += weight * v.pUp;
    return { member: v.member, modelVersion: v.modelVersion, weight, pDown: v.pDown, pFlat: v.pFlat, pUp: v.pUp };
  });
  const signal: Signal = pUp > pDown && pUp > pFlat ? 'LONG' : pDown > pUp && pDown > pFlat ? 'SHORT' : 'FLAT';
  const confidence = signal === 'LONG' ? pUp / (pUp + pDown) : signal === 'SHORT' ? pDown / (pUp + pDown) : pFlat;
  return { pDown, pFlat, pUp, signal, confidence, members };
}

/** The soft vote as an operator: each emitted set of member votes becomes one SoftVote. */
export function softVoting(): OperatorFunction<readonly WeightedVote[], SoftVote> {
  return map(softVote);
}
