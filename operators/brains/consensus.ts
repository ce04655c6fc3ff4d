import type { OperatorFunction, SchedulerLike } from 'rxjs';
import { map } from 'rxjs/operators';
import type { BrainDecision, RefusalReason, RiskMode } from '../../schemas/brain-decision.ts';
import type { EnsembleSignal } from '../../schemas/ensemble-signal.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { RiskBrainView } from './risk-brain.ts';
import type { StrategyView } from './strategy-brain.ts';

// The consensus has no settings. What the supervisor does to a signal is decided once, by the supervisor, side by side
// (signal.supervisorAction), not re-derived here from the verdict: a BIAS verdict may concern the other side, and DRIFT
// and UNHEALTHY act through the CEO brain's mode (SAFE, CRITICAL). A verdict list here could only contradict it.

/** Everything the consensus weighs for one signal. */
export interface ConsensusInput {
  readonly signal: EnsembleSignal;
  readonly mode: RiskMode;
  readonly modeReason: string;
  readonly strategy: StrategyView;
  readonly risk: RiskBrainView;
  /** True when a position is open on the signal's instrument. */
  readonly positionOpen: boolean;
}

/** The decision id: a hash of the signal id and the model version of each member, in the signal's member order. */
export function decisionId(signal: EnsembleSignal): string {
  return deriveId('dec', signal.id, ...signal.members.map((m) => m.modelVersion));
}

function refusalOf(input: ConsensusInput): { reason: RefusalReason; detail: string } {
  const { signal, mode, strategy, risk } = input;
  // Order matters: the first reason that applies is the one journaled, most fundamental first.
  if (mode === 'CRITICAL') return { reason: 'MODE_CRITICAL', detail: input.modeReason };
  if (signal.signal === 'FLAT') return { reason: 'SIGNAL_FLAT', detail: `ensemble FLAT at confidence ${signal.confidence.toFixed(3)}` };
  // BLOCK is set only for the side of an enforced bias; OBSERVE (a check raised but not blocking) never refuses.
  if (signal.supervisorAction === 'BLOCK') {
    return {
      reason: 'SUPERVISOR_BLOCK',
      detail: `supervisor ${signal.supervisor} blocks ${signal.signal}${signal.supervisorReason ? `: ${signal.supervisorReason}` : ''}`,
    };
  }
  if (input.positionOpen) return { reason: 'POSITION_ALREADY_OPEN', detail: `a position is open on ${signal.exchange}:${signal.symbol}` };
  if (!strategy.agrees) return { reason: 'STRATEGY_DISAGREES', detail: `${strategy.strategy}: ${strategy.detail}` };
  if (risk.veto) return { reason: 'RISK_BRAIN_VETO', detail: risk.detail };
  return { reason: 'NONE', detail: '' };
}

/**
 * The consensus of the brains on one signal: an INTENT in the signal's direction when every brain agrees, else a
 * REFUSAL with the first reason that applies (CRITICAL mode, FLAT signal, supervisor BLOCK on the signal's side, open
 * position, strategy, risk veto). tsEvent is the signal's; tsInit is the given creation time.
 */
export function decide(input: ConsensusInput, tsInit: number): BrainDecision {
  const { signal } = input;
  const r = refusalOf(input);
  const intent = r.reason === 'NONE';
  return {
    id: decisionId(signal),
    tsEvent: signal.tsEvent,
    tsInit,
    exchange: signal.exchange,
    symbol: signal.symbol,
    signalId: signal.id,
    outcome: intent ? 'INTENT' : 'REFUSAL',
    refusal: r.reason,
    refusalDetail: r.detail,
    side: intent ? signal.signal : null,
    mode: input.mode,
    modeReason: input.modeReason,
    strategy: input.strategy.strategy,
    riskScale: input.risk.scale,
    confidence: signal.confidence,
    signal: signal.signal,
    members: signal.members,
    close: signal.market.close,
    atrPct: signal.market.atrPct,
  };
}

/** The consensus as an operator: one decision per input, tsInit from the scheduler. */
export function consensus(scheduler: SchedulerLike): OperatorFunction<ConsensusInput, BrainDecision> {
  return (source) => source.pipe(map((input) => decide(input, scheduler.now())));
}
