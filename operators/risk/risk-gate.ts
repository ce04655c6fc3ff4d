import { defer, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { filter, map } from 'rxjs/operators';
import type { BrainDecision } from '../../schemas/brain-decision.ts';
import { instrumentKey } from '../../schemas/common.ts';
import type { Equity } from '../../schemas/equity.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { OrderEvent } from '../../schemas/order-event.ts';
import type { Position } from '../../schemas/position.ts';
import type { DenyReason, RiskOrder } from '../../schemas/risk-order.ts';
import { haltAt, HALT_DEFAULTS, initialHaltState, stepHalt, type HaltConfig, type HaltState, type HaltView } from './drawdown-halt.ts';
import { ExposureBook, type InstrumentExposure } from './exposure-book.ts';
import { sizePosition, SIZING_DEFAULTS, type SizingConfig } from './position-sizing.ts';
import { withDefaults } from './with-defaults.ts';

/** Every setting of risk v1, flat. The `risk` section of the run configuration holds the main ones. */
export interface RiskConfig extends SizingConfig, HaltConfig {
  /** Intents below this ensemble confidence are denied. */
  readonly confidenceGate: number;
  /** An approved entry whose order ends without an order event (lost) stops counting as open after this long. */
  readonly pendingEntryTtlMs: number;
}

/** Defaults of risk v1. */
export const RISK_DEFAULTS: RiskConfig = Object.freeze({
  ...SIZING_DEFAULTS,
  ...HALT_DEFAULTS,
  confidenceGate: 0.65,
  // The paper broker works an order for up to 3 bars; 5 minutes covers that with slack.
  pendingEntryTtlMs: 300_000,
});

/** Defaults overlaid with the given settings; a key given as undefined keeps its default. */
export function riskConfig(config: Partial<RiskConfig> = {}): RiskConfig {
  return withDefaults(RISK_DEFAULTS, config);
}

/** One input of risk from the decision, equity and position topics, tagged by topic. */
export type RiskEvent =
  | { readonly kind: 'decision'; readonly decision: BrainDecision }
  | { readonly kind: 'equity'; readonly equity: Equity }
  | { readonly kind: 'position'; readonly position: Position };

/** Every input of risk: the RiskEvents plus exec.orders.v1 events, which end pending entries. */
export type RiskInput = RiskEvent | { readonly kind: 'execution'; readonly event: OrderEvent };

/** An INTENT without a LONG or SHORT side: a broken invariant of the brains, so the stage crashes (crash-only). */
export class InvalidIntentError extends Error {
  override readonly name = 'InvalidIntentError';
  readonly retriable = false;
  constructor(
    readonly decisionId: string,
    readonly side: string | null,
  ) {
    super(`intent ${decisionId} has no LONG/SHORT side (${String(side)})`);
  }
}

/** The account as risk sees it when an intent arrives. */
export interface RiskContext {
  /** Latest equity; NaN when none has been seen. */
  readonly equity: number;
  readonly halt: HaltView;
  /** What is open on the intent's instrument. */
  readonly instrument: InstrumentExposure;
  /** Open notional on every instrument. */
  readonly openExposure: number;
  /** Margin pledged by open positions and pending entries, as the broker counts it; 0 when absent. */
  readonly usedMargin?: number;
}

/** Risk order id and client order id of a decision. */
export function riskOrderIds(decisionId: string): { id: string; clientOrderId: string } {
  return { id: deriveId('ro', decisionId), clientOrderId: deriveId('co', decisionId) };
}

function denied(d: BrainDecision, ctx: RiskContext, tsInit: number, reason: DenyReason, detail: string): RiskOrder {
  return {
    ...riskOrderIds(d.id),
    tsEvent: d.tsEvent,
    tsInit,
    exchange: d.exchange,
    symbol: d.symbol,
    decisionId: d.id,
    verdict: 'DENIED',
    denyReason: reason,
    denyDetail: detail,
    side: null,
    qty: 0,
    leverage: 1,
    refPrice: d.close,
    stopPrice: 0,
    takeProfits: [],
    riskFraction: 0,
    equity: Number.isFinite(ctx.equity) ? ctx.equity : 0,
    mode: d.mode,
    confidence: d.confidence,
  };
}

/**
 * Risk v1 on one INTENT decision: APPROVED with size, stop and take-profits, or DENIED with the first reason that
 * applies, in this order: MODE_CRITICAL, WEEKLY_DRAWDOWN_HALT, DAILY_DRAWDOWN_HALT, POSITION_OPEN (open or pending on
 * the instrument), CONFIDENCE_BELOW_GATE, then sizing's INVALID_STOP, SIZE_TOO_SMALL and EXPOSURE_CAP. Pure.
 */
export function evaluateIntent(decision: BrainDecision, ctx: RiskContext, tsInit: number, config: RiskConfig = RISK_DEFAULTS): RiskOrder {
  const d = decision;
  const deny = (reason: DenyReason, detail: string): RiskOrder => denied(d, ctx, tsInit, reason, detail);
  if (d.mode === 'CRITICAL') return deny('MODE_CRITICAL', `mode CRITICAL: ${d.modeReason}`);
  if (ctx.halt.weekly) return deny('WEEKLY_DRAWDOWN_HALT', ctx.halt.detail);
  if (ctx.halt.daily) return deny('DAILY_DRAWDOWN_HALT', ctx.halt.detail);
  if (ctx.instrument.busy) return deny('POSITION_OPEN', ctx.instrument.detail);
  if (!(d.confidence >= config.confidenceGate)) {
    return deny('CONFIDENCE_BELOW_GATE', `confidence ${d.confidence.toFixed(3)} < gate ${config.confidenceGate}`);
  }
  if (d.side !== 'LONG' && d.side !== 'SHORT') throw new InvalidIntentError(d.id, d.side);
  const sized = sizePosition(
    {
      side: d.side,
      close: d.close,
      atrPct: d.atrPct,
      equity: ctx.equity,
      riskScale: d.riskScale,
      openExposure: ctx.openExposure,
      instrumentExposure: ctx.instrument.notional,
      usedMargin: ctx.usedMargin ?? 0,
    },
    config,
  );
  if (!sized.ok) return deny(sized.reason, sized.detail);
  return {
    ...riskOrderIds(d.id),
    tsEvent: d.tsEvent,
    tsInit,
    exchange: d.exchange,
    symbol: d.symbol,
    decisionId: d.id,
    verdict: 'APPROVED',
    denyReason: 'NONE',
    denyDetail: sized.detail,
    side: d.side === 'LONG' ? 'BUY' : 'SELL',
    qty: sized.qty,
    leverage: sized.leverage,
    refPrice: d.close,
    stopPrice: sized.stopPrice,
    takeProfits: sized.takeProfits,
    riskFraction: sized.riskFraction,
    equity: ctx.equity,
    mode: d.mode,
    confidence: d.confidence,
  };
}

/**
 * The state of risk and its step over one input, in arrival order: equity points feed the drawdown halts and the sizing
 * equity, positions and order events feed the exposure book, and each INTENT decision becomes one risk order
 * (REFUSAL decisions produce nothing: they are journaled already). An approval is booked as a pending entry at once,
 * with its margin, so the next intent sees it; a REJECTED or CANCELLED entry frees its instrument and margin at once.
 */
export class RiskDesk {
  /** The settings in force. */
  readonly config: RiskConfig;
  private halt: HaltState = initialHaltState();
  private readonly book: ExposureBook;

  constructor(config: Partial<RiskConfig> = {}) {
    this.config = riskConfig(config);
    this.book = new ExposureBook(this.config.pendingEntryTtlMs);
  }

  /** Takes one input at clock time `now` (the tsInit of an order); returns the risk order of an INTENT, else undefined. */
  step(ev: RiskInput, now: number): RiskOrder | undefined {
    if (ev.kind === 'equity') {
      this.halt = stepHalt(this.halt, ev.equity, this.config);
      return undefined;
    }
    if (ev.kind === 'position') {
      this.book.applyPosition(ev.position);
      return undefined;
    }
    if (ev.kind === 'execution') {
      this.book.applyOrder(ev.event);
      return undefined;
    }
    const d = ev.decision;
    if (d.outcome !== 'INTENT') return undefined;
    const key = instrumentKey(d);
    this.book.expire(d.tsEvent);
    const ctx: RiskContext = {
      equity: this.halt.equity,
      halt: haltAt(this.halt, d.tsEvent, this.config),
      instrument: this.book.instrument(key),
      openExposure: this.book.total(),
      usedMargin: this.book.usedMargin(),
    };
    const order = evaluateIntent(d, ctx, now, this.config);
    if (order.verdict === 'APPROVED') {
      const { clientOrderId, qty, refPrice, leverage } = order;
      this.book.addPending({ key, clientOrderId, notional: qty * refPrice, tsEvent: d.tsEvent, qty, leverage });
    }
    return order;
  }
}

/** Risk over one tagged stream, in arrival order: a RiskDesk per subscription, tsInit from the scheduler. */
export function riskGate(deps: { readonly scheduler: SchedulerLike; readonly config?: Partial<RiskConfig> }): OperatorFunction<RiskInput, RiskOrder> {
  return (source) =>
    defer(() => {
      const desk = new RiskDesk(deps.config);
      return source.pipe(
        map((ev) => desk.step(ev, deps.scheduler.now())),
        filter((o): o is RiskOrder => o !== undefined),
      );
    });
}
