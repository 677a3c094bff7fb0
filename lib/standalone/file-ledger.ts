/**
 * A file-backed offset ledger for standalone mode (Kafka Connect's `offset.storage.file.filename`).
 *
 * Same contract as the DynamoDB ledger (`OffsetLedger`): `advance` writes only if the stored entry
 * is still in the expected generation with a committed offset below the new one (or, with no
 * expectation, only if there is no entry yet), and throws `LedgerConflictError` otherwise.
 *
 * Durability: every advance rewrites the whole file atomically: the new content goes to a
 * temporary file in the same directory, which is fsynced and then renamed over the ledger (and
 * the directory fsynced), so a crash at any point leaves either the old file or the new one,
 * never a half-written one. The in-memory state changes only after the rename succeeded.
 *
 * Exclusivity: one process per ledger file. `open` creates `<file>.lock` with O_EXCL holding the
 * owner's pid; a second process is refused with `LedgerLockedError`. A lock whose pid is no
 * longer alive (the owner was killed) is stale and taken over. An operator's reset
 * (`FileLedgerAdmin`, `msk-s3-sink reset --ledger-file`) takes the same lock while it writes, so
 * it never runs while a worker holds the file. Readers (`status`, `verify`, …) take no lock: they
 * read one whole version of the file, since writers only ever rename a complete file over it.
 *
 * Reset history: an entry may carry `resets`, the audit records of the operators' resets (oldest
 * first), and `prunes`, those of their prunes, as the DynamoDB item does. Only a reset or a prune
 * changes a history, and both hold the lock, so the histories a worker read at `open` stay the
 * file's histories for as long as it runs: it writes them back unchanged with every commit.
 *
 * Versions: 1 is entries without histories (all that workers wrote before resets existed); 2 adds
 * `resets`; 3 adds `prunes`. A file is written in the lowest version that holds its content; all
 * three are read. So an older worker keeps working on a ledger that has nothing it does not know,
 * and refuses one that has rather than drop a history on its next commit: `verify`, `locate` and
 * `prune` tell the generations apart by the reset history, and `history` shows both.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, constants as fsConstants } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigurationError, LedgerConflictError, SinkError } from '../errors.ts';
import type { AuditedLedgerEntry, LedgerPrune, LedgerReset } from '../ops/ledger-admin.ts';
import {
  declaredEntry,
  ledgerEntryFields,
  type LedgerEntry,
  type LedgerPosition,
  type NamingDeclaration,
  type OffsetLedger,
  SkipKind,
  type SkippedRange,
} from '../ports.ts';

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

/** Why a process takes a ledger file's lock: what to do when it is refused depends on it. */
export const LedgerLockPurpose = {
  /** A standalone worker, for as long as it runs. */
  worker: 'worker',
  /** An operator's reset, for the length of one write. */
  reset: 'reset',
  /** An operator's prune, for the length of the write of its audit record. */
  prune: 'prune',
} as const;
export type LedgerLockPurpose = (typeof LedgerLockPurpose)[keyof typeof LedgerLockPurpose];

/** Another live process holds the ledger file. */
export class LedgerLockedError extends SinkError {
  readonly path: string;
  readonly pid: number | undefined;
  constructor(
    path: string,
    pid: number | undefined,
    options: { readonly detail?: string; readonly purpose?: LedgerLockPurpose } = {},
  ) {
    const held = `The offset ledger file ${path} is in use by ${pid === undefined ? 'another process' : `process ${pid}`}${options.detail ? ` (${options.detail})` : ''}`;
    super(
      options.purpose === LedgerLockPurpose.prune
        ? `${held}: a standalone worker runs on it and would drop the prune's audit record with its next commit. Stop the ` +
            'worker first (SIGTERM), run the prune again, then start the worker'
        : options.purpose === LedgerLockPurpose.reset
        ? `${held}: a standalone worker runs on it, and a reset must not race its commits. Stop the worker first ` +
            '(SIGTERM: it delivers what it fetched, commits and exits), run the reset again, then start the worker: it resumes ' +
            "every partition at the ledger's committed offset + 1 (--force does not override this lock)"
        : `${held}: only one standalone worker may use a ledger file; stop the other worker, ` +
            'or give this one its own offset.storage.file.filename (several workers sharing partitions need the DynamoDB ledger)',
    );
    this.name = 'LedgerLockedError';
    this.path = path;
    this.pid = pid;
  }
}

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

