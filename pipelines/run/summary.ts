import type { TopicName, Topics } from '../../schemas/topics.ts';
import { isDlqTopic } from '../../schemas/topics.ts';

/** What a run did, for the closing summary. */
export interface RunSummary {
  ticks: number;
  bars: number;
  featureVectors: number;
  signals: number;
  decisions: number;
  intents: number;
  refusals: number;
  ordersApproved: number;
  ordersDenied: number;
  orders: number;
  fills: number;
  exits: number;
  closedTrades: number;
  wins: number;
  initialEquity: number;
  finalEquity: number;
  pnl: number;
  fees: number;
  maxDrawdown: number;
  deadLetters: number;
  deadLettersByReason: Record<string, number>;
  deniedByReason: Record<string, number>;
  firstEventMs: number;
  lastEventMs: number;
  /** The champions and their weights in the last signal. */
  lastMembers: readonly { member: string; modelVersion: string; weight: number }[];
  /** Per scored member (member@version, or ensemble): outcomes and summed log loss. */
  scores: Record<string, { n: number; logLoss: number }>;
  /** Decisions per CEO mode. */
  modes: Record<string, number>;
  /** Supervisor checks raised at the end: `check scope` -> detail. */
  raised: Record<string, string>;
  /** Registry changes and continuous-learning steps seen on the bus (changes made during the run and the log's history). */
  registryChanges: number;
  learningSteps: Record<string, number>;
}

/** Folds the messages of a run into its summary. */
export class SummaryCollector {
  readonly s: RunSummary;
  private readonly orderIds = new Set<string>();
  private readonly openPositions = new Set<string>();

  constructor(initialEquity: number) {
    this.s = {
      ticks: 0, bars: 0, featureVectors: 0, signals: 0, decisions: 0, intents: 0, refusals: 0, ordersApproved: 0,
      ordersDenied: 0, orders: 0, fills: 0, exits: 0, closedTrades: 0, wins: 0, initialEquity, finalEquity: initialEquity,
      pnl: 0, fees: 0, maxDrawdown: 0, deadLetters: 0, deadLettersByReason: {}, deniedByReason: {}, firstEventMs: Number.NaN, lastEventMs: Number.NaN,
      lastMembers: [], scores: {}, modes: {}, raised: {}, registryChanges: 0, learningSteps: {},
    };
  }

  /** Counts one message. */
  observe<T extends TopicName>(topic: T, value: Topics[T]): void {
    const s = this.s;
    if (isDlqTopic(topic)) {
      const dl = value as Topics['md.trades.v1.dlq'];
      s.deadLetters++;
      s.deadLettersByReason[dl.reason] = (s.deadLettersByReason[dl.reason] ?? 0) + 1;
      return;
    }
    switch (topic) {
      case 'md.trades.v1':
        s.ticks++;
        break;
      case 'md.bars.1m.v1': {
        const b = value as Topics['md.bars.1m.v1'];
        s.bars++;
        if (!(b.openTime >= s.firstEventMs)) s.firstEventMs = b.openTime;
        if (!(b.tsEvent <= s.lastEventMs)) s.lastEventMs = b.tsEvent;
        break;
      }
      case 'feat.vectors.v1':
        s.featureVectors++;
        break;
      case 'ens.signals.v1': {
        const sig = value as Topics['ens.signals.v1'];
        s.signals++;
        if (sig.members.length > 0) s.lastMembers = sig.members;
        break;
      }
      case 'model.scores.v1': {
        const sc = value as Topics['model.scores.v1'];
        const key = sc.member === 'ensemble' ? 'ensemble' : `${sc.member}@${sc.modelVersion}${sc.role === 'SHADOW' ? ' (shadow)' : ''}`;
        const acc = (s.scores[key] ??= { n: 0, logLoss: 0 });
        acc.n++;
        acc.logLoss += sc.logLoss;
        break;
      }
      case 'ens.supervisor.v1': {
        const e = value as Topics['ens.supervisor.v1'];
        const key = `${e.check} ${e.scope}${e.modelVersion ? `@${e.modelVersion}` : ''}`;
        if (e.status === 'RAISED') s.raised[key] = `${e.verdict}/${e.action}: ${e.detail}`;
        else delete s.raised[key];
        break;
      }
      case 'model.registry.v1':
        s.registryChanges++;
        break;
      case 'model.learning.v1': {
        const l = value as Topics['model.learning.v1'];
        s.learningSteps[l.step] = (s.learningSteps[l.step] ?? 0) + 1;
        break;
      }
      case 'brain.decisions.v1': {
        const d = value as Topics['brain.decisions.v1'];
        s.decisions++;
        s.modes[d.mode] = (s.modes[d.mode] ?? 0) + 1;
        if (d.outcome === 'INTENT') s.intents++;
        else s.refusals++;
        break;
      }
      case 'risk.orders.v1': {
        const r = value as Topics['risk.orders.v1'];
        if (r.verdict === 'APPROVED') s.ordersApproved++;
        else {
          s.ordersDenied++;
          s.deniedByReason[r.denyReason] = (s.deniedByReason[r.denyReason] ?? 0) + 1;
        }
        break;
      }
      case 'exec.orders.v1': {
        const o = value as Topics['exec.orders.v1'];
        if (!this.orderIds.has(o.clientOrderId)) {
          this.orderIds.add(o.clientOrderId);
          s.orders++;
        }
        break;
      }
      case 'exec.fills.v1':
        s.fills++;
        break;
      case 'exit.events.v1': {
        const e = value as Topics['exit.events.v1'];
        if (e.qty > 0) s.exits++;
        break;
      }
      case 'pos.positions.v1': {
        const p = value as Topics['pos.positions.v1'];
        const key = `${p.exchange}:${p.symbol}:${p.positionId}`;
        if (p.side !== 'FLAT') this.openPositions.add(key);
        else if (this.openPositions.delete(key)) {
          s.closedTrades++;
          if (p.realizedPnl > 0) s.wins++;
        }
        break;
      }
      case 'pos.equity.v1': {
        const e = value as Topics['pos.equity.v1'];
        s.finalEquity = e.equity;
        s.pnl = e.equity - s.initialEquity;
        s.fees = e.fees;
        s.maxDrawdown = Math.max(s.maxDrawdown, e.drawdownMax);
        break;
      }
      default:
        break;
    }
  }
}

