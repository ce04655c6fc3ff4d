/**
 * @platformatic/kafka against brokers older than Kafka 3.5, for PlatformaticBus (platformatic-bus.ts).
 *
 * @platformatic/kafka 1.x speaks only the protocol versions of Kafka >= 3.5 (ApiVersions v3+, Metadata
 * v9+, Fetch v12+, FindCoordinator v4+, OffsetFetch v8+, ...) and gives up on a broker that refuses ApiVersions v3.
 * librdkafka's mock cluster (the project's test cluster) offers ApiVersions <= v2, Metadata <= v2, Fetch <= v11.
 * installLegacyProtocol() (called by the constructor unless `legacyProtocol: false`) makes such a client fall back to
 * ApiVersions v0 and use the older non-flexible versions of the ten APIs a producer and a group consumer need besides
 * Produce, written with the client's own Writer/Reader/record-batch code. Produce (v7) stays the client's own.
 * It activates only for a client whose broker refused ApiVersions v3; against Kafka >= 3.5 nothing changes.
 */
import { Base, createAPI, GenericError, kGetApi, kGetBootstrapConnection, kListApis, protocolAPIsById, readRecordsBatches, Reader, ResponseError, Writer } from '@platformatic/kafka';

const EMPTY = Buffer.alloc(0);

/** A property of an error or of any error inside it (@platformatic/kafka's GenericError.findBy). */
export const findBy = (e: Error, property: string, value: unknown): unknown => (e as unknown as { findBy(p: string, v: unknown): unknown }).findBy(property, value);

type ApiFn = ((...args: unknown[]) => void) & { key: number; version: number };
type R = Reader;
const check = <T>(key: number, version: number, errors: [string, [number, null]][], response: T): T => {
  if (errors.length > 0) throw new ResponseError(key, version, Object.fromEntries(errors), response);
  return response;
};
const top = (r: R, key: number, v: number, body: (code: number) => object) => {
  const throttleTimeMs = r.readInt32();
  const errorCode = r.readInt16();
  return check(key, v, errorCode ? [['/', [errorCode, null]]] : [], { throttleTimeMs, errorCode, ...body(errorCode) });
};
const arr = <T>(r: R, f: (r: R, i: number) => T): T[] => r.readArray(f, false, false);
const str = (r: R): string => r.readString(false);
const nstr = (r: R): string | null => r.readNullableString(false);
const api = (key: number, version: number, req: (...a: never[]) => Writer, parse: (r: R, key: number, v: number) => unknown): ApiFn =>
  createAPI(key, version, req as (...a: unknown[]) => Writer, (_c: number, k: number, v: number, r: R) => parse(r, k, v), false, false) as unknown as ApiFn;
type Part = { partitionIndex: number; errorCode: number };
const partErrors = (topics: { partitions: Part[] }[]): [string, [number, null]][] =>
  topics.flatMap((t, i) => t.partitions.flatMap((p, j) => (p.errorCode ? [[`/topics/${i}/partitions/${j}`, [p.errorCode, null]] as [string, [number, null]]] : [])));

