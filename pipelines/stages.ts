/**
 * The deployable stages: the one list the CLI (`qt pipeline <stage>`), deploy/compose.yaml, the Prometheus scrape
 * configuration and the tests read. Inputs and outputs are those pipelines/run/chain.ts wires for each stage (a test
 * checks both against the code), so a stage run as its own process over Kafka consumes and produces exactly what it
 * does inside `qt run`.
 */
import { DATA_TOPICS, dlqOf, type DataTopic, type DlqTopic } from '../schemas/topics.ts';

/** A stage's name, as in `qt pipeline <stage>` and its consumer group `qt.<stage>`. */
export type StageName = 'ingest' | 'features' | 'ensemble' | 'brains' | 'risk' | 'execution' | 'exits' | 'journal' | 'learning';

/** One deployable stage. */
export interface StageSpec {
  readonly name: StageName;
  /** Kafka consumer group of every replica of the stage. */
  readonly group: `qt.${StageName}`;
  /** Topics the stage consumes (ingest reads a market source, not a topic). */
  readonly inputs: readonly (DataTopic | DlqTopic)[];
  /** Data topics the stage publishes. */
  readonly outputs: readonly DataTopic[];
  /** Dead-letter topics the stage may write: one per data topic it consumes (ingest: one per topic it produces). */
  readonly deadLetters: readonly DlqTopic[];
  /** Port of /metrics, /livez and /readyz: METRICS_BASE_PORT + the stage's index, so stages can share one host. */
  readonly metricsPort: number;
  /** Runs only when enabled in the config (learning: `learning.enabled`); a deployment may leave it out. */
  readonly optional: boolean;
  /** What the stage does, one line. */
  readonly doc: string;
}

/** The metrics port of the first stage; `qt run` serves its metrics here too (one process, one port). */
export const METRICS_BASE_PORT = 9464;

interface StageDraft {
  readonly name: StageName;
  readonly inputs: readonly (DataTopic | DlqTopic)[];
  readonly outputs: readonly DataTopic[];
  readonly optional?: boolean;
  readonly doc: string;
}

// Flow order (ARCHITECTURE.md §1); the index fixes the metrics port, so append new stages at the end.
const DRAFTS: readonly StageDraft[] = [
  { name: 'ingest', inputs: [], outputs: ['md.trades.v1', 'md.bars.1m.v1'], doc: 'validates market data at the edge: ticks and 1-minute bars' },
  { name: 'features', inputs: ['md.bars.1m.v1'], outputs: ['feat.vectors.v1'], doc: 'feature vectors per closed bar' },
  {
    name: 'ensemble',
    inputs: ['feat.vectors.v1', 'model.registry.v1'],
    outputs: ['model.votes.v1', 'ens.signals.v1', 'model.scores.v1', 'ens.supervisor.v1'],
    doc: 'member votes, the weighted signal, outcome scores and the supervisor; follows the model registry',
  },
  { name: 'brains', inputs: ['ens.signals.v1', 'pos.equity.v1', 'pos.positions.v1'], outputs: ['brain.decisions.v1'], doc: 'CEO mode and strategy: intent or refusal' },
  {
    name: 'risk',
    inputs: ['brain.decisions.v1', 'pos.equity.v1', 'pos.positions.v1', 'exec.orders.v1'],
    outputs: ['risk.orders.v1'],
    doc: 'approves or denies intents within the risk limits',
  },
  {
    name: 'execution',
    inputs: ['risk.orders.v1', 'exit.events.v1', 'md.bars.1m.v1'],
    outputs: ['exec.orders.v1', 'exec.fills.v1', 'pos.positions.v1', 'pos.equity.v1'],
    doc: 'order lifecycle on the paper broker; positions and equity',
  },
  {
    name: 'exits',
    inputs: ['risk.orders.v1', 'pos.positions.v1', 'md.bars.1m.v1', 'exec.orders.v1'],
    outputs: ['exit.events.v1'],
    doc: 'stop loss, take-profit ladder and trailing stop',
  },
  {
    name: 'journal',
    inputs: [...DATA_TOPICS, ...DATA_TOPICS.map((t) => dlqOf(t))],
    outputs: [],
    doc: 'every topic into ClickHouse, offsets committed once durable',
  },
  {
    name: 'learning',
    inputs: ['md.bars.1m.v1', 'model.scores.v1', 'model.registry.v1'],
    outputs: ['model.learning.v1'],
    optional: true,
    doc: 'continuous learning: retrains, promotion tests, promotions and rollbacks',
  },
];

const isDlq = (t: string): t is DlqTopic => t.endsWith('.dlq');

/** Every deployable stage, in flow order. */
export const STAGES: readonly StageSpec[] = Object.freeze(
  DRAFTS.map(
    (d, i): StageSpec =>
      Object.freeze({
        name: d.name,
        group: `qt.${d.name}` as const,
        inputs: Object.freeze([...d.inputs]),
        outputs: Object.freeze([...d.outputs]),
        deadLetters: Object.freeze(
          d.name === 'ingest' ? d.outputs.map((t) => dlqOf(t)) : d.inputs.filter((t): t is DataTopic => !isDlq(t)).map((t) => dlqOf(t)),
        ),
        metricsPort: METRICS_BASE_PORT + i,
        optional: d.optional ?? false,
        doc: d.doc,
      }),
  ),
);

/** Every stage name, in flow order. */
export const STAGE_NAMES: readonly StageName[] = STAGES.map((s) => s.name);

/**
 * Topics published by something other than a stage: the model registry feed (`qt models`, the registry directory,
 * `qt run`) and `qt evaluate`. With STAGES they account for every producer of every data topic.
 */
export const EXTERNAL_PRODUCERS: Readonly<Partial<Record<DataTopic, string>>> = Object.freeze({
  'model.registry.v1': 'the model registry feed (qt models; qt run publishes the registry directory)',
  'eval.metrics.v1': 'qt evaluate',
  'pipe.steps.v1': 'the step runner of every stage of the chain, ingest to exits (pipelines/pipeline/steps.ts)',
});

/** A stage name that is not one of STAGES: a typo on the command line or in a deployment file. */
export class UnknownStageError extends Error {
  override readonly name = 'UnknownStageError';
  readonly retriable = false;
  constructor(readonly stage: string) {
    super(`unknown stage ${stage} (stages: ${STAGE_NAMES.join(', ')})`);
  }
}

/** The spec of one stage; UnknownStageError for any other name. */
export function stageOf(name: string): StageSpec {
  const s = STAGES.find((x) => x.name === name);
  if (!s) throw new UnknownStageError(name);
  return s;
}
