/**
 * The careful pass over a Lambda Kafka event (lib/sink/event.ts): the source of truth for what an
 * event may hold, which words every problem. The fast pass (event-fast-pass.ts) shares its rules.
 */
import { MalformedEventError } from '../core/errors.ts';
import { EventSource, partitionId, type KafkaBatch, type KafkaHeader, type KafkaRecord, type PartitionBatch } from '../core/model.ts';
import { decodeBase64Strict } from './strict-base64.ts';

/** Kafka's legal topic names. */
export const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
/** The form of a `records` map key, `<topic>-<partition>` (checked whole, never split). */
export const PARTITION_KEY = /^[a-zA-Z0-9._-]{1,249}-(?:0|[1-9][0-9]*)$/;

const NON_NEGATIVE_INTEGER = 'expected a non-negative integer';
const BASE64 = 'expected a base64 string (standard alphabet, padded)';
const HEADER = 'expected an object with exactly one entry {name: [bytes]}';
const BYTE = 'expected a byte (an integer from 0 to 255)';

/** One problem: where (relative to a partition's list, or to the event) and what. */
interface Issue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `key`/`value`: absent or null → null; otherwise strict base64, decoded; undefined if not. */
function checkedBytes(s: unknown, path: readonly PropertyKey[], issues: Issue[]): Buffer | null | undefined {
  if (s === undefined || s === null) return null;
  const bytes = typeof s === 'string' ? decodeBase64Strict(s) : undefined;
  if (bytes === undefined) issues.push({ path, message: BASE64 });
  return bytes;
}

/** `headers`: absent → []; each header `{name: [bytes 0–255]}`, exactly one entry. */
function checkedHeaders(list: unknown, path: readonly PropertyKey[], issues: Issue[]): KafkaHeader[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    issues.push({ path, message: 'expected an array of headers' });
    return [];
  }
  const headers: KafkaHeader[] = [];
  for (let i = 0; i < list.length; i++) {
    const header: unknown = list[i];
    if (!isObject(header) || Object.keys(header).length !== 1) {
      issues.push({ path: [...path, i], message: HEADER });
      continue;
    }
    const name = Object.keys(header)[0]!;
    const bytes: unknown = header[name];
    if (!Array.isArray(bytes)) {
      issues.push({ path: [...path, i, name], message: 'expected an array of bytes' });
      continue;
    }
    // Validated and copied in one pass (Buffer.from(array) is several times slower). Every
    // byte is written before the header is kept, so the unsafe (pooled) allocation is safe.
    const value = Buffer.allocUnsafe(bytes.length);
    let ok = true;
    for (let j = 0; j < bytes.length; j++) {
      const b: unknown = bytes[j];
      if (typeof b === 'number' && b >= 0 && b <= 255 && Number.isInteger(b)) {
        value[j] = b;
      } else {
        issues.push({ path: [...path, i, name, j], message: BYTE });
        ok = false;
      }
    }
    if (ok) headers.push({ key: name, value });
  }
  return headers;
}

/**
 * A partition or an offset: a safe non-negative integer. An integer beyond the safe range is
 * reported once, and once more if it is also negative (as the zod schema did).
 */
function checkNonNegativeInteger(v: unknown, path: readonly PropertyKey[], issues: Issue[]): void {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    issues.push({ path, message: NON_NEGATIVE_INTEGER });
    return;
  }
  if (!Number.isSafeInteger(v)) issues.push({ path, message: NON_NEGATIVE_INTEGER });
  if (v < 0) issues.push({ path, message: NON_NEGATIVE_INTEGER });
}

/** One record of a partition's list, decoded, or undefined with its problems. Unknown fields are ignored. */
function checkedRecord(raw: unknown, i: number, issues: Issue[]): KafkaRecord | undefined {
  if (!isObject(raw)) {
    issues.push({ path: [i], message: 'expected a record object' });
    return undefined;
  }
  const before = issues.length;
  const { topic, partition, offset, timestamp, timestampType } = raw;
  if (typeof topic !== 'string') issues.push({ path: [i, 'topic'], message: 'expected a topic name' });
  else if (!TOPIC_NAME.test(topic))
    issues.push({ path: [i, 'topic'], message: 'expected a Kafka topic name ([a-zA-Z0-9._-], 1 to 249 characters)' });
  checkNonNegativeInteger(partition, [i, 'partition'], issues);
  checkNonNegativeInteger(offset, [i, 'offset'], issues);
  if (timestamp !== undefined && timestamp !== null && (typeof timestamp !== 'number' || !Number.isFinite(timestamp))) {
    issues.push({ path: [i, 'timestamp'], message: 'expected a number (epoch milliseconds)' });
  }
  if (timestampType !== undefined && timestampType !== null && typeof timestampType !== 'string') {
    issues.push({ path: [i, 'timestampType'], message: 'expected a string' });
  }
  const key = checkedBytes(raw['key'], [i, 'key'], issues);
  const value = checkedBytes(raw['value'], [i, 'value'], issues);
  const headers = checkedHeaders(raw['headers'], [i, 'headers'], issues);
  if (issues.length > before) return undefined;
  return {
    topic: topic as string,
    partition: partition as number,
    offset: offset as number,
    timestamp: (timestamp as number | null | undefined) ?? null,
    timestampType: (timestampType as string | null | undefined) ?? null,
    key: key ?? null,
    value: value ?? null,
    headers,
  };
}