const apiVersionsV0 = api(18, 0, () => Writer.create(), (r, k, v) => {
  const errorCode = r.readInt16();
  const apiKeys = arr(r, (r) => {
    const apiKey = r.readInt16();
    return { apiKey, name: (protocolAPIsById as Record<number, string>)[apiKey], minVersion: r.readInt16(), maxVersion: r.readInt16() };
  });
  return check(k, v, errorCode ? [['/', [errorCode, null]]] : [], { errorCode, apiKeys, throttleTimeMs: 0 });
});
const metadataV2 = api(3, 2, (topics: string[]) => Writer.create().appendArray(topics, (w, t) => w.appendString(t, false), false, false), (r, k, v) => {
  const brokers = arr(r, (r) => ({ nodeId: r.readInt32(), host: str(r), port: r.readInt32(), rack: nstr(r) }));
  const clusterId = nstr(r);
  const controllerId = r.readInt32();
  const ints = (r: R) => arr(r, (r) => r.readInt32());
  const topics = arr(r, (r) => {
    const errorCode = r.readInt16();
    const name = str(r);
    const isInternal = r.readBoolean();
    const partitions = arr(r, (r) => ({ errorCode: r.readInt16(), partitionIndex: r.readInt32(), leaderId: r.readInt32(), leaderEpoch: -1, replicaNodes: ints(r), isrNodes: ints(r), offlineReplicas: [] }));
    return { errorCode, name, topicId: name, isInternal, partitions, topicAuthorizedOperations: 0 };
  });
  const errors = topics.flatMap((t, i) => (t.errorCode ? [[`/topics/${i}`, [t.errorCode, null]] as [string, [number, null]]] : [])).concat(partErrors(topics));
  return check(k, v, errors, { throttleTimeMs: 0, brokers, clusterId, controllerId, topics });
});
const findCoordinatorV2Raw = api(10, 2, (keyType: number, keys: string[]) => Writer.create().appendString(keys[0]!, false).appendInt8(keyType), (r, k, v) => {
  const throttleTimeMs = r.readInt32();
  const c = { key: '', errorCode: r.readInt16(), errorMessage: nstr(r), nodeId: r.readInt32(), host: str(r), port: r.readInt32() };
  return check(k, v, c.errorCode ? [['/coordinators/0', [c.errorCode, null]]] : [], { throttleTimeMs, coordinators: [c] });
});
// The v2 answer does not name its key: the caller finds its coordinator by key.
const findCoordinatorV2 = Object.assign((connection: unknown, keyType: number, keys: string[], cb: (e: unknown, r?: { coordinators: { key: string }[] }) => void) =>
  findCoordinatorV2Raw(connection, keyType, keys, (e: unknown, res?: { coordinators: { key: string }[] }) => {
    for (const c of res?.coordinators ?? []) c.key = keys[0]!;
    cb(e, res);
  }), { key: 10, version: 2 }) as unknown as ApiFn;
const joinGroupV5 = api(11, 5, (groupId: string, session: number, rebalance: number, memberId: string, instance: string | null, type: string, protocols: { name: string; metadata?: Buffer }[]) =>
  Writer.create().appendString(groupId, false).appendInt32(session).appendInt32(rebalance).appendString(memberId, false).appendString(instance, false).appendString(type, false)
    .appendArray(protocols, (w, p) => w.appendString(p.name, false).appendBytes(p.metadata ?? EMPTY, false), false, false),
(r, k, v) => top(r, k, v, () => ({
  generationId: r.readInt32(), protocolType: '', protocolName: str(r), leader: str(r), skipAssignment: false, memberId: str(r),
  members: arr(r, (r) => ({ memberId: str(r), groupInstanceId: nstr(r), metadata: r.readNullableBytes(false) })),
})));
const syncGroupV3 = api(14, 3, (groupId: string, generation: number, memberId: string, instance: string | null, _t: unknown, _p: unknown, assignments: { memberId: string; assignment: Buffer }[]) =>
  Writer.create().appendString(groupId, false).appendInt32(generation).appendString(memberId, false).appendString(instance, false)
    .appendArray(assignments, (w, a) => w.appendString(a.memberId, false).appendBytes(a.assignment, false), false, false),
(r, k, v) => top(r, k, v, () => ({ protocolType: null, protocolName: null, assignment: r.readNullableBytes(false) ?? EMPTY })));
const heartbeatV3 = api(12, 3, (groupId: string, generation: number, memberId: string, instance: string | null) =>
  Writer.create().appendString(groupId, false).appendInt32(generation).appendString(memberId, false).appendString(instance, false), (r, k, v) => top(r, k, v, () => ({})));
