/**
 * The file ledger's file: its format and versions (see file-ledger.ts), the atomic write
 * (temporary file, fsync, rename, fsync of the directory) and the read of versions 1 to 3.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, constants as fsConstants } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConfigurationError } from '../core/errors.ts';
import type { AuditedLedgerEntry, LedgerPrune, LedgerReset } from './admin.ts';
import { ledgerEntryFields, type LedgerEntry, SkipKind, type SkippedRange } from '../core/ports.ts';

/** The ledger file's `format` field. */
export const FILE_LEDGER_FORMAT = 'msk-s3-sink-file-ledger';

/** The ledger file's `version`: the lowest one that holds its content (see the module comment). */
export const FileLedgerVersion = {
  /** Entries only: no entry has a reset history. */
  entries: 1,
  /** Entries with their reset histories (`resets`). */
  withResets: 2,
  /** Entries with prune histories (`prunes`) too. */
  withPrunes: 3,
} as const;
export type FileLedgerVersion = (typeof FileLedgerVersion)[keyof typeof FileLedgerVersion];

/** The ledger file exists but cannot be read as a ledger. */
export class LedgerFileError extends ConfigurationError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LedgerFileError';
  }
}

/** Test hooks: where to fail, to prove that a crash mid-write leaves a whole file. */
export interface FileLedgerFaults {
  /** Called after the temporary file is written and fsynced, before the rename. */
  beforeRename?(tempPath: string): void;
}

/** An entry as the file stores it: the history only when there is one. */
type StoredEntry = LedgerEntry & { readonly resets?: readonly LedgerReset[]; readonly prunes?: readonly LedgerPrune[] };

interface LedgerFile {
  readonly format: typeof FILE_LEDGER_FORMAT;
  readonly version: FileLedgerVersion;
  readonly entries: StoredEntry[];
}

/** The key of a topic-partition in the maps of entries. */
export function ledgerKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** Orders entries by topic, then partition: the file's order, and the order `list` answers in. */
export function compareLedgerEntries(a: LedgerEntry, b: LedgerEntry): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition;
}

/**
 * Writes the whole ledger atomically: temp file, fsync, rename, fsync of the directory. Entries
 * are sorted; a history is written only where there is one, and the version is the lowest that
 * holds the content. The caller holds the file's lock.
 */
export function writeLedgerFile(path: string, entries: Iterable<AuditedLedgerEntry>, faults: FileLedgerFaults = {}): void {
  const stored = [...entries].sort(compareLedgerEntries).map(
    (entry): StoredEntry => ({
      ...ledgerEntryFields(entry),
      ...(entry.resets.length > 0 ? { resets: entry.resets } : {}),
      ...(entry.prunes?.length ? { prunes: entry.prunes } : {}),
    }),
  );
  const content: LedgerFile = {
    format: FILE_LEDGER_FORMAT,
    version: stored.some((entry) => entry.prunes)
      ? FileLedgerVersion.withPrunes
      : stored.some((entry) => entry.resets)
        ? FileLedgerVersion.withResets
        : FileLedgerVersion.entries,
    entries: stored,
  };
  const text = `${JSON.stringify(content, null, 1)}\n`;
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(temp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC, 0o644);
  try {
    const bytes = Buffer.from(text, 'utf8');
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    faults.beforeRename?.(temp);
    renameSync(temp, path);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // nothing to clean
    }
    throw error;
  }
  fsyncDirectory(dirname(path));
}

