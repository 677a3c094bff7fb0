/**
 * Data layouts: where in the bucket a record's object goes (partitioners and path templates) and
 * when an object is cut (rotation). Everything here is a function of the records themselves —
 * their offset, their Kafka timestamp or a field of their JSON value — never of the wall clock,
 * so that every writer that starts an object at the same offset computes the same key and the
 * same range (docs/protocol.md, "Why the keys line up").
 *
 * A key is always
 *
 *   {prefix}{topic}/{path}/{topic}+{partition}+{first offset, 20 digits}[+g{generation}]{ext}
 *
 * where `{path}` is the partitioner's rendering of the path template for the object's FIRST
 * record. Only the directories between `{prefix}{topic}/` and the file name vary with the
 * layout, so the operations tools find every object by listing the topic's prefix and parsing
 * file names.
 */
import { Buffer } from 'node:buffer';
import { PoisonRecordError } from '../core/errors.ts';
import type { KafkaRecord } from '../core/model.ts';
import { objectKey, type ObjectKeyParts, parseObjectName } from './naming.ts';

/** `partitioner.class`. */
export const PartitionerName = {
  /** `partition={p}`: Kafka Connect's DefaultPartitioner (today's layout). */
  default: 'default',
  /** Record time, Hive style (`year=/month=/day=/hour=`): TimeBasedPartitioner. */
  time: 'time',
  /** A top-level field of the JSON value: FieldPartitioner. */
  field: 'field',
} as const;
export type PartitionerName = (typeof PartitionerName)[keyof typeof PartitionerName];

/** `timestamp.extractor`: where record time comes from (never the wall clock). */
export const TimestampExtractor = {
  /** The Kafka record's timestamp (CreateTime or LogAppendTime). */
  record: 'Record',
  /** A field of the JSON value: epoch milliseconds, or an ISO-8601 string with a zone. */
  recordField: 'RecordField',
} as const;
export type TimestampExtractor = (typeof TimestampExtractor)[keyof typeof TimestampExtractor];

/** The layout settings (validated by lib/config/config.ts). */
export interface LayoutSettings {
  readonly partitioner: PartitionerName;
  /** The path template; undefined: the partitioner's default. */
  readonly pathFormat: string | undefined;
  /** `partition.duration.ms`; undefined: the finest time unit of the template. */
  readonly partitionDurationMs: number | undefined;
  readonly timestampExtractor: TimestampExtractor;
  /** Dotted path into the JSON value (`timestamp.field`), with `RecordField`. */
  readonly timestampField: string | undefined;
  /** IANA time zone of the time fields (`timezone`), default UTC. */
  readonly timezone: string;
  /** Top-level field of the JSON value (`partition.field.name`), with the field partitioner. */
  readonly partitionField: string | undefined;
}

/** When an object is cut inside a batch (`rotate.*`); undefined limits do not apply. */
export interface RotationSettings {
  /** At most this many records per object. */
  readonly maxRecords: number | undefined;
  /** An object closes once its uncompressed body reaches this many bytes (it may pass it by one record). */
  readonly maxBytes: number | undefined;
  /**
   * `rotate.interval.ms`: a record whose time is at or after the object's first record time + N
   * starts a new object (record time, as the timestamp extractor gives it).
   */
  readonly intervalMs: number | undefined;
}

export const DEFAULT_LAYOUT: LayoutSettings = {
  partitioner: PartitionerName.default,
  pathFormat: undefined,
  partitionDurationMs: undefined,
  timestampExtractor: TimestampExtractor.record,
  timestampField: undefined,
  timezone: 'UTC',
  partitionField: undefined,
};

export const NO_ROTATION: RotationSettings = { maxRecords: undefined, maxBytes: undefined, intervalMs: undefined };

/**
 * Directory of objects whose first record has no path (the partitioner could not place it, and
 * errors.tolerance=all sent it to the dead letters): they hold the records after it up to the
 * next placeable one, usually none. Hive, Spark and Athena ignore directories starting with `_`.
 */
export const UNPARTITIONED_PATH = '_unpartitioned';

/** S3's limit on a key: 1,024 bytes of UTF-8. A record whose object key would pass it is a poison record. */
export const S3_KEY_LIMIT_BYTES = 1024;

