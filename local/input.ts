/**
 * `--input FILE`: records from a JSON Lines file, one record per line, for local mode.
 *
 * ```
 * {"topic":"orders","partition":0,"offset":5,"timestamp":"2025-11-26T10:00:00Z","key":"customer-7","value":{"orderId":1},"headers":{"traceparent":"00-…"}}
 * ```
 *
 * | field | required | meaning |
 * |---|---|---|
 * | `topic` | yes | a Kafka topic name (`[a-zA-Z0-9._-]`, at most 249 characters) |
 * | `partition` | no | non-negative integer; absent: Kafka's default partitioner (murmur2 of the key, over `partitions`), or 0 without a key |
 * | `offset` | no | non-negative integer, ascending per partition in file order; absent: the partition's previous offset + 1 (0 first) |
 * | `timestamp` | no | epoch milliseconds or an ISO-8601 date-time; absent: when the record is produced (see `producedAt`) |
 * | `key` | no | a string (sent as its UTF-8 bytes) or null/absent (no key); any other JSON is sent as its JSON text |
 * | `keyBase64` | no | the key's bytes in base64 (instead of `key`) |
 * | `value` | no | a string (sent as its UTF-8 text), any other JSON (sent as its JSON text), or null/absent (a tombstone) |
 * | `valueBase64` | no | the value's bytes in base64 (instead of `value`) |
 * | `headers` | no | an object of header name → string value |
 *
 * Blank lines are skipped. Every problem is reported as `FILE:LINE: ...`.
 */
import { readFile } from 'node:fs/promises';
import { partitionForKey, type PartitionLog, type LogRecord } from '../testkit/kafka/records.ts';
import { producedAt } from '../testkit/kafka/generate.ts';

export class InputFileError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'InputFileError';
  }
}

export interface InputOptions {
  /** Partitions per topic for records without a `partition` (default 3). */
  readonly partitions?: number;
  /** The first `backlog` records are in the topics before the mapping is created. */
  readonly backlog?: number;
  /** Records per second produced, in virtual time (undefined: all at once). */
  readonly rate?: number;
}

const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;
const FIELDS = new Set([
  'topic',
  'partition',
  'offset',
  'timestamp',
  'timestampType',
  'key',
  'keyBase64',
  'value',
  'valueBase64',
  'headers',
]);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MAX_PROBLEMS = 20;

/** Reads and validates a JSONL file; throws `InputFileError` listing every bad line (up to 20). */
export async function readInputFile(file: string, shownName: string, options: InputOptions = {}): Promise<PartitionLog[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new InputFileError([`${shownName}: cannot read ${file}: ${why}`]);
  }
  return parseInput(text, shownName, options);
}