function fsyncDirectory(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Reads a ledger file of version 1 or 2, without its lock (see the module comment), into its
 * entries with their histories (oldest first; empty where the file has none). Undefined when
 * there is no file; `LedgerFileError` when it is not a ledger this code reads.
 */
export function readLedgerFile(path: string): Map<string, AuditedLedgerEntry> | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LedgerFileError(`Cannot read the offset ledger file ${path}: ${(error as Error).message}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new LedgerFileError(`The offset ledger file ${path} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const file = parsed as Partial<LedgerFile> | null;
  if (typeof file !== 'object' || file === null || file.format !== FILE_LEDGER_FORMAT || !Array.isArray(file.entries)) {
    throw new LedgerFileError(`The file ${path} is not an msk-s3-sink offset ledger (format "${FILE_LEDGER_FORMAT}")`);
  }
  const versions: readonly number[] = Object.values(FileLedgerVersion);
  if (!versions.includes(file.version as number)) {
    throw new LedgerFileError(
      `The offset ledger file ${path} has version ${String(file.version)}; this version of msk-s3-sink reads versions ${versions.slice(0, -1).join(', ')} and ${versions.at(-1)} (upgrade it)`,
    );
  }
  const entries = new Map<string, AuditedLedgerEntry>();
  file.entries.forEach((raw, index) => {
    const e = raw as Partial<StoredEntry>;
    const valid =
      typeof e.topic === 'string' &&
      Number.isSafeInteger(e.partition) &&
      Number.isSafeInteger(e.generation) &&
      Number.isSafeInteger(e.committedOffset) &&
      (e.lastObjectKey === null || typeof e.lastObjectKey === 'string') &&
      (e.resets === undefined || Array.isArray(e.resets)) &&
      (e.prunes === undefined || Array.isArray(e.prunes));
    if (!valid) throw new LedgerFileError(`The offset ledger file ${path}: entries[${index}] is malformed`);
    const resets = (e.resets ?? []).map((reset, at) => {
      const parsedReset = parseReset(reset);
      if (!parsedReset) throw new LedgerFileError(`The offset ledger file ${path}: entries[${index}].resets[${at}] is malformed`);
      return parsedReset;
    });
    const prunes = (e.prunes ?? []).map((prune, at) => {
      const parsedPrune = parsePrune(prune);
      if (!parsedPrune) throw new LedgerFileError(`The offset ledger file ${path}: entries[${index}].prunes[${at}] is malformed`);
      return parsedPrune;
    });
    entries.set(ledgerKey(e.topic!, e.partition!), {
      topic: e.topic!,
      partition: e.partition!,
      generation: e.generation!,
      committedOffset: e.committedOffset!,
      lastObjectKey: e.lastObjectKey ?? null,
      lastRecordCount: Number(e.lastRecordCount ?? 0),
      updatedAt: String(e.updatedAt ?? ''),
      ...storedExtras(e, (what) => new LedgerFileError(`The offset ledger file ${path}: entries[${index}].${what} is malformed`)),
      resets,
      ...(prunes.length > 0 ? { prunes } : {}),
    });
  });
  return entries;
}

/** The skipped ranges, naming and topic id of a stored entry (written by versions that record them). */
function storedExtras(
  e: Partial<StoredEntry>,
  malformed: (what: string) => Error,
): Pick<LedgerEntry, 'skippedRanges' | 'naming' | 'topicId'> {
  if (e.naming !== undefined && typeof e.naming !== 'string') throw malformed('naming');
  if (e.topicId !== undefined && (typeof e.topicId !== 'string' || e.topicId === '')) throw malformed('topicId');
  if (e.skippedRanges !== undefined && !Array.isArray(e.skippedRanges)) throw malformed('skippedRanges');
  const skippedRanges = (e.skippedRanges ?? []).map((raw, at): SkippedRange => {
    const r = raw as Partial<Record<keyof SkippedRange, unknown>> | null;
    const ok =
      typeof r === 'object' &&
      r !== null &&
      (r.kind === SkipKind.gap || r.kind === SkipKind.start) &&
      [r.generation, r.fromOffset, r.toOffset].every((n) => Number.isSafeInteger(n)) &&
      typeof r.detectedAt === 'string';
    if (!ok) throw malformed(`skippedRanges[${at}]`);
    return r as SkippedRange;
  });
  return {
    ...(skippedRanges.length > 0 ? { skippedRanges } : {}),
    ...(e.naming !== undefined ? { naming: e.naming } : {}),
    ...(e.topicId !== undefined ? { topicId: e.topicId } : {}),
  };
}

function parsePrune(raw: unknown): LedgerPrune | undefined {
  const r = raw as Partial<Record<keyof LedgerPrune, unknown>> | null;
  if (typeof r !== 'object' || r === null) return undefined;
  const { id, at, by, reason, generations, fromOffset, toOffset, objects, bytes } = r;
  if (typeof id !== 'string' || typeof at !== 'string' || typeof by !== 'string' || typeof reason !== 'string') return undefined;
  if (!Array.isArray(generations) || !generations.every((g) => Number.isSafeInteger(g))) return undefined;
  if (![fromOffset, toOffset, objects, bytes].every((n) => Number.isSafeInteger(n))) return undefined;
  return {
    id,
    at,
    by,
    reason,
    generations: generations as number[],
    fromOffset: fromOffset as number,
    toOffset: toOffset as number,
    objects: objects as number,
    bytes: bytes as number,
  };
}

function parseReset(raw: unknown): LedgerReset | undefined {
  const r = raw as Partial<Record<keyof LedgerReset, unknown>> | null;
  if (typeof r !== 'object' || r === null) return undefined;
  const { id, at, by, reason, fromGeneration, fromOffset, toGeneration, toOffset } = r;
  if (typeof id !== 'string' || typeof at !== 'string' || typeof by !== 'string' || typeof reason !== 'string') return undefined;
  if (![fromGeneration, fromOffset, toGeneration, toOffset].every((n) => Number.isSafeInteger(n))) return undefined;
  return {
    id,
    at,
    by,
    reason,
    fromGeneration: fromGeneration as number,
    fromOffset: fromOffset as number,
    toGeneration: toGeneration as number,
    toOffset: toOffset as number,
  };
}