const n = (x: number): string => x.toLocaleString('en-US');
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
const money = (x: number): string => x.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** Renders the summary as aligned text lines. */
export function formatSummary(s: RunSummary, where: { journal: string; seconds: number }): string {
  const span = Number.isFinite(s.firstEventMs)
    ? `${new Date(s.firstEventMs).toISOString().slice(0, 16)} → ${new Date(s.lastEventMs).toISOString().slice(0, 16)} UTC`
    : 'no bars';
  const reasons = Object.entries(s.deadLettersByReason).sort((a, b) => b[1] - a[1]).map(([r, c]) => `${r} ${n(c)}`).join(', ');
  const denials = Object.entries(s.deniedByReason).sort((a, b) => b[1] - a[1]).map(([r, c]) => `${r} ${n(c)}`).join(', ');
  const rows: [string, string][] = [
    ['market', span],
    ['ticks', n(s.ticks)],
    ['bars', n(s.bars)],
    ['feature vectors', n(s.featureVectors)],
    ['models', s.lastMembers.map((m) => `${m.member}@${m.modelVersion} ${(m.weight * 100).toFixed(0)}%`).join(', ') || 'none voted'],
    ['log loss', Object.entries(s.scores).sort((a, b) => a[0].localeCompare(b[0])).map(([k, v]) => `${k} ${(v.logLoss / v.n).toFixed(4)}`).join(', ') || 'no outcome yet'],
    ['outcomes', n(s.scores.ensemble?.n ?? 0)],
    ['supervisor', Object.keys(s.raised).length === 0 ? 'OK' : Object.keys(s.raised).sort().join(', ')],
    ['CEO modes', Object.entries(s.modes).sort((a, b) => b[1] - a[1]).map(([m, c]) => `${m} ${pct(c / Math.max(1, s.decisions))}`).join(', ') || 'n/a'],
    ['registry', `${n(s.registryChanges)} events${Object.keys(s.learningSteps).length > 0 ? `; learning ${Object.entries(s.learningSteps).map(([k, v]) => `${k} ${v}`).join(', ')}` : ''}`],
    ['decisions', `${n(s.decisions)} (${n(s.intents)} intents, ${n(s.refusals)} refusals)`],
    ['risk verdicts', `${n(s.ordersApproved)} approved, ${n(s.ordersDenied)} denied${denials ? ` (${denials})` : ''}`],
    ['orders', n(s.orders)],
    ['fills', n(s.fills)],
    ['exits', n(s.exits)],
    ['closed trades', n(s.closedTrades)],
    ['win rate', s.closedTrades > 0 ? pct(s.wins / s.closedTrades) : 'n/a'],
    ['PnL', `${money(s.pnl)} (${pct(s.pnl / s.initialEquity)}; fees ${money(s.fees)})`],
    ['equity', `${money(s.initialEquity)} → ${money(s.finalEquity)}`],
    ['max drawdown', pct(s.maxDrawdown)],
    ['dead letters', s.deadLetters > 0 ? `${n(s.deadLetters)} (${reasons})` : '0'],
    ['took', `${where.seconds.toFixed(1)} s`],
    ['journal', where.journal],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  const text = rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n');
  const gated = s.deniedByReason.CONFIDENCE_BELOW_GATE ?? 0;
  if (s.ordersApproved > 0 || gated === 0) return text;
  return `${text}\n\n  No intent passed the confidence gate: the shipped models have little edge on this market, so the gate
  (risk.confidenceGate, 0.65 by default) refused all ${n(gated)}. To see the rest of the chain trade, lower it for a
  run: QT_RISK_CONFIDENCE_GATE=0.55 npx qt run`;
}
