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
import { decodeBase64Strict, isSafeNonNegativeInteger, PARTITION_KEY, TOPIC_NAME } from './event-zod-oracle-fields.ts';
import { parseWellFormed } from './event-zod-oracle-fast-pass.ts';

// The oracle in three files: this one (the schemas), the shared field rules, the fast pass.
export { decodeBase64Strict } from './event-zod-oracle-fields.ts';
export { parseWellFormed } from './event-zod-oracle-fast-pass.ts';

const NON_NEGATIVE_INTEGER = 'expected a non-negative integer';
const BASE64 = 'expected a base64 string (standard alphabet, padded)';
const HEADER = 'expected an object with exactly one entry {name: [bytes]}';
const BYTE = 'expected a byte (an integer from 0 to 255)';

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
