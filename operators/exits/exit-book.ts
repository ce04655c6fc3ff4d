import type { Bar } from '../../schemas/bar.ts';
import { instrumentKey } from '../../schemas/common.ts';
import type { ExitEvent, ExitKind } from '../../schemas/exit-event.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { OrderEvent } from '../../schemas/order-event.ts';
import type { Clock } from '../../schemas/ports.ts';
import type { Position } from '../../schemas/position.ts';
import type { RiskOrder } from '../../schemas/risk-order.ts';
import { withDefaults } from '../risk/with-defaults.ts';
import { QTY_EPS as EPS } from './quantity.ts';
import { breakEvenOffsetBps, TRADING_COST_DEFAULTS } from './trading-costs.ts';

/** Settings of the exit rules. */
export interface ExitRulesConfig {
  /** Share of the filled entry quantity closed at each take-profit level, nearest first; the last level closes the rest. */
  readonly ladder: readonly number[];
  /** Trailing stop distance from the best price since arming, as a fraction (0.008 = 0.8%). */
  readonly trailingCallback: number;
  /** Break-even stop offset beyond the average entry in basis points, covering the round trip's fees and slippage; 0 = entry. */
  readonly breakEvenOffsetBps: number;
}

/** Defaults: ladder 40/40/20, 0.8% trailing callback, break-even covering the default costs (about 10 bps past entry). */
export const DEFAULT_EXIT_RULES: ExitRulesConfig = Object.freeze({
  ladder: Object.freeze([0.4, 0.4, 0.2]),
  trailingCallback: 0.008,
  breakEvenOffsetBps: breakEvenOffsetBps(TRADING_COST_DEFAULTS),
});

/** One input of the exit rules, in arrival order. */
export type ExitInput =
  | { readonly kind: 'order'; readonly order: RiskOrder }
  | { readonly kind: 'position'; readonly position: Position }
  | { readonly kind: 'bar'; readonly bar: Bar }
  /** An exec.orders.v1 event: an entry rejected or cancelled with nothing filled ends its plan. */
  | { readonly kind: 'execution'; readonly event: OrderEvent };

/** Dead entries remembered at most, waiting for a late plan. */
const MAX_DEAD_ENTRIES = 1024;

interface Tracked {
  readonly positionId: string;
  readonly exchange: string;
  readonly symbol: string;
  readonly key: string;
  /** From the approved risk order; undefined until it arrives. */
  plan?: { readonly dir: 1 | -1; readonly targets: readonly number[] };
  /** Stop in force; 0 = none. */
  stop: number;
  opened: boolean;
  /** tsEvent of the first position update (the bar of the first fill). */
  openedTs: number;
  /** Entry quantity filled so far: the sum of the position's increases. */
  entryFilled: number;
  openQty: number;
  avgEntry: number;
  /** Ids of the position updates seen at seenTs, the latest update time. */
  readonly seen: Set<string>;
  seenTs: number;
  /** Quantity already asked for by take-profit orders. */
  claimed: number;
  levelsHit: number;
  armed: boolean;
  best: number;
  /** A stop fired: the position is being closed and no rule fires again. */
  stopped: boolean;
  lastEvaluatedTs: number;
}

/**
 * The exit rules of every open position, as a state machine: a stop-loss from the risk order, a take-profit ladder
 * whose quantities are shares of the entry quantity actually filled, a break-even stop and a 0.8% trailing stop after
 * the first target. Bars are evaluated with their high and low, stop first when both a stop and a target are touched.
 * A position's bar is evaluated once, whether the bar or the position update for it arrives first. One instance per
 * subscription; tsInit from the injected clock.
 */
export class ExitBook {
  /** The settings in force. */
  readonly config: ExitRulesConfig;
  /** Tracked positions (and plans waiting for their fill) by position id, in arrival order. */
  private readonly byId = new Map<string, Tracked>();
  private readonly lastBar = new Map<string, Bar>();
  private readonly latestPlanTs = new Map<string, number>();
  /** Entries that died unfilled before their plan arrived (out-of-order delivery): the plan is dropped when it comes. */
  private readonly deadEntries = new Set<string>();

  constructor(config: Partial<ExitRulesConfig>, private readonly clock: Clock) {
    this.config = withDefaults(DEFAULT_EXIT_RULES, config);
  }