/**
 * The longest key (UTF-8 bytes) an object with a record-independent path (undefined:
 * `partition={p}`) can have under `prefix`, whatever the record: the longest Kafka topic name
 * (249 characters) and the largest partition, offset and generation. The config loader checks the sink's and the
 * dead-letter prefix with it, so that a dead letter and an `_unpartitioned` object (where a
 * poison record's range goes) can always be written: a poison record never stalls a partition.
 */
export function longestFixedKeyBytes(prefix: string, path: string | undefined, extension: string): number {
  const largest = Number.MAX_SAFE_INTEGER;
  return Buffer.byteLength(
    objectKey({ prefix, topic: 'x'.repeat(249), partition: largest, generation: largest, firstOffset: largest, extension, path }),
  );
}

/**
 * How many characters of path fit in the key of an object with these parts within S3's limit
 * (negative: not even an empty one). A rendered path is ASCII (topic names, digits, template
 * literals, percent-encoded field values), so its length is its size in bytes.
 */
export function pathRoom(parts: Omit<ObjectKeyParts, 'path'>): number {
  return S3_KEY_LIMIT_BYTES - Buffer.byteLength(objectKey({ ...parts, path: '' }));
}

/** The first and last instants of the years 0000-9999 (a time path has four-digit years). */
const FIRST_TIME = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
const LAST_TIME = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
/** A day, the margin beyond those years within which a zone's offset is looked up at all. */
const DAY_MS = 86_400_000;

// --- Path templates ---------------------------------------------------------------------------

type TimeUnit = 'yyyy' | 'MM' | 'dd' | 'HH' | 'mm';
type Segment =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'time'; readonly unit: TimeUnit }
  | { readonly kind: 'topic' }
  | { readonly kind: 'partition'; readonly padding: boolean }
  | { readonly kind: 'field' };

const UNIT_MS: Readonly<Record<TimeUnit, number>> = {
  yyyy: 366 * 86_400_000, // only for ordering; a year is never a duration default
  MM: 31 * 86_400_000,
  dd: 86_400_000,
  HH: 3_600_000,
  mm: 60_000,
};

/** Characters a template may hold outside its variables (safe in S3 keys and Hive paths). */
const LITERAL = /^[A-Za-z0-9=._\-/]*$/;

/**
 * Parses a path template. Two syntaxes:
 *
 * - Aiven's `file.name.template` variables: `{{topic}}`, `{{partition}}`,
 *   `{{partition:padding=true}}` (10 digits), `{{timestamp:unit=yyyy|MM|dd|HH|mm}}`, `{{field}}`;
 *   other text is literal.
 * - Confluent's `path.format` (Joda-Time): `'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH`: quoted
 *   text is literal, `YYYY`/`yyyy` `MM` `dd` `HH` `mm` are time fields, `/ = - _ .` literal.
 *
 * Throws a `TypeError` with the problem.
 */
export function parsePathFormat(template: string): Segment[] {
  if (template.trim() === '') throw new TypeError('path format is empty');
  if (template.startsWith('/') || template.endsWith('/')) throw new TypeError('path format must not start or end with "/"');
  const segments = template.includes('{{') ? parseAiven(template) : parseJoda(template);
  const text = segments.map((s) => (s.kind === 'literal' ? s.text : 'x')).join('');
  if (text.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new TypeError('path format has an empty, "." or ".." directory');
  }
  return mergeLiterals(segments);
}

function parseAiven(template: string): Segment[] {
  const segments: Segment[] = [];
  const pattern = /\{\{\s*([^}]*?)\s*\}\}/g;
  let last = 0;
  for (let match = pattern.exec(template); match; match = pattern.exec(template)) {
    literal(segments, template.slice(last, match.index));
    last = match.index + match[0].length;
    const variable = match[1]!;
    if (variable === 'topic') segments.push({ kind: 'topic' });
    else if (variable === 'partition' || variable === 'partition:padding=false') segments.push({ kind: 'partition', padding: false });
    else if (variable === 'partition:padding=true') segments.push({ kind: 'partition', padding: true });
    else if (variable === 'field') segments.push({ kind: 'field' });
    else {
      const unit = /^timestamp:unit=(yyyy|MM|dd|HH|mm)$/.exec(variable)?.[1] as TimeUnit | undefined;
      if (!unit) {
        throw new TypeError(
          `unknown variable {{${variable}}} (known: {{topic}}, {{partition}}, {{partition:padding=true}}, ` +
            '{{timestamp:unit=yyyy|MM|dd|HH|mm}}, {{field}})',
        );
      }
      segments.push({ kind: 'time', unit });
    }
  }
  literal(segments, template.slice(last));
  return segments;
}

