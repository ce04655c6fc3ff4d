import { CompressionTypes, Partitioners, type IHeaders, type Kafka, type Producer, type RecordMetadata } from 'kafkajs';
import { BatchQueue, type BatchQueueOptions } from './batch-queue.ts';
import { fromKafkaJs, ProduceNotAcknowledgedError } from './errors.ts';
import type { KafkaBusStats, KafkaRetry } from './kafka-bus.ts';

interface PendingRecord {
  readonly topic: string;
  readonly partition: number;
  readonly key: string;
  readonly value: Buffer;
  readonly timestamp: string;
  readonly headers: IHeaders | undefined;
}

/** How the producer batches and checks its sends (KafkaBusOptions's producing part). */
export interface AckedProducerOptions extends BatchQueueOptions {
  readonly retry: KafkaRetry;
  readonly idempotent?: boolean;
  readonly maxSendRounds?: number;
  /** Counts produce requests and resent records. */
  readonly stats: Pick<KafkaBusStats, 'produceRequests' | 'resentRecords'>;
  /** Runs once the producer is connected, before the first send (partition counts, schema ids). */
  readonly prepare: () => Promise<void>;
}

const tp = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * KafkaBus's producer: records collect in a BatchQueue (one batch in flight, so order per partition holds through
 * retries) and each batch goes out in one sendBatch, acks=-1, gzip; a record's promise resolves when its batch is
 * acknowledged. kafkajs 2.2.4 can resolve a send without having written some of its partitions (its
 * retry of a multi-broker send skips a broker that already answered, even when the leader of a failed partition moved
 * to it), so every batch is checked against the acknowledgements and the partitions missing from them are sent again.
 * kafkajs also resends a whole broker request when one partition in it fails, so records of the other partitions may
 * be written twice: delivery is at-least-once, and sinks are idempotent by message id. A send that fails after
 * kafkajs's retries rejects its records and every later one (crash-only: nothing after a gap).
 */
export class AckedProducer {
  private producer: Producer | undefined;
  private producerReady: Promise<Producer> | undefined;
  private readonly batches: BatchQueue<PendingRecord>;

  constructor(
    private readonly kafka: Kafka,
    private readonly opts: AckedProducerOptions,
  ) {
    this.batches = new BatchQueue((batch) => this.sendAcknowledged(batch), (e) => fromKafkaJs(e, 'publish'), opts);
  }

  /** The failure that ended the producer: every later send rejects with it. */
  get failure(): Error | undefined {
    return this.batches.failure;
  }

  /** Connects the producer, then runs `prepare` (partition counts, schema ids); a failed connect is tried again by the next call. */
  connect(): Promise<Producer> {
    this.producerReady ??= (async () => {
      const producer = this.kafka.producer({
        allowAutoTopicCreation: false,
        // Every record carries its partition (partitionFor); the partitioner is never asked, this only silences kafkajs's warning.
        createPartitioner: Partitioners.DefaultPartitioner,
        idempotent: this.opts.idempotent ?? false,
        ...(this.opts.idempotent ? { maxInFlightRequests: 1 } : {}),
        retry: this.opts.retry,
      });
      try {
        await producer.connect();
        await this.opts.prepare();
      } catch (e) {
        await producer.disconnect().catch(() => undefined);
        throw fromKafkaJs(e, 'connect');
      }
      this.producer = producer;
      return producer;
    })();
    // A failed connect is tried again by the next call.
    this.producerReady.catch(() => (this.producerReady = undefined));
    return this.producerReady;
  }

  /** Queues a record for its partition's next batch; resolves when the batch is acknowledged (acks=-1). */
  send(topic: string, partition: number, key: string, value: Buffer, tsEvent: number, headers?: Record<string, string>): Promise<void> {
    return this.batches.push({ topic, partition, key, value, timestamp: String(tsEvent), headers });
  }

  /** Sends the batch until every partition in it is acknowledged, resending the partitions an answer left out. */
  private async sendAcknowledged(batch: readonly PendingRecord[]): Promise<void> {
    const producer = await this.connect();
    const rounds = this.opts.maxSendRounds ?? 5;
    let remaining = batch;
    for (let round = 1; remaining.length > 0; round++) {
      if (round > rounds) {
        const missing = [...new Set(remaining.map((r) => `${r.topic}[${r.partition}]`))];
        throw new ProduceNotAcknowledgedError(missing, rounds);
      }
      const byTopic = new Map<string, PendingRecord[]>();
      for (const r of remaining) {
        let list = byTopic.get(r.topic);
        if (!list) byTopic.set(r.topic, (list = []));
        list.push(r);
      }
      this.opts.stats.produceRequests++;
      const acks: RecordMetadata[] = await producer.sendBatch({
        acks: -1,
        compression: CompressionTypes.GZIP,
        topicMessages: [...byTopic].map(([topic, records]) => ({
          topic,
          messages: records.map((r) => ({ key: r.key, value: r.value, partition: r.partition, timestamp: r.timestamp, ...(r.headers ? { headers: r.headers } : {}) })),
        })),
      });
      const acked = new Set(acks.filter((a) => a.errorCode === 0).map((a) => tp(a.topicName, a.partition)));
      const next = remaining.filter((r) => !acked.has(tp(r.topic, r.partition)));
      this.opts.stats.resentRecords += next.length;
      remaining = next;
    }
  }

  /** Resolves when nothing is queued or on its way. */
  drained(): Promise<void> {
    return this.batches.drained();
  }

  /** Disconnects (after drained(): what is still queued then fails). */
  async disconnect(): Promise<void> {
    if (this.producer) await this.producer.disconnect().catch(() => undefined);
  }
}
