/**
 * The event parser as it was with zod (lib/sink/event.ts up to the change that checks events without
 * zod at run time, to lighten the functions' cold start), kept unchanged as the oracle of
 * test/unit/event-fast-path.test.ts: the parser of today must accept, reject and word every
 * event exactly as this one's `parseWithSchemas` does.
 */
/**
 * Parsing and validation of the Lambda Kafka event (Amazon MSK `aws:kafka` and self-managed
 * `SelfManagedKafka`). A malformed event is rejected whole with a `MalformedEventError` that
 * lists every problem as `path: what is wrong` (DESIGN.md, "Bad input").
 *
 * The shape is checked with our own zod schemas rather than Powertools' parser: its Kafka
 * schemas decode keys and values to UTF-8 strings (binary values would be lost) and do not
 * check offsets. The rules zod cannot express per record (topic-partition against the map key,
 * ascending offsets) are checked by hand on the same pass over each partition's list.
 */
// zod/mini, not classic zod: this module is in both Lambda bundles, and mini's functional API
// tree-shakes (smaller bundle, faster cold start; see lib/config/config.ts). A namespace import:
// `import { z }` defeats the tree-shaking. Every message below is our own, so unlike
// lib/config/config.ts this module needs none of zod's English messages.
import * as z from 'zod/mini';
import { MalformedEventError } from '../../lib/core/errors.ts';
import {
  EventSource,
  partitionId,
  type KafkaBatch,
  type KafkaHeader,
  type KafkaRecord,
  type PartitionBatch,
} from '../../lib/core/model.ts';

/** Kafka's legal topic names. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
/** The form of a `records` map key, `<topic>-<partition>` (checked whole, never split). */
const PARTITION_KEY = /^[a-zA-Z0-9._-]{1,249}-(?:0|[1-9][0-9]*)$/;

const NON_NEGATIVE_INTEGER = 'expected a non-negative integer';
const BASE64 = 'expected a base64 string (standard alphabet, padded)';
const HEADER = 'expected an object with exactly one entry {name: [bytes]}';
const BYTE = 'expected a byte (an integer from 0 to 255)';

/**
 * A character above U+00FF, which Node's decoder would truncate to its low byte (`Ł` U+0141
 * would read as `A`). The other non-alphabet characters it skips, so the decoded length shows
 * them. V8 compiles this regular expression separately for strings stored one byte per
 * character, where it cannot match: on the usual base64 string the test costs no scan (about
 * 20 ns whatever the length, against 100 ns and more for `Buffer.byteLength`).
 */
const BEYOND_LATIN1 = /[^\0-\xff]/;

/**
 * Decodes strict base64 (standard alphabet, `=` padding only at the end, length a multiple
 * of 4; the empty string is valid), or returns undefined.
 *
 * Fast on long strings: Node's decoder is lenient (it skips unknown characters, accepts the
 * URL-safe alphabet and stops at a `=`) and truncates characters above U+00FF, so we first rule
 * out those characters and `-`/`_` (with scans that cost little or nothing on base64 text),
 * then decode and compare the length with the one the string must give: any skipped or
 * misplaced character makes the result shorter.
 */
export function decodeBase64Strict(s: string): Buffer | undefined {
  const size = strictBase64Size(s);
  if (size < 0) return undefined;
  const bytes = Buffer.from(s, 'base64');
  return bytes.length === size ? bytes : undefined;
}

/**
 * The number of bytes `s` decodes to if nothing but its decoded length can still make it
 * invalid (see {@link decodeBase64Strict}), else -1.
 */
function strictBase64Size(s: string): number {
  const length = s.length;
  if (length % 4 !== 0) return -1;
  if (length === 0) return 0;
  if (BEYOND_LATIN1.test(s)) return -1;
  if (s.includes('-') || s.includes('_')) return -1; // URL-safe alphabet
  const padding = s.charCodeAt(length - 1) !== 0x3d ? 0 : s.charCodeAt(length - 2) !== 0x3d ? 1 : 2;
  if (padding === 2 && s.charCodeAt(length - 3) === 0x3d) return -1;
  return (length / 4) * 3 - padding;
}

/**
 * `buffer.write(s, offset, length, 'base64')` without its argument checks and its dispatch on
 * the encoding, a call site that every caller of `write` in the process shares: Node's own
 * `Buffer.prototype.base64Write`, undocumented but there since Node 0.x, which `write` ends in.
 * Measured on the benchmark's 6 MB event: the handler runs 1 ms faster with it. Where it is
 * missing, the public call.
 */