const leaveGroupV1 = api(13, 1, (groupId: string, members: { memberId: string }[]) => Writer.create().appendString(groupId, false).appendString(members[0]?.memberId ?? '', false),
  (r, k, v) => top(r, k, v, () => ({ members: [] })));
type CommitTopic = { name: string; partitions: { partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; committedMetadata: string | null }[] };
const offsetCommitV7 = api(8, 7, (groupId: string, generation: number, memberId: string, instance: string | null, topics: CommitTopic[]) =>
  Writer.create().appendString(groupId, false).appendInt32(generation).appendString(memberId, false).appendString(instance, false)
    .appendArray(topics, (w, t) => w.appendString(t.name, false).appendArray(t.partitions, (w, p) =>
      w.appendInt32(p.partitionIndex).appendInt64(p.committedOffset).appendInt32(p.committedLeaderEpoch).appendString(p.committedMetadata, false), false, false), false, false),
(r, k, v) => {
  const throttleTimeMs = r.readInt32();
  const topics = arr(r, (r) => ({ name: str(r), partitions: arr(r, (r) => ({ partitionIndex: r.readInt32(), errorCode: r.readInt16() })) }));
  return check(k, v, partErrors(topics), { throttleTimeMs, topics });
});
const offsetFetchV5 = api(9, 5, (groups: { groupId: string; topics: { name: string; partitionIndexes: number[] }[] }[]) =>
  Writer.create().appendString(groups[0]!.groupId, false)
    .appendArray(groups[0]!.topics, (w, t) => w.appendString(t.name, false).appendArray(t.partitionIndexes, (w, i) => w.appendInt32(i), false, false), false, false),
(r, k, v) => {
  const throttleTimeMs = r.readInt32();
  const topics = arr(r, (r) => ({ name: str(r), partitions: arr(r, (r) => ({ partitionIndex: r.readInt32(), committedOffset: r.readInt64(), committedLeaderEpoch: r.readInt32(), metadata: nstr(r), errorCode: r.readInt16() })) }));
  const errorCode = r.readInt16();
  const errors = partErrors(topics).concat(errorCode ? [['/', [errorCode, null]]] : []);
  return check(k, v, errors, { throttleTimeMs, groups: [{ groupId: '', topics, errorCode }] });
});
type FetchTopic = { topicId: string; partitions: { partition: number; currentLeaderEpoch: number; fetchOffset: bigint; partitionMaxBytes: number }[] };
const fetchV11 = api(1, 11, (maxWait: number, minBytes: number, maxBytes: number, isolation: number, session: number, epoch: number, topics: FetchTopic[], _f: unknown, rack: string | null) =>
  Writer.create().appendInt32(-1).appendInt32(maxWait).appendInt32(minBytes).appendInt32(maxBytes).appendInt8(isolation).appendInt32(session).appendInt32(epoch)
    .appendArray(topics, (w, t) => w.appendString(t.topicId, false).appendArray(t.partitions, (w, p) =>
      w.appendInt32(p.partition).appendInt32(p.currentLeaderEpoch).appendInt64(p.fetchOffset).appendInt64(-1n).appendInt32(p.partitionMaxBytes), false, false), false, false)
    .appendArray([] as number[], () => undefined, false, false).appendString(rack ?? '', false),
(r, k, v) => top(r, k, v, () => {
  const sessionId = r.readInt32();
  const responses = arr(r, (r) => ({ topicId: str(r), partitions: arr(r, (r) => {
    const p: Record<string, unknown> = {
      partitionIndex: r.readInt32(), errorCode: r.readInt16(), highWatermark: r.readInt64(), lastStableOffset: r.readInt64(), logStartOffset: r.readInt64(),
      abortedTransactions: r.readNullableArray((r) => ({ producerId: r.readInt64(), firstOffset: r.readInt64() }), false, false) ?? [], preferredReadReplica: r.readInt32(),
    };
    const size = r.readInt32();
    if (size > 0) {
      p['records'] = readRecordsBatches(Reader.from(r.buffer.subarray(r.position, r.position + size)));
      r.skip(size);
    }
    return p;
  }) }));
  const errors = responses.flatMap((t, i) => t.partitions.flatMap((p, j) => (p['errorCode'] ? [[`/responses/${i}/partitions/${j}`, [p['errorCode'] as number, null]] as [string, [number, null]]] : [])));
  return { sessionId, responses, ...check(k, v, errors, {}) };
}));
// The client's own ListOffsets v5 is readable, but librdkafka 2.0's mock answers it with 4 bytes too many per partition.
const listOffsetsV2 = api(2, 2, (replica: number, isolation: number, topics: { name: string; partitions: { partitionIndex: number; timestamp: bigint }[] }[]) =>
  Writer.create().appendInt32(replica).appendInt8(isolation)
    .appendArray(topics, (w, t) => w.appendString(t.name, false).appendArray(t.partitions, (w, p) => w.appendInt32(p.partitionIndex).appendInt64(p.timestamp), false, false), false, false),
(r, k, v) => {
  const throttleTimeMs = r.readInt32();
  const topics = arr(r, (r) => ({ name: str(r), partitions: arr(r, (r) => ({ partitionIndex: r.readInt32(), errorCode: r.readInt16(), timestamp: r.readInt64(), offset: r.readInt64(), leaderEpoch: -1 })) }));
  return check(k, v, partErrors(topics), { throttleTimeMs, topics });
});
const LEGACY: Readonly<Record<string, ApiFn>> = {
  ListOffsets: listOffsetsV2,
  Metadata: metadataV2, FindCoordinator: findCoordinatorV2, JoinGroup: joinGroupV5, SyncGroup: syncGroupV3, Heartbeat: heartbeatV3,
  LeaveGroup: leaveGroupV1, OffsetCommit: offsetCommitV7, OffsetFetch: offsetFetchV5, Fetch: fetchV11,
};
const legacyRanges = new WeakMap<object, Map<string, { minVersion: number; maxVersion: number }>>();
let legacyInstalled = false;
type Cb = (error: unknown, result?: unknown) => void;

