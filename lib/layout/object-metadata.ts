import { CorruptObjectError } from '../core/errors.ts';

/** What every sink object's user metadata says about it (S3 `x-amz-meta-*`). */
export interface ObjectDescriptor {
  readonly topic: string;
  readonly partition: number;
  readonly generation: number;
  /**
   * The committed offset this object continues from (-1: the start of the partition, or the
   * reset point of its generation). It links the objects of a generation into a chain that
   * `verify` walks from the generation's start to the ledger's committed offset.
   */
  readonly afterOffset: number;
  /** First offset of the range the object covers (also in its key). */
  readonly firstOffset: number;
  /** Last offset of the range the object covers: the protocol continues after it. */
  readonly lastOffset: number;
  /** Records in the object (offsets of the range sent to dead letters are not counted). */
  readonly recordCount: number;
  /** Oldest and newest record timestamps (epoch ms); undefined when no record has one. */
  readonly minTimestamp: number | undefined;
  readonly maxTimestamp: number | undefined;
  readonly format: string;
  readonly formatVersion: string;
}

/** Metadata names, lower case as S3 returns them. */
export const MetadataName = {
  topic: 'topic',
  partition: 'partition',
  generation: 'generation',
  afterOffset: 'after-offset',
  firstOffset: 'first-offset',
  lastOffset: 'last-offset',
  recordCount: 'record-count',
  minTimestamp: 'min-timestamp',
  maxTimestamp: 'max-timestamp',
  format: 'format',
  formatVersion: 'format-version',
} as const;

/** The object's user metadata. */
export function toMetadata(descriptor: ObjectDescriptor): Record<string, string> {
  return {
    [MetadataName.topic]: descriptor.topic,
    [MetadataName.partition]: String(descriptor.partition),
    [MetadataName.generation]: String(descriptor.generation),
    [MetadataName.afterOffset]: String(descriptor.afterOffset),
    [MetadataName.firstOffset]: String(descriptor.firstOffset),
    [MetadataName.lastOffset]: String(descriptor.lastOffset),
    [MetadataName.recordCount]: String(descriptor.recordCount),
    ...(descriptor.minTimestamp === undefined ? {} : { [MetadataName.minTimestamp]: String(descriptor.minTimestamp) }),
    ...(descriptor.maxTimestamp === undefined ? {} : { [MetadataName.maxTimestamp]: String(descriptor.maxTimestamp) }),
    [MetadataName.format]: descriptor.format,
    [MetadataName.formatVersion]: descriptor.formatVersion,
  };
}

/** Reads an object's metadata back; throws `CorruptObjectError` when a field is missing or malformed. */
export function fromMetadata(key: string, metadata: Readonly<Record<string, string>>): ObjectDescriptor {
  const text = (name: string): string => {
    const value = metadata[name];
    if (value === undefined || value === '') throw new CorruptObjectError(key, `metadata "${name}" is missing`);
    return value;
  };
  const integer = (name: string, pattern = /^\d+$/): number => {
    const raw = text(name);
    const value = Number(raw);
    if (!pattern.test(raw) || !Number.isSafeInteger(value)) {
      throw new CorruptObjectError(key, `metadata "${name}" is not a valid offset or count: ${JSON.stringify(raw)}`);
    }
    return value;
  };
  const optional = (name: string): number | undefined => (metadata[name] === undefined ? undefined : integer(name, /^-?\d+$/));
  const descriptor: ObjectDescriptor = {
    topic: text(MetadataName.topic),
    partition: integer(MetadataName.partition),
    generation: integer(MetadataName.generation),
    afterOffset: integer(MetadataName.afterOffset, /^(-1|\d+)$/),
    firstOffset: integer(MetadataName.firstOffset),
    lastOffset: integer(MetadataName.lastOffset),
    recordCount: integer(MetadataName.recordCount),
    minTimestamp: optional(MetadataName.minTimestamp),
    maxTimestamp: optional(MetadataName.maxTimestamp),
    format: text(MetadataName.format),
    formatVersion: text(MetadataName.formatVersion),
  };
  if (descriptor.afterOffset >= descriptor.firstOffset) {
    throw new CorruptObjectError(key, `after offset ${descriptor.afterOffset} is not below first offset ${descriptor.firstOffset}`);
  }
  if (descriptor.lastOffset < descriptor.firstOffset) {
    throw new CorruptObjectError(key, `last offset ${descriptor.lastOffset} is below first offset ${descriptor.firstOffset}`);
  }
  return descriptor;
}
