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
 *
 * Here: the settings, the room a key leaves for a path, their validation, and `createLayout`. Beside
 * it: path-format.ts (templates), time-zone.ts (zones and time partitions), record-values.ts
 * (reading the JSON value).
 */
import { Buffer } from 'node:buffer';
import { PoisonRecordError } from '../core/errors.ts';
import type { KafkaRecord } from '../core/model.ts';
import { objectKey, type ObjectKeyParts, parseObjectName } from './naming.ts';
import { parsePathFormat, renderPath, type Segment, templateDirectories, UNIT_MS } from './path-format.ts';
import { fieldOf, NOT_JSON, parseValue, pathComponent, timeOfField } from './record-values.ts';
import { isUtc, timePartitions } from './time-zone.ts';

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

/** Builds the layout of a configuration (settings already validated). */
export function createLayout(settings: LayoutSettings): Layout {
  const segments = parsePathFormat(settings.pathFormat ?? defaultPathFormat(settings));
  const usesTime = segments.some((s) => s.kind === 'time');
  const usesField = segments.some((s) => s.kind === 'field');
  const finest = segments.reduce<number>((min, s) => (s.kind === 'time' ? Math.min(min, UNIT_MS[s.unit]) : min), UNIT_MS.dd);
  const duration = settings.partitionDurationMs ?? finest;
  const partitions = timePartitions(settings.timezone, duration);
  const timeField = settings.timestampExtractor === TimestampExtractor.recordField ? settings.timestampField!.split('.') : undefined;
  const partitionField = settings.partitionField;
  /** Rendered paths of record-independent templates, per topic-partition. */
  const constant = !usesTime && !usesField ? new Map<string, string>() : undefined;
  let lastTopic: string | undefined;
  let lastPartition = -1;
  let lastPath = '';

  const timeFieldName = timeField ? `value.${settings.timestampField}` : 'timestamp';
  const directories = templateDirectories(segments);

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
      return usesTime ? partitions.window(time) : undefined;
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
          constant.set(id, (path = renderPath(segments, record, undefined, undefined)));
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
        local = partitions.localStart(time);
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
      return { path: renderPath(segments, record, local, field), time };
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
