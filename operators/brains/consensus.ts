import type { OperatorFunction, SchedulerLike } from 'rxjs';
import { map } from 'rxjs/operators';
import type { BrainDecision, RefusalReason, RiskMode } from '../../schemas/brain-decision.ts';
import type { EnsembleSignal, SupervisorVerdict } from '../../schemas/ensemble-signal.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { RiskBrainView } from './risk-brain.ts';
import type { StrategyView } from './strategy-brain.ts';

/** Settings of the consensus. */
export interface ConsensusConfig {
  /** Supervisor verdicts that block a trade. DRIFT only flags by default: the supervisor blocks bias and ill health. */
  readonly blockingVerdicts: readonly SupervisorVerdict[];
}

/** Defaults of the consensus. */
export const CONSENSUS_DEFAULTS: ConsensusConfig = Object.freeze({
  blockingVerdicts: Object.freeze(['BIAS', 'UNHEALTHY'] as const),
});

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

function refusalOf(input: ConsensusInput, config: ConsensusConfig): { reason: RefusalReason; detail: string } {
  const { signal, mode, strategy, risk } = input;
  // Order matters: the first reason that applies is the one journaled, most fundamental first.
  if (mode === 'CRITICAL') return { reason: 'MODE_CRITICAL', detail: input.modeReason };
  if (signal.signal === 'FLAT') return { reason: 'SIGNAL_FLAT', detail: `ensemble FLAT at confidence ${signal.confidence.toFixed(3)}` };
  if (config.blockingVerdicts.includes(signal.supervisor)) {
    return { reason: 'SUPERVISOR_BLOCK', detail: `supervisor ${signal.supervisor}${signal.supervisorReason ? `: ${signal.supervisorReason}` : ''}` };
  }
  if (input.positionOpen) return { reason: 'POSITION_ALREADY_OPEN', detail: `a position is open on ${signal.exchange}:${signal.symbol}` };
  if (!strategy.agrees) return { reason: 'STRATEGY_DISAGREES', detail: `${strategy.strategy}: ${strategy.detail}` };
  if (risk.veto) return { reason: 'RISK_BRAIN_VETO', detail: risk.detail };
  return { reason: 'NONE', detail: '' };
}

/**
 * The consensus of the brains on one signal: an INTENT in the signal's direction when every brain agrees, else a
 * REFUSAL with the first reason that applies (CRITICAL mode, FLAT signal, supervisor block, open position, strategy,
 * risk veto). tsEvent is the signal's; tsInit is the given creation time.
 */
export function decide(input: ConsensusInput, tsInit: number, config: ConsensusConfig = CONSENSUS_DEFAULTS): BrainDecision {
  const { signal } = input;
  const r = refusalOf(input, config);
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
export function consensus(scheduler: SchedulerLike, config: Partial<ConsensusConfig> = {}): OperatorFunction<ConsensusInput, BrainDecision> {
  const cfg: ConsensusConfig = { ...CONSENSUS_DEFAULTS, ...config };
  return (source) => source.pipe(map((input) => decide(input, scheduler.now(), cfg)));
}