export class FileOffsetLedger implements OffsetLedger {
  readonly path: string;
  /** Every entry with the history read at open, which no one else can change while we hold the lock. */
  readonly #entries: Map<string, AuditedLedgerEntry>;
  readonly #faults: FileLedgerFaults;
  readonly #release: () => void;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  #writes = 0;

  private constructor(path: string, entries: Map<string, AuditedLedgerEntry>, faults: FileLedgerFaults, release: () => void) {
    this.path = path;
    this.#entries = entries;
    this.#faults = faults;
    this.#release = release;
    process.once('exit', this.#release);
  }

  /** Locks the file for this process and loads it (an absent file is an empty ledger). */
  static open(path: string, options: { readonly faults?: FileLedgerFaults } = {}): FileOffsetLedger {
    const absolute = resolve(path);
    const release = lockLedgerFile(absolute, LedgerLockPurpose.worker);
    try {
      return new FileOffsetLedger(absolute, readLedgerFile(absolute) ?? new Map(), options.faults ?? {}, release);
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Entries of every partition, in no particular order (for status). */
  entries(): LedgerEntry[] {
    return [...this.#entries.values()].map(ledgerEntryFields);
  }

  /** Successful writes since open (for tests and logs). */
  get writes(): number {
    return this.#writes;
  }

  async read(topic: string, partition: number): Promise<LedgerEntry | undefined> {
    this.#checkOpen();
    // Wait for writes already queued, so a read after an advance sees it.
    await this.#queue;
    const entry = this.#entries.get(ledgerKey(topic, partition));
    return entry && ledgerEntryFields(entry);
  }

  advance(expected: LedgerPosition | undefined, next: LedgerEntry): Promise<void> {
    const run = this.#queue.then(() => this.#advanceNow(expected, next));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #advanceNow(expected: LedgerPosition | undefined, next: LedgerEntry): void {
    this.#checkOpen();
    const id = ledgerKey(next.topic, next.partition);
    const current = this.#entries.get(id);
    const ok = expected
      ? current !== undefined && current.generation === expected.generation && current.committedOffset < next.committedOffset
      : current === undefined;
    if (!ok) {
      throw new LedgerConflictError(
        `Ledger of ${next.topic}-${next.partition} moved: cannot advance to ${next.committedOffset} from ` +
          (expected ? `generation ${expected.generation} offset ${expected.committedOffset}` : 'no entry'),
      );
    }
    // A commit carries the partition's reset history through unchanged (see the module comment),
    // and, as DynamoDB's UpdateItem, the skipped ranges and naming it does not set.
    const entry: AuditedLedgerEntry = {
      ...(current?.skippedRanges ? { skippedRanges: current.skippedRanges } : {}),
      ...(current?.naming !== undefined ? { naming: current.naming } : {}),
      ...ledgerEntryFields(next),
      resets: current?.resets ?? [],
      ...(current?.prunes?.length ? { prunes: current.prunes } : {}),
    };
    const updated = new Map(this.#entries);
    updated.set(id, entry);
    writeLedgerFile(this.path, updated.values(), this.#faults);
    this.#entries.set(id, entry);
    this.#writes++;
  }

  declareNaming(expected: LedgerPosition | undefined, declaration: NamingDeclaration): Promise<void> {
    const run = this.#queue.then(() => this.#declareNamingNow(expected, declaration));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #declareNamingNow(expected: LedgerPosition | undefined, declaration: NamingDeclaration): void {
    this.#checkOpen();
    const { topic, partition } = declaration;
    const id = ledgerKey(topic, partition);
    const current = this.#entries.get(id);
    const ok = expected
      ? current !== undefined &&
        current.generation === expected.generation &&
        current.committedOffset === expected.committedOffset &&
        current.naming === declaration.previous
      : current === undefined;
    if (!ok) throw new LedgerConflictError(`Ledger of ${topic}-${partition} moved: cannot record its naming settings`);
    const entry: AuditedLedgerEntry = current
      ? { ...current, naming: declaration.naming }
      : { ...declaredEntry(declaration), resets: [] };
    const updated = new Map(this.#entries);
    updated.set(id, entry);
    writeLedgerFile(this.path, updated.values(), this.#faults);
    this.#entries.set(id, entry);
    this.#writes++;
  }

  /** Waits for queued writes and releases the lock; the ledger cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#queue;
    this.#closed = true;
    this.#release();
    process.removeListener('exit', this.#release);
  }

  #checkOpen(): void {
    if (this.#closed) throw new SinkError(`The file ledger ${this.path} is closed`);
  }
}

/**
 * Writes the whole ledger atomically: temp file, fsync, rename, fsync of the directory. Entries
 * are sorted; a history is written only where there is one, and the version is the lowest that
 * holds the content. The caller holds the file's lock.
 */
export function writeLedgerFile(path: string, entries: Iterable<AuditedLedgerEntry>, faults: FileLedgerFaults = {}): void {
  const stored = [...entries]
    .sort(compareLedgerEntries)
    .map(
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

const lockPathOf = (path: string): string => `${path}.lock`;

function readLockPid(lockPath: string): number | undefined {
  const text = readFileSync(lockPath, 'utf8').trim();
  const pid = Number(text.split(/\s+/)[0]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The pid of the live process that holds the ledger file's lock (this one included), or
 * undefined when none does (no lock, or a stale one). A snapshot: only taking the lock decides.
 */
export function ledgerLockHolder(path: string): number | undefined {
  let pid: number | undefined;
  try {
    pid = readLockPid(lockPathOf(resolve(path)));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return pid !== undefined && isAlive(pid) ? pid : undefined;
}

/**
 * Takes the ledger file's lock: creates `<file>.lock` with O_EXCL holding this pid, and takes
 * over a lock whose owner is dead. Throws `LedgerLockedError` while a live process holds it.
 * Returns the function that releases it, which removes the lock only while it is still ours.
 */
export function lockLedgerFile(path: string, purpose: LedgerLockPurpose): () => void {
  const ledgerPath = resolve(path);
  const lockPath = lockPathOf(ledgerPath);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockPath, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o644);
      try {
        writeSync(fd, `${process.pid}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return () => {
        try {
          if (readLockPid(lockPath) === process.pid) unlinkSync(lockPath);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        throw new LedgerFileError(`Cannot create the offset ledger file ${ledgerPath}: its directory does not exist`, { cause: error });
      }
      if (code !== 'EEXIST') throw error;
    }
    let pid: number | undefined;
    try {
      pid = readLockPid(lockPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile: try again
      throw error;
    }
    if (pid !== undefined && pid !== process.pid && isAlive(pid)) throw new LedgerLockedError(ledgerPath, pid, { purpose });
    if (pid === process.pid) throw new LedgerLockedError(ledgerPath, pid, { detail: 'this process opened it already', purpose });
    // Stale (dead owner or unreadable pid): remove it and try again. Two processes taking over
    // the same stale lock race on O_EXCL, so only one of them wins.
    try {
      unlinkSync(lockPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw new LedgerLockedError(ledgerPath, undefined, { detail: 'the lock file keeps reappearing', purpose });
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

/** The skipped ranges and naming of a stored entry (written by versions that record them). */
function storedExtras(e: Partial<StoredEntry>, malformed: (what: string) => Error): Pick<LedgerEntry, 'skippedRanges' | 'naming'> {
  if (e.naming !== undefined && typeof e.naming !== 'string') throw malformed('naming');
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
  return { ...(skippedRanges.length > 0 ? { skippedRanges } : {}), ...(e.naming !== undefined ? { naming: e.naming } : {}) };
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
