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
import { PoisonRecordError } from './errors.ts';
import type { KafkaRecord } from './model.ts';

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

/** The layout settings (validated by lib/config.ts). */
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
    if (segment.kind === 'literal' && previous?.kind === 'literal') merged[merged.length - 1] = { kind: 'literal', text: previous.text + segment.text };
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
    new Intl.DateTimeFormat('en-US', { timeZone: settings.timezone });
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
    if (settings.partitioner === PartitionerName.field && !has('field')) problems.push('SINK_PATH_FORMAT: the field partitioner needs {{field}}');
    if (settings.partitioner !== PartitionerName.field && has('field')) problems.push('SINK_PATH_FORMAT: {{field}} needs SINK_PARTITIONER=field');
  }
  if (settings.partitioner === PartitionerName.field) {
    if (!settings.partitionField) problems.push('SINK_PARTITION_FIELD: required with SINK_PARTITIONER=field');
    else if (!/^[A-Za-z0-9_$-]{1,128}$/.test(settings.partitionField)) problems.push('SINK_PARTITION_FIELD: a top-level field name (letters, digits, _ $ -)');
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
}

/** An ISO-8601 date or date-time with an explicit zone (a zone-less time would depend on the machine's). */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;

/** Reads a dotted path from a parsed JSON value. */
function fieldOf(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const name of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
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

/** A time-field value as epoch ms, or a reason it is not one. */
function timeOfField(value: unknown): number | string {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : `${value} is not whole epoch milliseconds`;
  if (typeof value === 'string') {
    if (!ISO_8601.test(value)) return `"${value.slice(0, 40)}" is not epoch milliseconds or an ISO-8601 date-time with a zone`;
    const ms = Date.parse(value.replace(' ', 'T'));
    return Number.isFinite(ms) ? ms : `"${value.slice(0, 40)}" is not a valid date-time`;
  }
  return value === undefined ? 'missing' : `a ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}, not a time`;
}

/** A field value as one path component (percent-encoded), or a reason it cannot be one. */
function pathComponent(value: unknown): string | { problem: string } {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' && Number.isFinite(value)) text = String(value);
  else if (typeof value === 'boolean') text = String(value);
  else return { problem: value === undefined ? 'missing' : `a ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}, not a string, number or boolean` };
  if (text === '') return { problem: 'an empty string' };
  // encodeURIComponent leaves A-Z a-z 0-9 - _ . ! ~ * ' ( ); keep only the first four unescaped.
  const encoded = encodeURIComponent(text).replace(/[!~*'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  if (encoded === '.' || encoded === '..') return { problem: `"${text}" cannot be a directory name` };
  if (encoded.length > 256) return { problem: 'longer than 256 characters once encoded' };
  return encoded;
}

/** The time zone's offset from UTC (ms) at an instant; cached per UTC minute (zones shift on whole minutes). */
function zoneOffsets(timezone: string): (ms: number) => number {
  if (timezone === 'UTC' || timezone === 'Etc/UTC') return () => 0;
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    hourCycle: 'h23',
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
      for (const part of format.formatToParts(minute * 60_000)) if (part.type !== 'literal') parts[part.type] = Number(part.value);
      offset = Date.UTC(parts['year']!, parts['month']! - 1, parts['day'], parts['hour'], parts['minute']) - minute * 60_000;
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

  const render = (record: KafkaRecord, time: number | undefined, field: string | undefined): string => {
    let local: Date | undefined;
    if (usesTime) {
      // Floor to partition.duration.ms in the zone's local time, then read the local fields.
      const shifted = time! + offsetAt(time!);
      local = new Date(Math.floor(shifted / duration) * duration);
    }
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
    if (!timeField) return { time: record.timestamp ?? undefined, ...(record.timestamp === null ? { timeProblem: 'the record has no timestamp' } : {}), value };
    if (value === NOT_JSON) return { time: undefined, timeProblem: 'the value is not JSON, so it has no timestamp field', value };
    const time = timeOfField(fieldOf(value, timeField));
    return typeof time === 'number' ? { time, value } : { time: undefined, timeProblem: `timestamp field "${settings.timestampField}" is ${time}`, value };
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
      if (usesTime && time === undefined) throw new PoisonRecordError(record, `time partitioner: ${timeProblem}`);
      let field: string | undefined;
      if (usesField) {
        if (value === NOT_JSON) throw new PoisonRecordError(record, `field partitioner: the value is not JSON, so it has no field "${partitionField}"`);
        const component = pathComponent(fieldOf(value, [partitionField!]));
        if (typeof component !== 'string') throw new PoisonRecordError(record, `field partitioner: field "${partitionField}" is ${component.problem}`);
        field = component;
      }
      return { path: render(record, time, field), time };
    },
  };
}