  /** Processes one input and returns the exit events it causes, in order. */
  step(input: ExitInput): ExitEvent[] {
    if (input.kind === 'order') return this.onOrder(input.order);
    if (input.kind === 'position') return this.onPosition(input.position);
    if (input.kind === 'execution') return this.onExecution(input.event);
    return this.onBar(input.bar);
  }

  /** Number of positions and plans tracked (closed positions are dropped). */
  tracked(): number {
    return this.byId.size;
  }

  private onOrder(o: RiskOrder): ExitEvent[] {
    if (o.verdict !== 'APPROVED' || o.side === null) return [];
    if (this.deadEntries.delete(o.clientOrderId)) return [];
    const key = instrumentKey(o);
    // A redelivered order (same id, or older than the newest plan on the instrument) must not replace a newer plan.
    if (this.byId.get(o.clientOrderId)?.plan || o.tsEvent < (this.latestPlanTs.get(key) ?? Number.NEGATIVE_INFINITY)) return [];
    this.latestPlanTs.set(key, o.tsEvent);
    // Plans whose entry never filled would otherwise pile up: a newer plan on the instrument replaces them.
    for (const t of [...this.byId.values()]) if (t.key === key && !t.opened && t.plan) this.byId.delete(t.positionId);
    const t = this.track(o.clientOrderId, o);
    t.plan = { dir: o.side === 'BUY' ? 1 : -1, targets: o.takeProfits.filter((p) => Number.isFinite(p) && p > 0) };
    t.stop = Number.isFinite(o.stopPrice) && o.stopPrice > 0 ? o.stopPrice : 0;
    return this.catchUp(t);
  }

  private onPosition(p: Position): ExitEvent[] {
    const t = this.track(p.positionId, p);
    // Redelivered updates must not count as new entry fills; only ids of the latest tsEvent need remembering.
    if (p.tsEvent < t.seenTs || t.seen.has(p.id)) return [];
    if (p.tsEvent > t.seenTs) {
      t.seen.clear();
      t.seenTs = p.tsEvent;
    }
    t.seen.add(p.id);
    if (p.side === 'FLAT' || !(p.qty > 0)) {
      // Closed: its exits stop here.
      this.byId.delete(p.positionId);
      return [];
    }
    // The broker publishes the position after every fill, so each increase is one entry fill.
    const delta = p.qty - t.openQty;
    if (delta > 0) t.entryFilled += delta;
    t.openQty = p.qty;
    t.avgEntry = p.avgEntry;
    if (!t.opened) t.openedTs = p.tsEvent;
    t.opened = true;
    const bar = this.lastBar.get(t.key);
    // The position changed in the last bar we saw: that bar is evaluated now if it was not yet for this position.
    return bar && bar.tsEvent === p.tsEvent ? this.catchUp(t) : [];
  }

  /** An entry the broker rejected, or cancelled before any fill, will never open a position: its plan goes. */
  private onExecution(e: OrderEvent): ExitEvent[] {
    if (e.purpose !== 'ENTRY' || !(e.status === 'REJECTED' || e.status === 'CANCELLED') || e.filledQty > 0) return [];
    const t = this.byId.get(e.clientOrderId);
    if (!t) {
      this.deadEntries.add(e.clientOrderId);
      // Bounded: an entry whose plan never comes (it was replaced, or the event was redelivered) must not pile up.
      if (this.deadEntries.size > MAX_DEAD_ENTRIES) this.deadEntries.delete(this.deadEntries.values().next().value!);
    } else if (!t.opened) this.byId.delete(e.clientOrderId);
    return [];
  }

  private onBar(b: Bar): ExitEvent[] {
    const key = instrumentKey(b);
    this.lastBar.set(key, b);
    const res: ExitEvent[] = [];
    for (const t of [...this.byId.values()]) {
      if (t.key === key && this.ready(t, b)) this.evaluate(t, b, res);
    }
    return res;
  }

  private catchUp(t: Tracked): ExitEvent[] {
    const bar = this.lastBar.get(t.key);
    const res: ExitEvent[] = [];
    if (bar && this.ready(t, bar)) this.evaluate(t, bar, res);
    return res;
  }