/** Lets every @platformatic/kafka client of this process talk to brokers older than Kafka 3.5 (see the file comment). */
export function installLegacyProtocol(): void {
  if (legacyInstalled) return;
  legacyInstalled = true;
  const proto = Base.prototype as unknown as Record<symbol, (this: Record<symbol, (...a: unknown[]) => void>, ...a: unknown[]) => void>;
  const listApis = proto[kListApis]!;
  const getApi = proto[kGetApi]!;
  proto[kListApis] = function (callback: unknown) {
    listApis.call(this, (error: unknown, apiKeys: unknown) => {
      if (!(error instanceof Error && GenericError.isGenericError(error) && findBy(error, 'apiId', 'UNSUPPORTED_VERSION'))) return (callback as Cb)(error, apiKeys);
      this[kGetBootstrapConnection]!((e: unknown, connection: unknown) => {
        if (e) return (callback as Cb)(e);
        apiVersionsV0(connection, (e2: unknown, res?: { apiKeys: { name: string; minVersion: number; maxVersion: number }[] }) => {
          if (e2 || !res) return (callback as Cb)(e2);
          legacyRanges.set(this, new Map(res.apiKeys.map((a) => [a.name, a])));
          (callback as Cb)(null, res.apiKeys);
        });
      });
    });
  };
  proto[kGetApi] = function (name: unknown, callback: unknown) {
    getApi.call(this, name, (error: unknown, found: unknown) => {
      const range = legacyRanges.get(this)?.get(name as string);
      const shim = LEGACY[name as string];
      if (range && shim && shim.version >= range.minVersion && shim.version <= range.maxVersion) return (callback as Cb)(null, shim);
      (callback as Cb)(error, found);
    });
  };
}