const writeBase64: (buffer: Buffer, s: string, offset: number, length: number) => number =
  typeof (Buffer.prototype as { base64Write?: unknown }).base64Write === 'function'
    ? (buffer, s, offset, length) =>
        (buffer as Buffer & { base64Write(s: string, offset: number, length: number): number }).base64Write(s, offset, length)
    : (buffer, s, offset, length) => buffer.write(s, offset, length, 'base64');

/** The first chunk of a {@link ByteArena}; each next one doubles, up to the largest. */
const FIRST_CHUNK = 16 * 1024;
const LARGEST_CHUNK = 4 * 1024 * 1024;

/**
 * The bytes of one event's keys, values and header values, written one after another into a
 * few shared chunks and handed out as views, instead of one allocation each (a 6 MB event has
 * about 15,000 of them).
 */
class ByteArena {
  #chunk = Buffer.alloc(0);
  #used = 0;
  #nextSize = FIRST_CHUNK;

  /** Makes room for `size` more bytes in the current chunk. */
  #reserve(size: number): void {
    if (this.#used + size <= this.#chunk.length) return;
    this.#chunk = Buffer.allocUnsafe(Math.max(size, this.#nextSize));
    this.#used = 0;
    this.#nextSize = Math.min(2 * this.#nextSize, LARGEST_CHUNK);
  }

  /** `size` bytes as they are in memory (uninitialised): the caller writes every one. */
  take(size: number): Buffer {
    this.#reserve(size);
    const start = this.#used;
    this.#used = start + size;
    return this.#chunk.subarray(start, start + size);
  }

  /** Strict base64, decoded: same results as {@link decodeBase64Strict}. */
  decodeBase64(s: string): Buffer | undefined {
    const size = strictBase64Size(s);
    if (size < 0) return undefined;
    this.#reserve(size);
    // A lenient decode that skipped a character writes fewer bytes than the size (never more).
    if (writeBase64(this.#chunk, s, this.#used, size) !== size) return undefined;
    return this.take(size); // the bytes just written (the room is there: no new chunk)
  }
}

/** `key`/`value`: absent or null → null; otherwise strict base64, decoded. One zod step. */
const bytesField = z.optional(
  z.pipe(
    z.unknown(),
    z.transform((s, ctx): Buffer | null => {
      if (s === undefined || s === null) return null;
      const bytes = typeof s === 'string' ? decodeBase64Strict(s) : undefined;
      if (bytes === undefined) {
        ctx.issues.push({ code: 'custom', message: BASE64, input: s });
        return z.NEVER;
      }
      return bytes;
    }),
  ),
); // optional: absent → undefined, read as null below

/** `headers`: absent → []; each header `{name: [bytes 0–255]}`, exactly one entry. One zod step. */
const headersField = z.optional(
  z.pipe(
    z.unknown(),
    z.transform((list, ctx): KafkaHeader[] => {
      if (!Array.isArray(list)) {
        ctx.issues.push({ code: 'custom', message: 'expected an array of headers', input: list });
        return z.NEVER;
      }
      const headers: KafkaHeader[] = [];
      for (let i = 0; i < list.length; i++) {
        const header = list[i];
        if (typeof header !== 'object' || header === null || Array.isArray(header)) {
          ctx.issues.push({ code: 'custom', message: HEADER, input: header, path: [i] });
          continue;
        }
        const names = Object.keys(header);
        if (names.length !== 1) {
          ctx.issues.push({ code: 'custom', message: HEADER, input: header, path: [i] });
          continue;
        }
        const name = names[0]!;
        const bytes: unknown = (header as Record<string, unknown>)[name];
        if (!Array.isArray(bytes)) {
          ctx.issues.push({ code: 'custom', message: 'expected an array of bytes', input: bytes, path: [i, name] });
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
            ctx.issues.push({ code: 'custom', message: BYTE, input: b, path: [i, name, j] });
            ok = false;
          }
        }
        if (ok) headers.push({ key: name, value });
      }
      return headers;
    }),
  ),
); // optional: absent → undefined, read as [] below

const nonNegativeInteger = z.int({ error: NON_NEGATIVE_INTEGER }).check(z.gte(0, { error: NON_NEGATIVE_INTEGER }));

/** One record of a partition's list, decoded into a `KafkaRecord`. Unknown fields are ignored. */
const recordSchema = z.pipe(
  z.object(
    {
      topic: z
        .string({ error: 'expected a topic name' })
        .check(z.regex(TOPIC_NAME, { error: 'expected a Kafka topic name ([a-zA-Z0-9._-], 1 to 249 characters)' })),
      partition: nonNegativeInteger,
      offset: nonNegativeInteger,
      timestamp: z.nullish(z.number({ error: 'expected a number (epoch milliseconds)' })),
      timestampType: z.nullish(z.string({ error: 'expected a string' })),
      key: bytesField,
      value: bytesField,
      headers: headersField,
    },
    { error: 'expected a record object' },
  ),
  z.transform(
    (r): KafkaRecord => ({
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      timestamp: r.timestamp ?? null,
      timestampType: r.timestampType ?? null,
      key: r.key ?? null,
      value: r.value ?? null,
      headers: r.headers ?? [],
    }),
  ),
);

const partitionListSchema = z.array(recordSchema, { error: 'expected an array of records' });

const envelopeSchema = z.object(
  {
    eventSource: z.enum([EventSource.msk, EventSource.selfManaged], {
      error: `expected "${EventSource.msk}" or "${EventSource.selfManaged}"`,
    }),
    // Checked, not copied: the partitions are read from the event's own object, in its key
    // order (a copy could lose an own `__proto__` key, which must be reported, not dropped).
    records: z.custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), {
      error: 'expected an object mapping "<topic>-<partition>" to a list of records',
    }),
  },
  { error: 'expected an object' },
);

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

