/**
 * Part of the zod-era event parser kept as a test oracle (see event-zod-oracle.ts): its fast
 * pass, which parses a well-formed event without zod and gives up on anything else.
 */
import {
  EventSource,
  partitionId,
  type KafkaBatch,
  type KafkaHeader,
  type KafkaRecord,
  type PartitionBatch,
} from '../../lib/core/model.ts';
import { ByteArena, isSafeNonNegativeInteger, PARTITION_KEY, TOPIC_NAME } from './event-zod-oracle-fields.ts';

/** The headers of every record that has none (they are read-only). */
const NO_HEADERS: readonly KafkaHeader[] = Object.freeze([]);

/** Headers `[{name: [bytes]}]` decoded, or undefined for anything the schema would reject. */
function fastHeaders(list: unknown, arena: ByteArena): readonly KafkaHeader[] | undefined {
  if (list === undefined) return NO_HEADERS;
  if (!Array.isArray(list)) return undefined;
  if (list.length === 0) return NO_HEADERS;
  const headers: KafkaHeader[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const header: unknown = list[i];
    if (typeof header !== 'object' || header === null || Array.isArray(header)) return undefined;
    const names = Object.keys(header);
    if (names.length !== 1) return undefined;
    const name = names[0]!;
    const bytes: unknown = (header as Record<string, unknown>)[name];
    if (!Array.isArray(bytes)) return undefined;
    const value = arena.take(bytes.length); // every byte is written before it is kept
    for (let j = 0; j < bytes.length; j++) {
      const b: unknown = bytes[j];
      // `(b & 255) === b` holds exactly for the integers 0–255 (and -0, which the schema accepts too).
      if (typeof b !== 'number' || (b & 255) !== b) return undefined;
      value[j] = b;
    }
    headers[i] = { key: name, value };
  }
  return headers;
}

/** `key`/`value`: absent or null → null, strict base64 → bytes; undefined for anything else. */
function fastBytes(s: unknown, arena: ByteArena): Buffer | null | undefined {
  if (s === undefined || s === null) return null;
  return typeof s === 'string' ? arena.decodeBase64(s) : undefined;
}

/**
 * The fast pass: the batch when the event is well-formed by every rule above, undefined as soon
 * as anything is not (or is unusual enough to leave to the schemas). Exported for the tests.
 */
export function parseWellFormed(event: unknown): KafkaBatch | undefined {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return undefined;
  const { eventSource, records } = event as Record<string, unknown>;
  if (eventSource !== EventSource.msk && eventSource !== EventSource.selfManaged) return undefined;
  if (typeof records !== 'object' || records === null || Array.isArray(records)) return undefined;
  const partitions: PartitionBatch[] = [];
  const arena = new ByteArena();
  for (const partitionKey of Object.keys(records)) {
    const list: unknown = (records as Record<string, unknown>)[partitionKey];
    if (!Array.isArray(list)) return undefined;
    if (list.length === 0) {
      if (!PARTITION_KEY.test(partitionKey)) return undefined;
      continue;
    }
    const parsed: KafkaRecord[] = new Array(list.length);
    let topic0 = '';
    let partition0 = -1;
    let previous = -1;
    for (let i = 0; i < list.length; i++) {
      const raw: unknown = list[i];
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
      const r = raw as Record<string, unknown>;
      const topic = r.topic;
      const partition = r.partition;
      if (i === 0) {
        // The first record is checked in full; the others must name the same topic-partition.
        if (typeof topic !== 'string' || !TOPIC_NAME.test(topic) || !isSafeNonNegativeInteger(partition)) return undefined;
        if (partitionId(topic, partition) !== partitionKey) return undefined;
        topic0 = topic;
        partition0 = partition;
      } else if (topic !== topic0 || partition !== partition0) {
        return undefined;
      }
      const offset = r.offset;
      if (!isSafeNonNegativeInteger(offset) || offset <= previous) return undefined;
      previous = offset;
      let timestamp = r.timestamp;
      if (timestamp === undefined || timestamp === null) timestamp = null;
      else if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) return undefined;
      let timestampType = r.timestampType;
      if (timestampType === undefined || timestampType === null) timestampType = null;
      else if (typeof timestampType !== 'string') return undefined;
      const key = fastBytes(r.key, arena);
      if (key === undefined) return undefined;
      const value = fastBytes(r.value, arena);
      if (value === undefined) return undefined;
      const headers = fastHeaders(r.headers, arena);
      if (headers === undefined) return undefined;
      parsed[i] = {
        topic: topic as string,
        partition: partition as number,
        offset,
        timestamp: timestamp as number | null,
        timestampType: timestampType as string | null,
        key,
        value,
        headers,
      };
    }
    partitions.push({ topic: topic0, partition: partition0, records: parsed });
  }
  return { eventSource, partitions };
}
