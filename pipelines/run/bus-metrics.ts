import { Subscription } from 'rxjs';
import { RiskMode } from '../../schemas/brain-decision.ts';
import { METRICS, defineCounter, defineGauge } from '../../schemas/metrics.ts';
import type { Bus, Meter } from '../../schemas/ports.ts';
import { isDlqTopic, type TopicName, type Topics } from '../../schemas/topics.ts';

const MODES = (RiskMode.avro as { symbols: string[] }).symbols;

/**
 * Business metrics read off the bus (group qt.metrics): dead letters by reason, decisions by outcome and reason, order
 * events by status, the current risk mode and the equity. Labels are bounded enums, never ids or prices.
 */
export function startBusMetrics(bus: Bus, meter: Meter, topics: readonly TopicName[]): Subscription {
  const deadLetters = defineCounter(meter, METRICS.deadLetters);
  const decisions = defineCounter(meter, METRICS.decisions);
  const riskVerdicts = defineCounter(meter, METRICS.riskVerdicts);
  const orders = defineCounter(meter, METRICS.orders);
  const fills = defineCounter(meter, METRICS.fills);
  const mode = defineGauge(meter, METRICS.riskMode);
  const equity = defineGauge(meter, METRICS.equity);
  const drawdown = defineGauge(meter, METRICS.drawdown);
  const subs = new Subscription();
  const on = <T extends TopicName>(topic: T, f: (v: Topics[T]) => void): void => {
    if (topics.includes(topic)) subs.add(bus.consume(topic, 'qt.metrics').subscribe((r) => f(r.value)));
  };
  for (const t of topics) {
    if (isDlqTopic(t)) on(t, (d) => deadLetters.inc({ stage: d.stage, reason: d.reason }));
  }
  on('brain.decisions.v1', (d) => {
    decisions.inc({ outcome: d.outcome, reason: d.refusal });
    for (const m of MODES) mode.set({ mode: m }, m === d.mode ? 1 : 0);
  });
  on('risk.orders.v1', (r) => riskVerdicts.inc({ verdict: r.verdict, reason: r.denyReason }));
  on('exec.orders.v1', (o) => orders.inc({ status: o.status, purpose: o.purpose }));
  on('exec.fills.v1', (f) => fills.inc({ purpose: f.purpose }));
  on('pos.equity.v1', (e) => {
    equity.set({ account: e.account }, e.equity);
    drawdown.set({ account: e.account, window: 'day' }, e.drawdownDay);
    drawdown.set({ account: e.account, window: 'week' }, e.drawdownWeek);
    drawdown.set({ account: e.account, window: 'max' }, e.drawdownMax);
  });
  return subs;
}
