import type { RecordSchema } from './avro.ts';
import { BarSchema, type Bar } from './bar.ts';
import { BrainDecisionSchema, type BrainDecision } from './brain-decision.ts';
import { DeadLetterSchema, type DeadLetter } from './dead-letter.ts';
import { EnsembleSignalSchema, type EnsembleSignal } from './ensemble-signal.ts';
import { EquitySchema, type Equity } from './equity.ts';
import { ExitEventSchema, type ExitEvent } from './exit-event.ts';
import { FeatureVectorSchema, type FeatureVector } from './feature-vector.ts';
import { FillSchema, type Fill } from './fill.ts';
import { ModelVoteSchema, type ModelVote } from './model-vote.ts';
import { OrderEventSchema, type OrderEvent } from './order-event.ts';
import { PositionSchema, type Position } from './position.ts';
import { RiskOrderSchema, type RiskOrder } from './risk-order.ts';
import { TradeSchema, type Trade } from './trade.ts';
import { RegistryEventSchema, type RegistryEvent } from './registry-event.ts';
import { LearningEventSchema, type LearningEvent } from './learning-event.ts';
import { SupervisorEventSchema, type SupervisorEvent } from './supervisor-event.ts';
import { MemberScoreSchema, type MemberScore } from './member-score.ts';
import { EvalMetricSchema, type EvalMetric } from './eval-metric.ts';
import { StepMarkSchema, type StepMark } from './step-mark.ts';

/** The message type of each data topic. Topic settings live in deploy/kafka/topics.json; a test keeps both in step. */
export interface DataTopics {
  'md.trades.v1': Trade;
  'md.bars.1m.v1': Bar;
  'feat.vectors.v1': FeatureVector;
  'model.votes.v1': ModelVote;
  'ens.signals.v1': EnsembleSignal;
  'brain.decisions.v1': BrainDecision;
  'risk.orders.v1': RiskOrder;
  'exec.orders.v1': OrderEvent;
  'exec.fills.v1': Fill;
  'pos.positions.v1': Position;
  'pos.equity.v1': Equity;
  'exit.events.v1': ExitEvent;
  'model.scores.v1': MemberScore;
  'ens.supervisor.v1': SupervisorEvent;
  'model.registry.v1': RegistryEvent;
  'model.learning.v1': LearningEvent;
  'eval.metrics.v1': EvalMetric;
  'pipe.steps.v1': StepMark;
}
/** A data topic name. */
export type DataTopic = keyof DataTopics;
/** A dead-letter topic name: `<topic>.dlq`. */
export type DlqTopic = `${DataTopic}.dlq`;
/** Every topic and its message type. */
export type Topics = DataTopics & { [K in DlqTopic]: DeadLetter };
/** Any topic name. */
export type TopicName = keyof Topics;

/** The schema of each data topic. */
export const DATA_TOPIC_SCHEMAS: { readonly [K in DataTopic]: RecordSchema<DataTopics[K]> } = {
  'md.trades.v1': TradeSchema,
  'md.bars.1m.v1': BarSchema,
  'feat.vectors.v1': FeatureVectorSchema,
  'model.votes.v1': ModelVoteSchema,
  'ens.signals.v1': EnsembleSignalSchema,
  'brain.decisions.v1': BrainDecisionSchema,
  'risk.orders.v1': RiskOrderSchema,
  'exec.orders.v1': OrderEventSchema,
  'exec.fills.v1': FillSchema,
  'pos.positions.v1': PositionSchema,
  'pos.equity.v1': EquitySchema,
  'exit.events.v1': ExitEventSchema,
  'model.scores.v1': MemberScoreSchema,
  'ens.supervisor.v1': SupervisorEventSchema,
  'model.registry.v1': RegistryEventSchema,
  'model.learning.v1': LearningEventSchema,
  'eval.metrics.v1': EvalMetricSchema,
  'pipe.steps.v1': StepMarkSchema,
};

/** Every data topic name, in flow order. */
export const DATA_TOPICS = Object.keys(DATA_TOPIC_SCHEMAS) as readonly DataTopic[];

/** The dead-letter topic of a data topic. */
export function dlqOf<T extends DataTopic>(topic: T): `${T}.dlq` {
  return `${topic}.dlq`;
}

/** True for a dead-letter topic name. */
export function isDlqTopic(topic: string): topic is DlqTopic {
  return topic.endsWith('.dlq');
}

/** A topic name that is not a data topic or its `.dlq` (a typo, or a topic of another version): fixing needs a code change. */
export class UnknownTopicError extends Error {
  override readonly name = 'UnknownTopicError';
  readonly retriable = false;
  constructor(
    readonly topic: string,
    /** What was looked up for the topic, e.g. `schema` or `journal table`. */
    readonly purpose?: string,
  ) {
    super(purpose === undefined ? `unknown topic ${topic}` : `unknown topic ${topic} (no ${purpose})`);
  }
}

/** The schema of any topic; UnknownTopicError for a name that is not one. */
export function schemaOf<T extends TopicName>(topic: T): RecordSchema<Topics[T]> {
  if (isDlqTopic(topic)) return DeadLetterSchema as unknown as RecordSchema<Topics[T]>;
  const s = (DATA_TOPIC_SCHEMAS as Record<string, RecordSchema<unknown>>)[topic];
  if (!s) throw new UnknownTopicError(topic, 'schema');
  return s as RecordSchema<Topics[T]>;
}

/** Every schema by its full name (for the schema history and the compatibility test). */
export const ALL_SCHEMAS: readonly RecordSchema<unknown>[] = [
  ...Object.values(DATA_TOPIC_SCHEMAS),
  DeadLetterSchema,
] as RecordSchema<unknown>[];