function parseJoda(template: string): Segment[] {
  const segments: Segment[] = [];
  let i = 0;
  while (i < template.length) {
    const c = template[i]!;
    if (c === "'") {
      const end = template.indexOf("'", i + 1);
      if (end < 0) throw new TypeError(`unterminated quote in path format at ${i}`);
      literal(segments, end === i + 1 ? "'" : template.slice(i + 1, end));
      i = end + 1;
    } else if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (j < template.length && template[j] === c) j++;
      const run = template.slice(i, j);
      const unit = ({ YYYY: 'yyyy', yyyy: 'yyyy', MM: 'MM', dd: 'dd', HH: 'HH', mm: 'mm' } as Record<string, TimeUnit>)[run];
      if (!unit) throw new TypeError(`path format field "${run}" is not supported (YYYY, MM, dd, HH, mm; quote literal text: 'year'=YYYY)`);
      segments.push({ kind: 'time', unit });
      i = j;
    } else {
      literal(segments, c);
      i += 1;
    }
  }
  return segments;
}

function literal(segments: Segment[], text: string): void {
  if (text === '') return;
  if (!LITERAL.test(text)) throw new TypeError(`path format text "${text}" may hold only letters, digits and = . _ - /`);
  segments.push({ kind: 'literal', text });
}

function mergeLiterals(segments: Segment[]): Segment[] {
  const merged: Segment[] = [];
  for (const segment of segments) {
    const previous = merged.at(-1);
    if (segment.kind === 'literal' && previous?.kind === 'literal')
      merged[merged.length - 1] = { kind: 'literal', text: previous.text + segment.text };
    else merged.push(segment);
  }
  return merged;
}

/** The partitioner's default template. */
export function defaultPathFormat(settings: Pick<LayoutSettings, 'partitioner' | 'partitionField'>): string {
  switch (settings.partitioner) {
    case PartitionerName.default:
      return 'partition={{partition}}';
    case PartitionerName.time:
      return 'year={{timestamp:unit=yyyy}}/month={{timestamp:unit=MM}}/day={{timestamp:unit=dd}}/hour={{timestamp:unit=HH}}';
    case PartitionerName.field:
      return `${settings.partitionField ?? 'field'}={{field}}`;
  }
}

/** Problems of a layout, for the configuration loader (empty: valid). */
export function layoutProblems(settings: LayoutSettings): string[] {
  const problems: string[] = [];
  let segments: Segment[] = [];
  try {
    segments = parsePathFormat(settings.pathFormat ?? defaultPathFormat(settings));
  } catch (error) {
    problems.push(`SINK_PATH_FORMAT: ${(error as Error).message}`);
  }
  const has = (kind: Segment['kind']) => segments.some((s) => s.kind === kind);
  try {
    // UTC needs no check, and the first DateTimeFormat of a process loads ICU's locale and zone
    // data (30-60 ms): the default layout would pay it at every cold start.
    if (!isUtc(settings.timezone)) new Intl.DateTimeFormat('en-US', { timeZone: settings.timezone });
  } catch {
    problems.push(`SINK_TIMEZONE: "${settings.timezone}" is not an IANA time zone (e.g. UTC, Europe/Paris)`);
  }
  if (settings.timestampExtractor === TimestampExtractor.recordField && !settings.timestampField) {
    problems.push('SINK_TIMESTAMP_FIELD: required with SINK_TIMESTAMP_EXTRACTOR=RecordField');
  }
  if (settings.timestampExtractor !== TimestampExtractor.recordField && settings.timestampField) {
    problems.push('SINK_TIMESTAMP_FIELD: only used with SINK_TIMESTAMP_EXTRACTOR=RecordField');
  }
  if (segments.length > 0) {
    if (settings.partitioner === PartitionerName.time && !has('time')) {
      problems.push('SINK_PATH_FORMAT: the time partitioner needs at least one time field ({{timestamp:unit=HH}} or HH)');
    }
    if (settings.partitioner !== PartitionerName.time && has('time')) {
      problems.push('SINK_PATH_FORMAT: time fields need SINK_PARTITIONER=time');
    }
    if (settings.partitioner === PartitionerName.field && !has('field'))
      problems.push('SINK_PATH_FORMAT: the field partitioner needs {{field}}');
    if (settings.partitioner !== PartitionerName.field && has('field'))
      problems.push('SINK_PATH_FORMAT: {{field}} needs SINK_PARTITIONER=field');
  }
  if (settings.partitioner === PartitionerName.field) {
    if (!settings.partitionField) problems.push('SINK_PARTITION_FIELD: required with SINK_PARTITIONER=field');
    else if (!/^[A-Za-z0-9_$-]{1,128}$/.test(settings.partitionField))
      problems.push('SINK_PARTITION_FIELD: a top-level field name (letters, digits, _ $ -)');
  } else if (settings.partitionField) {
    problems.push('SINK_PARTITION_FIELD: only used with SINK_PARTITIONER=field');
  }
  if (settings.partitioner !== PartitionerName.time && settings.partitionDurationMs !== undefined) {
    problems.push('SINK_PARTITION_DURATION_MS: only used with SINK_PARTITIONER=time');
  }
  return problems;
}

