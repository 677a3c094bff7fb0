/**
 * Adoption (docs/protocol.md, steps P′ and N): an object found already created under a chain key
 * is taken as this writer's own (its records are the same Kafka records) only when its metadata
 * places it exactly where the key and the ledger say.
 */
import { CorruptObjectError } from '../core/errors.ts';
import type { KafkaRecord } from '../core/model.ts';
import type { StoredObjectHead } from '../core/ports.ts';
import { createLayout, DEFAULT_LAYOUT, type Layout, type LayoutSettings, pathRoom, UNPARTITIONED_PATH } from '../layout/layout.ts';
import { type NamingSettings, objectKey, parseNamingFingerprint } from '../layout/naming.ts';
import { fromMetadata, type ObjectDescriptor } from '../layout/object-metadata.ts';
import { defaultLayout, pathOf } from './encode-chunk.ts';
import type { DeliveryOptions } from './options.ts';

/** The settings this writer's keys depend on besides the records. */
export function namingOf(options: DeliveryOptions): NamingSettings {
  return {
    prefix: options.prefix,
    format: options.format.name,
    formatVersion: options.format.version,
    extension: `${options.format.extension}${options.compression.extension}`,
    layout: { ...(options.layout ?? defaultLayout).settings },
  };
}

/** The topic-partition and the ledger generation a writer writes in. */
export interface ChainPartition {
  readonly topic: string;
  readonly partition: number;
  readonly generation: number;
}

/** Where a chain object must sit to be adopted. */
export interface ChainPlace extends ChainPartition {
  /** The offset its key names. */
  readonly firstOffset: number;
  /** The committed offset the writer read: the object must continue from it. */
  readonly afterOffset: number;
}

/**
 * Checks an object found under a chain key (412) before adopting it. Invariant: a chain object
 * starts at its key's offset, continues from the committed offset this writer read (every writer
 * aiming at the key read the same one), holds no more records than its offsets can, and is in a
 * format and version this sink writes. Anything else was not written by the protocol (a planted
 * or damaged object): adopting it could commit offsets nobody delivered, so the partition stops
 * (`CorruptObjectError`).
 */
export function checkAdoptable(
  key: string,
  head: StoredObjectHead,
  place: ChainPlace,
  naming: NamingSettings,
  layout: Layout,
): ObjectDescriptor {
  const { topic, partition, generation, firstOffset, afterOffset } = place;
  // The error travels to logs and to Lambda: its key shows field-partitioned directories as `*`.
  const corrupt = (reason: string, cause?: unknown) =>
    new CorruptObjectError(layout.redactKey(key, naming.prefix), reason, cause === undefined ? undefined : { cause });
  let existing: ObjectDescriptor;
  try {
    existing = fromMetadata(key, head.metadata);
  } catch (error) {
    if (error instanceof CorruptObjectError) throw corrupt(error.reason);
    throw error;
  }
  const problem =
    existing.topic !== topic || existing.partition !== partition
      ? `its metadata names ${existing.topic}-${existing.partition}`
      : existing.generation !== generation || existing.firstOffset !== firstOffset
        ? `its metadata says generation ${existing.generation} from offset ${existing.firstOffset}, its key says ` +
          `generation ${generation} from offset ${firstOffset}`
        : existing.afterOffset !== afterOffset
          ? `it continues from offset ${existing.afterOffset}, but the ledger is at ${afterOffset}`
          : existing.recordCount > existing.lastOffset - existing.firstOffset + 1
            ? `${existing.recordCount} records cannot fit in offsets ${existing.firstOffset}..${existing.lastOffset}`
            : existing.format !== naming.format
              ? `its format is ${JSON.stringify(existing.format)}, not ${naming.format}`
              : existing.formatVersion !== naming.formatVersion
                ? `its format version ${JSON.stringify(existing.formatVersion)} is unknown (this sink writes ${naming.formatVersion})`
                : undefined;
  if (problem !== undefined) throw corrupt(problem);
  return existing;
}

/** A chain key under naming settings a ledger entry recorded, with those settings. */
export interface RecordedChainKey {
  readonly key: string;
  readonly naming: NamingSettings;
  readonly layout: Layout;
}

/**
 * The key the next chain object, whose first record is `first`, has under the naming settings the
 * ledger recorded (`fingerprint`), as a writer with those settings named it. Undefined when the
 * recorded settings are unknown to this sink (a fingerprint or a layout it cannot read).
 */
export function recordedChainKey(fingerprint: string, at: ChainPartition, first: KafkaRecord): RecordedChainKey | undefined {
  const recorded = parseNamingFingerprint(fingerprint);
  if (recorded === undefined) return undefined;
  let layout: Layout;
  try {
    layout = createLayout({ ...DEFAULT_LAYOUT, ...(recorded.layout as Partial<LayoutSettings>) });
  } catch {
    return undefined;
  }
  const parts = {
    prefix: recorded.prefix,
    topic: at.topic,
    partition: at.partition,
    generation: at.generation,
    firstOffset: first.offset,
    extension: recorded.extension,
  };
  // As encodeChunk names it: a path that would make the key too long for S3 goes under _unpartitioned.
  let path = pathOf(layout, first);
  if (Buffer.byteLength(path) > pathRoom(parts)) path = UNPARTITIONED_PATH;
  return { key: objectKey({ ...parts, path }), naming: recorded, layout };
}
