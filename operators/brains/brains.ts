import { defer, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { filter, map } from 'rxjs/operators';
import type { BrainDecision } from '../../schemas/brain-decision.ts';
import { instrumentKey } from '../../schemas/common.ts';
import type { EnsembleSignal } from '../../schemas/ensemble-signal.ts';
import type { Equity } from '../../schemas/equity.ts';
import type { Position } from '../../schemas/position.ts';
import { CEO_DEFAULTS, initialCeoState, stepCeo, type CeoConfig, type CeoInput } from './ceo-brain.ts';
import { decide } from './consensus.ts';
import { MarketWatch } from './market-watch.ts';
import { assessRisk, RISK_BRAIN_DEFAULTS, type RiskBrainConfig } from './risk-brain.ts';
import { withDefaults } from '../risk/with-defaults.ts';
import { chooseStrategy, STRATEGY_DEFAULTS, type StrategyConfig } from './strategy-brain.ts';

/** Every setting of the brains, flat (the names do not overlap), so one config section can hold them. */
export type BrainsConfig = CeoConfig & StrategyConfig & RiskBrainConfig;

/** Defaults of the brains. */
export const BRAINS_DEFAULTS: BrainsConfig = Object.freeze({
  ...CEO_DEFAULTS,
  ...STRATEGY_DEFAULTS,
  ...RISK_BRAIN_DEFAULTS,
});

/** One input of the brains, tagged by topic. */
export type BrainsEvent =
  | { readonly kind: 'signal'; readonly signal: EnsembleSignal }
  | { readonly kind: 'equity'; readonly equity: Equity }
  | { readonly kind: 'position'; readonly position: Position };

/** Defaults overlaid with the given settings; a key given as undefined keeps its default. */
export function brainsConfig(config: Partial<BrainsConfig> = {}): BrainsConfig {
  return withDefaults(BRAINS_DEFAULTS, config);
}

/**
 * The brains as one stateful engine, in arrival order: every input steps the CEO brain (equity, positions, and each
 * signal through the market watch, with the signal's supervisor verdict); each signal then goes through the strategy
 * and risk brains and the consensus (which honours the signal's supervisor BLOCK) and becomes one decision. The operator wraps it; loops without RxJS call it directly.
 */
export class BrainsDesk {
  private ceo = initialCeoState();
  private readonly watch: MarketWatch;
  private readonly open = new Map<string, boolean>();
  private readonly cfg: BrainsConfig;

  constructor(config: Partial<BrainsConfig> = {}) {
    this.cfg = brainsConfig(config);
    this.watch = new MarketWatch(this.cfg);
  }

  /** One input at clock time `now`: the decision for a signal, else undefined. */
  step(ev: BrainsEvent, now: number): BrainDecision | undefined {
    const step = stepCeo(this.ceo, this.ceoInput(ev, now), this.cfg);
    this.ceo = step.state;
    if (ev.kind === 'position') {
      this.open.set(instrumentKey(ev.position), ev.position.side !== 'FLAT' && ev.position.qty > 0);
      return undefined;
    }
    if (ev.kind !== 'signal') return undefined;
    const signal = ev.signal;
    const strategy = chooseStrategy(signal, this.cfg);
    const risk = assessRisk({ mode: step.mode, atrPct: signal.market.atrPct, confidence: signal.confidence }, this.cfg);
    const positionOpen = this.open.get(instrumentKey(signal)) ?? false;
    return decide({ signal, mode: step.mode, modeReason: step.reason, strategy, risk, positionOpen }, now);
  }

  private ceoInput(ev: BrainsEvent, now: number): CeoInput {
    if (ev.kind === 'signal') {
      this.watch.observe(ev.signal);
      const { tsEvent, supervisor, supervisorReason } = ev.signal;
      return { kind: 'market', tsEvent, market: this.watch.view(), supervisor, supervisorReason, now };
    }
    if (ev.kind === 'equity') return { kind: 'equity', equity: ev.equity, now };
    return { kind: 'position', position: ev.position, now };
  }
}

/** The brains over one tagged stream (see BrainsDesk); state lives per subscription. */
export function brains(deps: { readonly scheduler: SchedulerLike; readonly config?: Partial<BrainsConfig> }): OperatorFunction<BrainsEvent, BrainDecision> {
  brainsConfig(deps.config);
  return (source) =>
    defer(() => {
      const desk = new BrainsDesk(deps.config);
      return source.pipe(
        map((ev) => desk.step(ev, deps.scheduler.now())),
        filter((d): d is BrainDecision => d !== undefined),
      );
    });
}
