import type { SinkConfig, SinkSettings } from '../config/config.ts';
import { batchResponse, deliverBatch, type BatchReport, type KafkaBatchItemFailures } from '../delivery/deliver-batch.ts';
import type { DeliveryOptions, DeliveryPorts } from '../delivery/options.ts';
import { CorruptObjectError, MalformedEventError } from '../core/errors.ts';
import { parseKafkaEvent } from './event.ts';
import { compressionFor } from '../format/compression.ts';
import { createJsonLinesFormat } from '../format/json-lines.ts';
import { createParquetFormat } from '../format/parquet.ts';
import { createRawBytesFormat } from '../format/raw-bytes.ts';
import { CompressionName, type RecordFormat } from '../format/record-format.ts';
import { createLayout } from '../layout/layout.ts';
import { partitionId } from '../core/model.ts';
import { SkipKind, skippedCount } from '../core/ports.ts';

/** The subset of Powertools' Logger the sink uses; structured fields only, never record values. */
export interface SinkLogger {
  info(message: string, ...extra: Array<Record<string, unknown>>): void;
  warn(message: string, ...extra: Array<Record<string, unknown>>): void;
  error(message: string, ...extra: Array<Record<string, unknown>>): void;
}

/** The subset of Powertools' Metrics the sink uses. */
export interface SinkMetrics {
  addMetric(name: string, unit: MetricUnitName, value: number): void;
}
type MetricUnitName = 'Count' | 'Bytes' | 'Milliseconds';

/** The CloudWatch namespace of the sink's EMF metrics. */
export const METRICS_NAMESPACE = 'MskS3Sink';
/** The Powertools service name: the `service` dimension of every metric and a field of every log line. */
export const SERVICE_NAME = 'msk-s3-sink';

/** Metric names (CloudWatch, EMF). Part of the dashboard's and alarms' interface. */
export const SinkMetric = {
  recordsDelivered: 'RecordsDelivered',
  bytesDelivered: 'BytesDelivered',
  objectsWritten: 'ObjectsWritten',
  duplicatesSkipped: 'DuplicatesSkipped',
  objectsAdopted: 'ObjectsAdopted',
  deadLetters: 'DeadLetters',
  partitionsFailed: 'PartitionsFailed',
  malformedEvents: 'MalformedEvents',
  /** Offsets between the committed offset + 1 and a batch's first record (kind `gap`): see `SkippedRange`. */
  skippedOffsets: 'SkippedOffsets',
  /** Objects found under a chain key (412) whose metadata is impossible; the partition stops. */
  invalidObjects: 'InvalidObjects',
  endToEndLag: 'EndToEndLag',
} as const;

function formatOf(config: SinkSettings): RecordFormat {
  switch (config.format) {
    case 'raw':
      return createRawBytesFormat({ separator: config.rawSeparator ?? new Uint8Array([0x0a]) });
    case 'parquet':
      return createParquetFormat({ codec: config.compression, schema: config.parquetSchema });
    default:
      return createJsonLinesFormat({ valueConverter: config.valueConverter });
  }
}

/** The delivery options a configuration stands for. */
export function deliveryOptions(config: SinkSettings): DeliveryOptions {
  return {
    prefix: config.prefix,
    deadLetterPrefix: config.deadLetterPrefix,
    errorsTolerance: config.errorsTolerance,
    format: formatOf(config),
    // Parquet compresses its pages itself (its codec); the file is never compressed again.
    compression: compressionFor(config.format === 'parquet' || config.compression === 'snappy' ? CompressionName.none : config.compression),
    maxConcurrency: config.maxConcurrency,
    ...(config.layout ? { layout: createLayout(config.layout) } : {}),
    ...(config.rotation ? { rotation: config.rotation } : {}),
  };
}

/** A configured sink: what the Lambda handler calls for each event. */
export interface Sink {
  /**
   * Parses and delivers one Lambda Kafka event. Resolves when every record is durably delivered
   * and committed; otherwise throws (or, with partial batch responses, returns the failures).
   * A malformed event throws `MalformedEventError` before anything is written.
   */
  handle(event: unknown): Promise<KafkaBatchItemFailures>;
}

/** Builds a sink from its configuration, its ports and its observability. */
export function createSink(deps: {
  readonly config: SinkConfig;
  readonly ports: DeliveryPorts;
  readonly logger: SinkLogger;
  readonly metrics: SinkMetrics;
}): Sink {
  const options = deliveryOptions(deps.config);
  // Object keys as logged: field-partitioned directories hold record values (issue 14, item 6).
  const layout = options.layout;
  const redactKey = layout ? (key: string) => layout.redactKey(key, deps.config.prefix) : (key: string) => key;
  return {
    async handle(event: unknown) {
      let batch;
      try {
        batch = parseKafkaEvent(event);
      } catch (error) {
        if (error instanceof MalformedEventError) {
          // Counted so that an alarm sees it: the mapping will deliver this event again and again.
          deps.metrics.addMetric(SinkMetric.malformedEvents, 'Count', 1);
          deps.logger.error('Malformed event rejected: nothing written or committed', { issues: error.issues });
        }
        throw error;
      }
      const report = await deliverBatch(batch, options, deps.ports);
      observe(report, { ...deps, redactKey });
      return batchResponse(report, deps.config.reportBatchItemFailures);
    },
  };
}

