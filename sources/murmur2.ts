/**
 * Kafka's key partitioner, so that a key lands on the same partition in the memory bus as on a Kafka cluster.
 * A port of `org.apache.kafka.common.utils.Utils.murmur2` / `toPositive` (also kafkajs' DefaultPartitioner).
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** Kafka's murmur2 of the bytes (UTF-8 for a string), as the signed 32-bit int the Java client returns. */
export function murmur2(data: string | Uint8Array): number {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const length = bytes.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    // Little-endian 32-bit word; Math.imul keeps the 32-bit wrap-around of Java's int multiplication.
    let k = bytes[i4]! | (bytes[i4 + 1]! << 8) | (bytes[i4 + 2]! << 16) | (bytes[i4 + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const tail = length & ~3;
  switch (length & 3) {
    case 3:
      h ^= bytes[tail + 2]! << 16;
    // falls through: Java's switch without break
    case 2:
      h ^= bytes[tail + 1]! << 8;
    // falls through
    case 1:
      h ^= bytes[tail]!;
      h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's `Utils.toPositive`: clears the sign bit (not `Math.abs`, which is wrong for -2^31). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/** The partition of a key among `partitions`, as Kafka's default partitioner computes it for a keyed record. */
export function kafkaPartition(key: string | Uint8Array, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions <= 0) throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  return toPositive(murmur2(key)) % partitions;
}