// --- Routing records ----------------------------------------------------------------------------

/** Where one record goes: its object directory and its record time. */
export interface Route {
  /** The directory path between `{prefix}{topic}/` and the file name. */
  readonly path: string;
  /** Record time (epoch ms) as the timestamp extractor gives it; undefined when there is none. */
  readonly time: number | undefined;
}

/** Places records. `route` throws `PoisonRecordError` for a record the partitioner cannot place. */
export interface Layout {
  readonly settings: LayoutSettings;
  route(record: KafkaRecord): Route;
  /**
   * The directory of every record of `record`'s topic-partition when the path depends on
   * nothing else (no time or field partitioner, as by default), else undefined. Then `route`
   * never throws, and gives this path and `time(record)`.
   */
  fixedPath(record: KafkaRecord): string | undefined;
  /** Record time only (for rotation), never throwing: undefined when there is none. */
  time(record: KafkaRecord): number | undefined;
  /**
   * The time partition (UTC ms, end exclusive) a record time falls in: `partition.duration.ms`
   * floored in the zone's local time. Undefined unless the time partitioner is used.
   */
  window(time: number): { readonly start: number; readonly end: number } | undefined;
  /**
   * `key` (an object key under `prefix`) fit for logs and error messages: the directories the
   * field partitioner took from record values are shown with `*` for the value (`country=*` for
   * `country=FR`); other keys are returned as they are.
   */
  redactKey(key: string, prefix: string): string;
}

/** An ISO-8601 date or date-time with an explicit zone (a zone-less time would depend on the machine's). */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;

/** Reads a dotted path from a parsed JSON value (own fields only: `constructor` is not a field of `{}`). */
function fieldOf(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const name of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current) || !Object.hasOwn(current, name)) return undefined;
    current = (current as Record<string, unknown>)[name];
  }
  return current;
}

const NOT_JSON = Symbol('not JSON');

function parseValue(record: KafkaRecord): unknown {
  if (record.value === null) return NOT_JSON;
  try {
    return JSON.parse(Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength).toString('utf8'));
  } catch {
    return NOT_JSON;
  }
}

/**
 * A time-field value as epoch ms, or a reason it is not one. Reasons describe the value, never
 * quote it: record data stays out of logs and error messages.
 */
function timeOfField(value: unknown): number | string {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : 'a number that is not whole epoch milliseconds';
  if (typeof value === 'string') {
    if (!ISO_8601.test(value)) return 'a string that is not epoch milliseconds or an ISO-8601 date-time with a zone';
    const ms = Date.parse(value.replace(' ', 'T'));
    return Number.isFinite(ms) ? ms : 'a string that is not a valid date-time';
  }
  return value === undefined ? 'missing' : `a ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}, not a time`;
}