/** A path inside one partition's list, from zod's issue path (relative to the list). */
function recordPath(partitionKey: string, issuePath: readonly PropertyKey[]): string {
  const path: PropertyKey[] = ['records', partitionKey, ...issuePath];
  // The map key, and a header's name (the segment after `headers[i]`), are written in brackets.
  const mapKeys = new Set<number>([1]);
  if (issuePath[1] === 'headers' && issuePath.length > 3) mapKeys.add(5);
  return formatPath(path, mapKeys);
}

function isSafeNonNegativeInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Checks what zod cannot see record by record: each record's topic and partition against its
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

/**
 * Parses and validates a Lambda Kafka event. Returns the partitions in the event's key order
 * (lists that are empty are left out), each with its records in order, keys, values and header
 * values as bytes. Throws `MalformedEventError` listing every problem found.
 *
 * Two passes over the same rules: a hand-written one for the well-formed case (no zod, no
 * intermediate objects), and, when it meets anything it does not accept, the zod schemas, which
 * stay the source of truth and word every problem. The fast pass only accepts what the schemas
 * accept, and builds the same records (test/unit/event.test.ts checks both on random events).
 */
export function parseKafkaEvent(event: unknown): KafkaBatch {
  let batch: KafkaBatch | undefined;
  try {
    batch = parseWellFormed(event);
  } catch {
    batch = undefined; // e.g. a getter that throws: the schemas say what is wrong
  }
  return batch ?? parseWithSchemas(event);
}

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

/** The schemas' pass: the batch, or `MalformedEventError` with every problem. Exported for the tests. */
export function parseWithSchemas(event: unknown): KafkaBatch {
  const envelope = envelopeSchema.safeParse(event);
  if (!envelope.success) {
    throw new MalformedEventError(envelope.error.issues.map((issue) => `${formatPath(issue.path, new Set())}: ${issue.message}`));
  }
  const issues: string[] = [];
  const partitions: PartitionBatch[] = [];
  const records = envelope.data.records;
  for (const partitionKey of Object.keys(records)) {
    const list = records[partitionKey];
    // A key with records is checked against each record; an empty list's key only by its form.
    if (Array.isArray(list) && list.length === 0 && !PARTITION_KEY.test(partitionKey)) {
      issues.push(`${recordPath(partitionKey, [])}: expected a key of the form "<topic>-<partition>"`);
    }
    const parsed = partitionListSchema.safeParse(list);
    if (parsed.success) {
      const first = parsed.data[0];
      if (first !== undefined) {
        partitions.push({ topic: first.topic, partition: first.partition, records: parsed.data });
      }
    } else {
      for (const issue of parsed.error.issues) issues.push(`${recordPath(partitionKey, issue.path)}: ${issue.message}`);
    }
    if (Array.isArray(list)) crossCheck(partitionKey, list, issues);
  }
  if (issues.length > 0) throw new MalformedEventError(issues);
  return { eventSource: envelope.data.eventSource, partitions };
}
