import type { Compression, RecordFormat } from '../format/record-format.ts';
import type { Layout, RotationSettings } from '../layout/layout.ts';
import type { Clock, ObjectStore, OffsetLedger } from '../core/ports.ts';

/** Kafka Connect's `errors.tolerance`: what a poison record does. */
export const ErrorsTolerance = {
  /** Stop the partition just before the poison record and fail the invocation. */
  none: 'none',
  /** Write the record whole, with its error, to the dead-letter prefix and go on. */
  all: 'all',
} as const;
export type ErrorsTolerance = (typeof ErrorsTolerance)[keyof typeof ErrorsTolerance];

/** How the core writes: the layout and the error policy. */
export interface DeliveryOptions {
  /** Prefix of data objects, e.g. `topics/` (ends in `/` or is empty). */
  readonly prefix: string;
  /** Prefix of dead letters, outside `prefix`. */
  readonly deadLetterPrefix: string;
  readonly errorsTolerance: ErrorsTolerance;
  readonly format: RecordFormat;
  readonly compression: Compression;
  /** How many partitions of one batch are delivered at once. */
  readonly maxConcurrency: number;
  /** Where objects go (partitioner and path template); default `partition={p}`. */
  readonly layout?: Layout;
  /** When objects are cut inside a batch; default: one object per partition per batch. */
  readonly rotation?: RotationSettings;
}

/** The ports the core talks through. */
export interface DeliveryPorts {
  readonly ledger: OffsetLedger;
  readonly store: ObjectStore;
  readonly clock: Clock;
}
