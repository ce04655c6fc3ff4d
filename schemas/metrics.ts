import type { Counter, Gauge, Histogram, Meter } from './ports.ts';

/**
 * The project's standard metrics, defined once: names `qt_<thing>_<unit>`, counters `_total`, base units (seconds),
 * bounded labels (enums and stage/topic/table names, never ids, prices or messages). Epics see only the Meter port,
 * so they register these through `defineCounter`/`defineGauge`/`defineHistogram`; a meter returns the same metric
 * when a name is registered twice with the same type and labels.
 */

/** A counter definition. */
export interface CounterDef {
  readonly type: 'counter';
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
}
/** A gauge definition. */
export interface GaugeDef {
  readonly type: 'gauge';
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
}
/** A histogram definition, with its bucket upper bounds in base units. */
export interface HistogramDef {
  readonly type: 'histogram';
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly buckets: readonly number[];
}
/** Any metric definition. */
export type MetricDef = CounterDef | GaugeDef | HistogramDef;

/** The standard metrics of every stage. */
export const METRICS = {
  messagesIn: { type: 'counter', name: 'qt_messages_in_total', help: 'Messages consumed by a stage', labelNames: ['stage', 'topic'] },
  messagesOut: { type: 'counter', name: 'qt_messages_out_total', help: 'Messages produced by a stage', labelNames: ['stage', 'topic'] },
  deadLetters: { type: 'counter', name: 'qt_dead_letters_total', help: 'Messages sent to a dead-letter topic', labelNames: ['stage', 'reason'] },
  inferenceDuration: {
    type: 'histogram',
    name: 'qt_inference_duration_seconds',
    help: 'Time of one predict() over a micro-batch',
    labelNames: ['member'],
    buckets: [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  },
  inferenceRows: { type: 'counter', name: 'qt_inference_rows_total', help: 'Feature rows scored by a model', labelNames: ['member'] },
  ensembleSignals: { type: 'counter', name: 'qt_ensemble_signals_total', help: 'Ensemble signals by direction', labelNames: ['signal'] },
  decisions: { type: 'counter', name: 'qt_decisions_total', help: 'Brain decisions', labelNames: ['outcome', 'reason'] },
  riskVerdicts: { type: 'counter', name: 'qt_risk_verdicts_total', help: 'Risk verdicts on order intents', labelNames: ['verdict', 'reason'] },
  orders: { type: 'counter', name: 'qt_orders_total', help: 'Order lifecycle events', labelNames: ['status', 'purpose'] },
  fills: { type: 'counter', name: 'qt_fills_total', help: 'Fills', labelNames: ['purpose'] },
  riskMode: { type: 'gauge', name: 'qt_risk_mode', help: 'Current CEO risk mode (1 for the mode in force, 0 for the others)', labelNames: ['mode'] },
  equity: { type: 'gauge', name: 'qt_equity_quote', help: 'Account equity in quote currency', labelNames: ['account'] },
  drawdown: { type: 'gauge', name: 'qt_drawdown_ratio', help: 'Drawdown from the peak, 0..1', labelNames: ['account', 'window'] },
  inferenceErrors: { type: 'counter', name: 'qt_inference_errors_total', help: 'predict() calls that failed', labelNames: ['member'] },
  memberWeight: { type: 'gauge', name: 'qt_ensemble_member_weight_ratio', help: 'Governance weight in force per champion member, 0..1', labelNames: ['member'] },
  memberEwLogLoss: { type: 'gauge', name: 'qt_model_ew_log_loss', help: 'Exponentially weighted log loss of a member on realised outcomes', labelNames: ['member', 'role'] },
  outcomes: { type: 'counter', name: 'qt_model_outcomes_total', help: 'Votes scored on their realised outcome', labelNames: ['member', 'role'] },
  modelServing: { type: 'gauge', name: 'qt_model_serving', help: 'Model versions served (1) per member and role', labelNames: ['member', 'role', 'version'] },
  supervisorRaised: { type: 'gauge', name: 'qt_supervisor_check_raised', help: 'Supervisor check raised (1) or clear (0)', labelNames: ['scope', 'check'] },
  supervisorEvents: { type: 'counter', name: 'qt_supervisor_events_total', help: 'Supervisor checks raised or cleared', labelNames: ['check', 'status'] },
  marketRegime: { type: 'gauge', name: 'qt_market_regime', help: 'Market-wide regime in force (1) per kind', labelNames: ['kind', 'regime'] },
  registryChanges: { type: 'counter', name: 'qt_registry_changes_total', help: 'Model registry changes applied by a stage', labelNames: ['member', 'action'] },
  learningSteps: { type: 'counter', name: 'qt_learning_steps_total', help: 'Continuous-learning steps', labelNames: ['member', 'step'] },
  stepTime: { type: 'gauge', name: 'qt_stage_step_seconds', help: 'Start of the last bar step the stage finished and marked (event time, seconds since the epoch)', labelNames: ['stage'] },
  stageBuffered: { type: 'gauge', name: 'qt_stage_buffered_records', help: 'Records a stage holds for bar steps it has not processed yet', labelNames: ['stage'] },
  stagePaused: { type: 'gauge', name: 'qt_stage_paused_partitions', help: 'Input partitions a stage stopped fetching because they ran too far ahead of its steps (backpressure)', labelNames: ['stage'] },
  journalRows: { type: 'counter', name: 'qt_journal_rows_total', help: 'Rows inserted into the journal', labelNames: ['table'] },
} as const satisfies Readonly<Record<string, MetricDef>>;

/** Registers a counter definition on a meter. */
export function defineCounter(meter: Meter, def: CounterDef): Counter {
  return meter.counter(def.name, def.help, def.labelNames);
}

/** Registers a gauge definition on a meter. */
export function defineGauge(meter: Meter, def: GaugeDef): Gauge {
  return meter.gauge(def.name, def.help, def.labelNames);
}

/** Registers a histogram definition on a meter. */
export function defineHistogram(meter: Meter, def: HistogramDef): Histogram {
  return meter.histogram(def.name, def.help, def.buckets, def.labelNames);
}