  /** True when the bar is due for the position: it has a plan, is open, and the bar is new and not before its first fill. */
  private ready(t: Tracked, b: Bar): boolean {
    return t.plan !== undefined && t.opened && t.openQty > 0 && !t.stopped && b.tsEvent > t.lastEvaluatedTs && b.tsEvent >= t.openedTs;
  }

  private track(positionId: string, m: { readonly exchange: string; readonly symbol: string }): Tracked {
    let t = this.byId.get(positionId);
    if (!t) {
      t = {
        positionId, exchange: m.exchange, symbol: m.symbol, key: instrumentKey(m), stop: 0, opened: false, openedTs: Number.POSITIVE_INFINITY, entryFilled: 0,
        openQty: 0, avgEntry: 0, seen: new Set(), seenTs: Number.NEGATIVE_INFINITY, claimed: 0, levelsHit: 0, armed: false, best: 0, stopped: false,
        lastEvaluatedTs: Number.NEGATIVE_INFINITY,
      };
      this.byId.set(positionId, t);
    }
    return t;
  }

  private evaluate(t: Tracked, b: Bar, res: ExitEvent[]): void {
    const plan = t.plan;
    if (!plan) return;
    t.lastEvaluatedTs = b.tsEvent;
    const dir = plan.dir;
    const adverse = dir === 1 ? b.low : b.high;
    const favourable = dir === 1 ? b.high : b.low;
    // Conservative intra-bar order: when the bar touches both the stop and a target, the stop came first.
    if (t.stop > 0 && (dir === 1 ? adverse <= t.stop : adverse >= t.stop)) {
      t.stopped = true;
      res.push(this.event(t, b, t.armed ? 'TRAILING_STOP' : 'STOP_LOSS', 0, t.stop, t.openQty));
      return;
    }
    while (t.levelsHit < plan.targets.length) {
      const target = plan.targets[t.levelsHit]!;
      if (dir === 1 ? favourable < target : favourable > target) break;
      const level = ++t.levelsHit;
      const unclaimed = t.entryFilled - t.claimed;
      const want = level === plan.targets.length ? unclaimed : this.cumulativeShare(level) * t.entryFilled - t.claimed;
      const qty = Math.min(unclaimed, want);
      if (qty > EPS * t.entryFilled) {
        t.claimed += qty;
        res.push(this.event(t, b, 'TAKE_PROFIT', level, target, qty));
      }
      if (level === 1) {
        t.stop = this.tighten(t, t.avgEntry * (1 + (dir * this.config.breakEvenOffsetBps) / 10_000));
        res.push(this.event(t, b, 'STOP_TO_BREAK_EVEN', 0, target, 0));
        // The bar's extreme came at or after the first touch of the target, so it counts as "since arming".
        t.armed = true;
        t.best = favourable;
        t.stop = this.tighten(t, t.best * (1 - dir * this.config.trailingCallback));
        res.push(this.event(t, b, 'TRAILING_ARMED', 0, target, 0));
      }
    }
    if (t.armed) {
      // Updated after the stop check: this bar's extreme only moves the stop for the bars that follow.
      t.best = dir === 1 ? Math.max(t.best, favourable) : Math.min(t.best, favourable);
      t.stop = this.tighten(t, t.best * (1 - dir * this.config.trailingCallback));
    }
  }

  /** Share of the filled quantity that take-profits up to this level close together. */
  private cumulativeShare(level: number): number {
    let s = 0;
    for (let i = 0; i < level; i++) s += this.config.ladder[i] ?? 0;
    return Math.min(1, s);
  }

  /** The stop moved towards the price, never away from it. */
  private tighten(t: Tracked, candidate: number): number {
    if (!(t.stop > 0)) return candidate;
    return t.plan?.dir === -1 ? Math.min(t.stop, candidate) : Math.max(t.stop, candidate);
  }

  private event(t: Tracked, b: Bar, kind: ExitKind, level: number, triggerPrice: number, qty: number): ExitEvent {
    return {
      id: deriveId('exit', t.positionId, kind, level),
      tsEvent: b.tsEvent,
      tsInit: this.clock.now(),
      exchange: t.exchange,
      symbol: t.symbol,
      positionId: t.positionId,
      kind,
      level,
      triggerPrice,
      qty,
      stopPrice: t.stop,
      clientOrderId: qty > 0 ? deriveId('co-exit', t.positionId, kind, level) : '',
    };
  }
}