/** Writes a path JS-style: `records["orders-0"][3].offset`. `mapKeys` are the indices of map keys. */
function formatPath(path: readonly PropertyKey[], mapKeys: ReadonlySet<number>): string {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const segment = path[i]!;
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (mapKeys.has(i) || !/^[A-Za-z_$][\w$]*$/.test(String(segment))) out += `[${JSON.stringify(String(segment))}]`;
    else out += i === 0 ? String(segment) : `.${String(segment)}`;
  }
  return out || '(event)';
}

/** A path inside one partition's list, from an issue's path (relative to the list). */
function recordPath(partitionKey: string, issuePath: readonly PropertyKey[]): string {
  const path: PropertyKey[] = ['records', partitionKey, ...issuePath];
  // The map key, and a header's name (the segment after `headers[i]`), are written in brackets.
  const mapKeys = new Set<number>([1]);
  if (issuePath[1] === 'headers' && issuePath.length > 3) mapKeys.add(5);
  return formatPath(path, mapKeys);
}

export function isSafeNonNegativeInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Checks what the record-by-record pass cannot see: each record's topic and partition against its
 * map key (built from the record and compared whole; the key is never split on `-`), and
 * strictly ascending offsets. Reads the raw list, so it reports even when other fields failed.
 */
function crossCheck(partitionKey: string, list: readonly unknown[], issues: string[]): void {
  let previous = -1;
  for (let i = 0; i < list.length; i++) {
    const r = list[i];
    if (typeof r !== 'object' || r === null) continue;
    const { topic, partition, offset } = r as Record<string, unknown>;
    if (typeof topic === 'string' && isSafeNonNegativeInteger(partition)) {
      const built = partitionId(topic, partition);
      if (built !== partitionKey) {
        issues.push(
          `${recordPath(partitionKey, [i])}: topic ${JSON.stringify(topic)} and partition ${partition} belong under ${JSON.stringify(built)}, not ${JSON.stringify(partitionKey)}`,
        );
      }
    }
    if (isSafeNonNegativeInteger(offset)) {
      if (offset <= previous) {
        issues.push(
          `${recordPath(partitionKey, [i, 'offset'])}: expected an offset above the previous record's (${previous}), got ${offset}`,
        );
      }
      previous = offset;
    }
  }
}

/** The careful pass: the batch, or `MalformedEventError` with every problem. Exported for the tests. */
export function parseWithProblems(event: unknown): KafkaBatch {
  if (!isObject(event)) throw new MalformedEventError([`${formatPath([], new Set())}: expected an object`]);
  const { eventSource, records } = event;
  const envelope: string[] = [];
  if (eventSource !== EventSource.msk && eventSource !== EventSource.selfManaged) {
    envelope.push(`eventSource: expected "${EventSource.msk}" or "${EventSource.selfManaged}"`);
  }
  // Checked, not copied: the partitions are read from the event's own object, in its key
  // order (a copy could lose an own `__proto__` key, which must be reported, not dropped).
  if (!isObject(records)) envelope.push('records: expected an object mapping "<topic>-<partition>" to a list of records');
  if (envelope.length > 0) throw new MalformedEventError(envelope);
  const issues: string[] = [];
  const partitions: PartitionBatch[] = [];
  for (const partitionKey of Object.keys(records as Record<string, unknown>)) {
    const list = (records as Record<string, unknown>)[partitionKey];
    // A key with records is checked against each record; an empty list's key only by its form.
    if (Array.isArray(list) && list.length === 0 && !PARTITION_KEY.test(partitionKey)) {
      issues.push(`${recordPath(partitionKey, [])}: expected a key of the form "<topic>-<partition>"`);
    }
    if (!Array.isArray(list)) {
      issues.push(`${recordPath(partitionKey, [])}: expected an array of records`);
      continue;
    }
    const found: Issue[] = [];
    const parsed: KafkaRecord[] = [];
    for (let i = 0; i < list.length; i++) {
      const record = checkedRecord(list[i], i, found);
      if (record !== undefined) parsed.push(record);
    }
    if (found.length === 0) {
      const first = parsed[0];
      if (first !== undefined) partitions.push({ topic: first.topic, partition: first.partition, records: parsed });
    } else {
      for (const issue of found) issues.push(`${recordPath(partitionKey, issue.path)}: ${issue.message}`);
    }
    crossCheck(partitionKey, list, issues);
  }
  if (issues.length > 0) throw new MalformedEventError(issues);
  return { eventSource: eventSource as KafkaBatch['eventSource'], partitions };
}
