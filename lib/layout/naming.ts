/**
 * Object keys. Every key is a pure function of the records it names (topic, partition, the first
 * offset of the range the object covers, the ledger generation), never of the wall clock, so
 * that every writer that reads the same ledger position aims at the same key and S3's
 * `If-None-Match: *` lets exactly one of them create it.
 *
 *   {prefix}{topic}/{path}/{topic}+{p}+{offset, 20 digits}{+g<generation> when > 0}{ext}
 *
 * `{path}` is `partition={p}` by default; a partitioner (lib/layout/layout.ts) may give another, always a
 * function of the object's first record. Only those directories vary: every key starts with
 * `{prefix}{topic}/` and ends with the file name, which `parseObjectName` reads back.
 *
 * The layout follows Confluent's S3 sink (`topic+partition+startOffset`); offsets are padded to
 * 20 digits (any int64) so that keys sort in offset order. Generation 0 carries no suffix.
 */

/** The parts of an object key. */
export interface ObjectKeyParts {
  readonly prefix: string;
  readonly topic: string;
  readonly partition: number;
  readonly generation: number;
  readonly firstOffset: number;
  /** Including compression, e.g. `.jsonl.gz`. */
  readonly extension: string;
  /** The directories between `{prefix}{topic}/` and the file name; default `partition={p}`. */
  readonly path?: string;
}

const OFFSET_DIGITS = 20;

/** Zero-pads an offset so that lexicographic order is offset order. */
export function padOffset(offset: number): string {
  return String(offset).padStart(OFFSET_DIGITS, '0');
}

/** The key of a data object (under the sink prefix) or a dead letter (under its own prefix). */
export function objectKey(parts: ObjectKeyParts): string {
  const generation = parts.generation > 0 ? `+g${parts.generation}` : '';
  return (
    `${parts.prefix}${parts.topic}/${parts.path ?? `partition=${parts.partition}`}/` +
    `${parts.topic}+${parts.partition}+${padOffset(parts.firstOffset)}${generation}${parts.extension}`
  );
}

/** The name pattern `objectKey` produces; groups: topic, partition, offset, generation, extension. */
export const OBJECT_NAME_PATTERN = /^([a-zA-Z0-9._-]+)\+(\d+)\+(\d{20})(?:\+g(\d+))?(\..+)$/;

/** The directory every object of a topic lies under, whatever the layout. */
export function topicPrefix(prefix: string, topic: string): string {
  return `${prefix}${topic}/`;
}

/** Parses the file-name part of a key built by `objectKey`, or undefined if it is not one. */
export function parseObjectName(
  name: string,
): { topic: string; partition: number; firstOffset: number; generation: number; extension: string } | undefined {
  const match = OBJECT_NAME_PATTERN.exec(name);
  if (!match) return undefined;
  const [, topic, partition, offset, generation, extension] = match;
  return {
    topic: topic!,
    partition: Number(partition),
    firstOffset: Number(offset),
    generation: generation === undefined ? 0 : Number(generation),
    extension: extension!,
  };
}

/**
 * The settings an object's key depends on besides its records: prefix, format and compression
 * (the extension), and the layout. The ledger records them (`LedgerEntry.naming`) before a writer
 * creates objects under them, so that a retry under other settings finds an object a crashed
 * writer left under the old ones instead of writing the same records again (docs/protocol.md,
 * "Settings that change").
 */
export interface NamingSettings {
  readonly prefix: string;
  /** The format's name and version, as the object metadata carries them. */
  readonly format: string;
  readonly formatVersion: string;
  /** Including compression, e.g. `.jsonl.gz`. */
  readonly extension: string;
  /** The layout's settings (lib/layout/layout.ts `LayoutSettings`), as plain JSON. */
  readonly layout: Readonly<Record<string, unknown>>;
}

/** The canonical text of naming settings: equal settings give equal text. */
export function namingFingerprint(settings: NamingSettings): string {
  const layout = Object.fromEntries(
    Object.entries(settings.layout)
      .filter(([, value]) => value !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  return JSON.stringify({
    prefix: settings.prefix,
    format: settings.format,
    formatVersion: settings.formatVersion,
    extension: settings.extension,
    layout,
  });
}

/** Reads a fingerprint back; undefined when the text is not one (then the old settings are unknown). */
export function parseNamingFingerprint(text: string): NamingSettings | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { prefix, format, formatVersion, extension, layout } = parsed as Record<string, unknown>;
    if (typeof prefix !== 'string' || typeof format !== 'string' || typeof formatVersion !== 'string' || typeof extension !== 'string') {
      return undefined;
    }
    if (typeof layout !== 'object' || layout === null || Array.isArray(layout)) return undefined;
    return { prefix, format, formatVersion, extension, layout: layout as Record<string, unknown> };
  } catch {
    return undefined;
  }
}