export function parseInput(text: string, shownName: string, options: InputOptions = {}): PartitionLog[] {
  const partitions = options.partitions ?? 3;
  const problems: string[] = [];
  const logs = new Map<string, { topic: string; partition: number; records: LogRecord[]; last: number }>();
  const lines = text.split('\n');
  let index = 0;
  for (let n = 0; n < lines.length && problems.length < MAX_PROBLEMS; n++) {
    const raw = lines[n]!.replace(/\r$/, '');
    if (raw.trim() === '') continue;
    const at = `${shownName}:${n + 1}`;
    const problem = (message: string): void => void problems.push(`${at}: ${message}`);
    let line: unknown;
    try {
      line = JSON.parse(raw);
    } catch (err) {
      problem(`not valid JSON (${(err as Error).message})`);
      continue;
    }
    if (typeof line !== 'object' || line === null || Array.isArray(line)) {
      problem('expected a JSON object with at least "topic"');
      continue;
    }
    const r = line as Record<string, unknown>;
    const before = problems.length;
    const unknown = Object.keys(r).filter((k) => !FIELDS.has(k));
    if (unknown.length > 0)
      problem(
        `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (known: ${[...FIELDS].join(', ')})`,
      );
    const topic = r['topic'];
    if (typeof topic !== 'string' || !TOPIC.test(topic))
      problem(`topic: expected a Kafka topic name ([a-zA-Z0-9._-], 1-249 characters), got ${JSON.stringify(topic)}`);
    const key = bytesField(r, 'key', 'keyBase64', problem);
    const value = bytesField(r, 'value', 'valueBase64', problem);
    let partition = 0;
    if (r['partition'] !== undefined) {
      if (!isIndex(r['partition'])) problem(`partition: expected a non-negative integer, got ${JSON.stringify(r['partition'])}`);
      else partition = r['partition'];
    } else if (key !== null && key !== undefined) {
      partition = partitionForKey(key, partitions);
    }
    let timestamp: number | undefined;
    const ts = r['timestamp'];
    if (typeof ts === 'number') {
      if (!Number.isSafeInteger(ts) || ts < 0) problem(`timestamp: expected epoch milliseconds (a non-negative integer), got ${ts}`);
      else timestamp = ts;
    } else if (typeof ts === 'string') {
      timestamp = Date.parse(ts);
      if (Number.isNaN(timestamp) || !/^\d{4}-\d\d-\d\d/.test(ts))
        problem(`timestamp: expected epoch milliseconds or an ISO-8601 date-time, got ${JSON.stringify(ts)}`);
    } else if (ts !== undefined && ts !== null) {
      problem(`timestamp: expected epoch milliseconds or an ISO-8601 date-time, got ${JSON.stringify(ts)}`);
    }
    if (r['timestampType'] !== undefined && r['timestampType'] !== 'CREATE_TIME')
      problem('timestampType: only CREATE_TIME is supported (or leave it out)');
    const headers: Array<Record<string, number[]>> = [];
    const h = r['headers'];
    if (h !== undefined && h !== null) {
      if (typeof h !== 'object' || Array.isArray(h)) problem('headers: expected an object of header name → string value');
      else
        for (const [name, v] of Object.entries(h)) {
          if (typeof v !== 'string') problem(`headers.${name}: expected a string, got ${JSON.stringify(v)}`);
          else headers.push({ [name]: [...Buffer.from(v, 'utf8')] });
        }
    }
    if (problems.length > before || typeof topic !== 'string') continue;
    const id = `${topic}-${partition}`;
    let log = logs.get(id);
    if (log === undefined) logs.set(id, (log = { topic, partition, records: [], last: -1 }));
    let offset = log.last + 1;
    if (r['offset'] !== undefined) {
      if (!isIndex(r['offset'])) {
        problem(`offset: expected a non-negative integer, got ${JSON.stringify(r['offset'])}`);
        continue;
      }
      if (r['offset'] <= log.last) {
        problem(`offset: ${r['offset']} is not above the previous offset of ${id} (${log.last}); offsets must ascend per partition`);
        continue;
      }
      offset = r['offset'];
    }
    log.last = offset;
    const at2 = producedAt(index++, options.backlog ?? 0, options.rate);
    log.records.push({
      topic,
      partition,
      offset,
      timestamp: timestamp ?? at2,
      producedAt: at2,
      key: key ?? null,
      value: value ?? null,
      ...(headers.length > 0 ? { headers } : {}),
    });
  }
  if (problems.length >= MAX_PROBLEMS) problems.push(`${shownName}: stopped after ${MAX_PROBLEMS} problems`);
  if (problems.length === 0 && logs.size === 0) problems.push(`${shownName}: no records (one JSON object per line expected)`);
  if (problems.length > 0) throw new InputFileError(problems);
  return [...logs.values()]
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
    .map(({ topic, partition, records }) => ({ topic, partition, records }));
}

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** `field` (text or JSON) or `field`Base64 (bytes); undefined when absent. */
function bytesField(
  r: Record<string, unknown>,
  field: string,
  base64Field: string,
  problem: (m: string) => void,
): Buffer | null | undefined {
  const plain = r[field];
  const b64 = r[base64Field];
  if (plain !== undefined && b64 !== undefined) {
    problem(`${field}, ${base64Field}: give one, not both`);
    return undefined;
  }
  if (b64 !== undefined) {
    if (typeof b64 !== 'string' || !BASE64.test(b64)) {
      problem(`${base64Field}: expected base64, got ${JSON.stringify(b64).slice(0, 60)}`);
      return undefined;
    }
    return Buffer.from(b64, 'base64');
  }
  if (plain === undefined || plain === null) return null;
  return Buffer.from(typeof plain === 'string' ? plain : JSON.stringify(plain), 'utf8');
}