/** A field value as one path component (percent-encoded), or a reason it cannot be one. */
function pathComponent(value: unknown): string | { problem: string } {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' && Number.isFinite(value)) text = String(value);
  else if (typeof value === 'boolean') text = String(value);
  else
    return {
      problem:
        value === undefined
          ? 'missing'
          : `a ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}, not a string, number or boolean`,
    };
  if (text === '') return { problem: 'an empty string' };
  // A lone surrogate (a JSON text may escape one: "\ud800") has no UTF-8; encodeURIComponent would throw.
  if (!text.isWellFormed()) return { problem: 'a string that is not valid Unicode (a lone surrogate)' };
  // encodeURIComponent leaves A-Z a-z 0-9 - _ . ! ~ * ' ( ); keep only the first four unescaped.
  const encoded = encodeURIComponent(text).replace(/[!~*'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  if (encoded === '.' || encoded === '..') return { problem: 'a "." or "..", which cannot be a directory name' };
  if (encoded.length > 256) return { problem: 'longer than 256 characters once encoded' };
  return encoded;
}

/** The names of UTC that need no Intl (its offset is always 0). */
function isUtc(timezone: string): boolean {
  return timezone === 'UTC' || timezone === 'Etc/UTC';
}

/** The time zone's offset from UTC (ms) at an instant; cached per UTC minute (zones shift on whole minutes). */
function zoneOffsets(timezone: string): (ms: number) => number {
  if (isUtc(timezone)) return () => 0;
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    hourCycle: 'h23',
    era: 'short',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
  });
  const cache = new Map<number, number>();
  return (ms) => {
    const minute = Math.floor(ms / 60_000);
    let offset = cache.get(minute);
    if (offset === undefined) {
      const parts: Record<string, number> = {};
      let bc = false;
      for (const part of format.formatToParts(minute * 60_000)) {
        if (part.type === 'era') bc = part.value === 'BC';
        else if (part.type !== 'literal') parts[part.type] = Number(part.value);
      }
      // setUTCFullYear, not Date.UTC, which reads years 0-99 as 1900-1999; 1 BC is year 0.
      const local = new Date(0);
      local.setUTCFullYear(bc ? 1 - parts['year']! : parts['year']!, parts['month']! - 1, parts['day']);
      local.setUTCHours(parts['hour']!, parts['minute']);
      offset = local.getTime() - minute * 60_000;
      if (cache.size > 100_000) cache.clear();
      cache.set(minute, offset);
    }
    return offset;
  };
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Builds the layout of a configuration (settings already validated). */
export function createLayout(settings: LayoutSettings): Layout {
  const segments = parsePathFormat(settings.pathFormat ?? defaultPathFormat(settings));
  const usesTime = segments.some((s) => s.kind === 'time');
  const usesField = segments.some((s) => s.kind === 'field');
  const finest = segments.reduce<number>((min, s) => (s.kind === 'time' ? Math.min(min, UNIT_MS[s.unit]) : min), UNIT_MS.dd);
  const duration = settings.partitionDurationMs ?? finest;
  const offsetAt = zoneOffsets(settings.timezone);
  const timeField = settings.timestampExtractor === TimestampExtractor.recordField ? settings.timestampField!.split('.') : undefined;
  const partitionField = settings.partitionField;
  /** Rendered paths of record-independent templates, per topic-partition. */
  const constant = !usesTime && !usesField ? new Map<string, string>() : undefined;
  let lastTopic: string | undefined;
  let lastPartition = -1;
  let lastPath = '';

  const timeFieldName = timeField ? `value.${settings.timestampField}` : 'timestamp';
  /** Each directory of the template: its shape with variables as `*`, and whether a record value goes into it. */
  const directories: Array<{ shape: string; hasField: boolean }> = [{ shape: '', hasField: false }];
  for (const segment of segments) {
    if (segment.kind === 'literal') {
      const [first, ...rest] = segment.text.split('/');
      directories.at(-1)!.shape += first!;
      for (const text of rest) directories.push({ shape: text, hasField: false });
    } else {
      directories.at(-1)!.shape += '*';
      if (segment.kind === 'field') directories.at(-1)!.hasField = true;
    }
  }

  /**
   * The start of the record time's partition: the time floored to partition.duration.ms in the
   * zone's local time, as a UTC date whose fields are the local ones; undefined outside the years
   * 0000-9999, which a four-digit year cannot write (past JavaScript's Date range Intl throws, and
   * an invalid Date would write `year=0NaN`).
   */
  const localStart = (time: number): Date | undefined => {
    if (!(time >= FIRST_TIME - DAY_MS && time <= LAST_TIME + DAY_MS)) return undefined; // also NaN
    const start = Math.floor((time + offsetAt(time)) / duration) * duration;
    return start >= FIRST_TIME && start <= LAST_TIME ? new Date(start) : undefined;
  };

  const render = (record: KafkaRecord, local: Date | undefined, field: string | undefined): string => {
    let path = '';
    for (const segment of segments) {
      switch (segment.kind) {
        case 'literal':
          path += segment.text;
          break;
        case 'topic':
          path += record.topic;
          break;
        case 'partition':
          path += segment.padding ? pad(record.partition, 10) : String(record.partition);
          break;
        case 'field':
          path += field!;
          break;
        case 'time': {
          const d = local!;
          if (segment.unit === 'yyyy') path += pad(d.getUTCFullYear(), 4);
          else if (segment.unit === 'MM') path += pad(d.getUTCMonth() + 1, 2);
          else if (segment.unit === 'dd') path += pad(d.getUTCDate(), 2);
          else if (segment.unit === 'HH') path += pad(d.getUTCHours(), 2);
          else path += pad(d.getUTCMinutes(), 2);
          break;
        }
      }
    }
    return path;
  };

  /** Record time and, when needed, the parsed value. */
  const extract = (record: KafkaRecord): { time: number | undefined; timeProblem?: string; value: unknown } => {
    const value = timeField || usesField ? parseValue(record) : NOT_JSON;
    if (!timeField)
      return {
        time: record.timestamp ?? undefined,
        ...(record.timestamp === null ? { timeProblem: 'the record has no timestamp' } : {}),
        value,
      };
    if (value === NOT_JSON) return { time: undefined, timeProblem: 'the value is not JSON, so it has no timestamp field', value };
    const time = timeOfField(fieldOf(value, timeField));
    return typeof time === 'number'
      ? { time, value }
      : { time: undefined, timeProblem: `timestamp field "${settings.timestampField}" is ${time}`, value };
  };

  return {
    settings,
    window(time) {
      if (!usesTime) return undefined;
      const offset = offsetAt(time);
      const start = Math.floor((time + offset) / duration) * duration - offset;
      return { start, end: start + duration };
    },
    time(record) {
      if (!timeField) return record.timestamp ?? undefined;
      return extract(record).time;
    },
    fixedPath(record) {
      if (!constant) return undefined;
      if (record.topic !== lastTopic || record.partition !== lastPartition) {
        const id = `${record.topic}\u0000${record.partition}`;
        let path = constant.get(id);
        if (path === undefined) {
          if (constant.size > 10_000) constant.clear();
          constant.set(id, (path = render(record, undefined, undefined)));
        }
        [lastTopic, lastPartition, lastPath] = [record.topic, record.partition, path];
      }
      return lastPath;
    },
    route(record) {
      const fixed = this.fixedPath(record);
      if (fixed !== undefined) return { path: fixed, time: this.time(record) };
      const { time, timeProblem, value } = extract(record);
      let local: Date | undefined;
      if (usesTime) {
        if (time === undefined) throw new PoisonRecordError(record, `time partitioner: ${timeProblem}`, { field: timeFieldName });
        local = localStart(time);
        if (local === undefined) {
          throw new PoisonRecordError(record, `time partitioner: the record time is outside the years 0000-9999 (${settings.timezone})`, {
            field: timeFieldName,
          });
        }
      }
      let field: string | undefined;
      if (usesField) {
        const where = { field: `value.${partitionField}` };
        if (value === NOT_JSON)
          throw new PoisonRecordError(record, `field partitioner: the value is not JSON, so it has no field "${partitionField}"`, where);
        const component = pathComponent(fieldOf(value, [partitionField!]));
        if (typeof component !== 'string')
          throw new PoisonRecordError(record, `field partitioner: field "${partitionField}" is ${component.problem}`, where);
        field = component;
      }
      return { path: render(record, local, field), time };
    },
    redactKey(key, prefix) {
      if (!usesField) return key;
      const slash = key.lastIndexOf('/');
      const name = parseObjectName(key.slice(slash + 1));
      const base = name && `${prefix}${name.topic}/`;
      if (!base || !key.startsWith(base) || slash < base.length) return `${prefix}*`;
      const path = key.slice(base.length, slash);
      if (path === UNPARTITIONED_PATH) return key;
      const parts = path.split('/');
      const shown =
        parts.length === directories.length ? parts.map((part, i) => (directories[i]!.hasField ? directories[i]!.shape : part)) : ['*'];
      return `${base}${shown.join('/')}${key.slice(slash)}`;
    },
  };
}