/** An error's message for the log, with the object key it names (if any) redacted. */
function redactMessage(error: Error | undefined, redactKey: (key: string) => string): string | undefined {
  const key = (error as { key?: unknown } | undefined)?.key;
  return typeof key === 'string' ? error!.message.replaceAll(key, redactKey(key)) : error?.message;
}

function observe(
  report: BatchReport,
  deps: {
    readonly logger: SinkLogger;
    readonly metrics: SinkMetrics;
    readonly ports: DeliveryPorts;
    /** A key fit for the log: without the directories a record value went into. */
    readonly redactKey: (key: string) => string;
  },
): void {
  const { logger, metrics } = deps;
  const now = deps.ports.clock.now();
  let records = 0;
  let bytes = 0;
  let objects = 0;
  let skipped = 0;
  let adopted = 0;
  let deadLetters = 0;
  const skippedRanges: number[] = [];
  let invalidObjects = 0;
  let oldest: number | undefined;
  for (const partition of report.partitions) {
    records += partition.recordsWritten;
    bytes += partition.bytesWritten;
    objects += partition.objectsWritten.length;
    skipped += partition.skippedDuplicates;
    adopted += partition.objectsAdopted.length;
    deadLetters += partition.deadLetters;
    if (partition.oldestTimestamp !== undefined && (oldest === undefined || partition.oldestTimestamp < oldest)) {
      oldest = partition.oldestTimestamp;
    }
    const fields = {
      partition: partitionId(partition.topic, partition.partition),
      generation: partition.generation,
      received: partition.received,
      committedOffset: partition.committedOffset,
      skippedDuplicates: partition.skippedDuplicates,
      recordsWritten: partition.recordsWritten,
      // Keys with field-partitioned directories shown as `country=*` (Layout.redactKey).
      objectsWritten: partition.objectsWritten.map(deps.redactKey),
      objectsAdopted: partition.objectsAdopted.map(deps.redactKey),
      deadLetters: partition.deadLetters,
    };
    const range = partition.skippedRange;
    if (range !== undefined) {
      // A gap is what the source never handed over (a discarded batch, retention); where a
      // partition starts is the mapping's starting position: recorded, not counted.
      const count = skippedCount(range);
      if (range.kind === SkipKind.gap) skippedRanges.push(count);
      const log = range.kind === SkipKind.gap ? logger.warn.bind(logger) : logger.info.bind(logger);
      log(
        range.kind === SkipKind.gap
          ? 'Offsets skipped: the batch started above the committed offset + 1'
          : 'Partition started above offset 0',
        {
          partition: fields.partition,
          generation: range.generation,
          kind: range.kind,
          fromOffset: range.fromOffset,
          toOffset: range.toOffset,
          skippedOffsets: count,
        },
      );
    }
    if (partition.error instanceof CorruptObjectError) invalidObjects += 1;
    if (partition.status === 'failed') {
      logger.error('Partition not delivered', {
        ...fields,
        firstUndeliveredOffset: partition.firstUndeliveredOffset,
        error: { name: partition.error?.name, message: redactMessage(partition.error, deps.redactKey) },
      });
    } else {
      logger.info('Partition delivered', fields);
    }
  }
  metrics.addMetric(SinkMetric.recordsDelivered, 'Count', records);
  metrics.addMetric(SinkMetric.bytesDelivered, 'Bytes', bytes);
  metrics.addMetric(SinkMetric.objectsWritten, 'Count', objects);
  metrics.addMetric(SinkMetric.duplicatesSkipped, 'Count', skipped);
  metrics.addMetric(SinkMetric.objectsAdopted, 'Count', adopted);
  metrics.addMetric(SinkMetric.deadLetters, 'Count', deadLetters);
  metrics.addMetric(SinkMetric.partitionsFailed, 'Count', report.failed.length);
  // One value per range (EMF keeps them all), so that the alarm's Maximum is the largest single
  // range: a transactional topic's commit markers (one offset each) across partitions never add
  // up to a false alarm. 0 when none, so the dashboard shows the metric.
  for (const count of skippedRanges.length > 0 ? skippedRanges : [0]) metrics.addMetric(SinkMetric.skippedOffsets, 'Count', count);
  metrics.addMetric(SinkMetric.invalidObjects, 'Count', invalidObjects);
  if (oldest !== undefined) metrics.addMetric(SinkMetric.endToEndLag, 'Milliseconds', Math.max(0, now - oldest));
}
