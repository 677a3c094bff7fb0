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
 * longer alive (the owner was killed) is stale and taken over.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, constants as fsConstants } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigurationError, LedgerConflictError, SinkError } from '../errors.ts';
import type { LedgerEntry, LedgerPosition, OffsetLedger } from '../ports.ts';

/** The ledger file's `format` field. */
export const FILE_LEDGER_FORMAT = 'msk-s3-sink-file-ledger';
export const FILE_LEDGER_VERSION = 1;

/** Another live process holds the ledger file. */
export class LedgerLockedError extends SinkError {
  readonly path: string;
  readonly pid: number | undefined;
  constructor(path: string, pid: number | undefined, detail = '') {
    super(
      `The offset ledger file ${path} is in use by ${pid === undefined ? 'another process' : `process ${pid}`}` +
        `${detail ? ` (${detail})` : ''}: only one standalone worker may use a ledger file; stop the other worker, ` +
        `or give this one its own offset.storage.file.filename (several workers sharing partitions need the DynamoDB ledger)`,
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

interface LedgerFile {
  readonly format: typeof FILE_LEDGER_FORMAT;
  readonly version: number;
  readonly entries: LedgerEntry[];
}

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export class FileOffsetLedger implements OffsetLedger {
  readonly path: string;
  readonly #lockPath: string;
  readonly #entries: Map<string, LedgerEntry>;
  readonly #faults: FileLedgerFaults;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  #writes = 0;
  readonly #releaseOnExit: () => void;

  private constructor(path: string, entries: Map<string, LedgerEntry>, faults: FileLedgerFaults) {
    this.path = path;
    this.#lockPath = `${path}.lock`;
    this.#entries = entries;
    this.#faults = faults;
    this.#releaseOnExit = () => this.#releaseLock();
    process.once('exit', this.#releaseOnExit);
  }

  /** Locks the file for this process and loads it (an absent file is an empty ledger). */
  static open(path: string, options: { readonly faults?: FileLedgerFaults } = {}): FileOffsetLedger {
    const absolute = resolve(path);
    acquireLock(`${absolute}.lock`, absolute);
    try {
      return new FileOffsetLedger(absolute, readLedgerFile(absolute), options.faults ?? {});
    } catch (error) {
      try {
        unlinkSync(`${absolute}.lock`);
      } catch {
        // already gone
      }
      throw error;
    }
  }

  /** Entries of every partition, in no particular order (for status). */
  entries(): LedgerEntry[] {
    return [...this.#entries.values()];
  }

  /** Successful writes since open (for tests and logs). */
  get writes(): number {
    return this.#writes;
  }

  async read(topic: string, partition: number): Promise<LedgerEntry | undefined> {
    this.#checkOpen();
    // Wait for writes already queued, so a read after an advance sees it.
    await this.#queue;
    return this.#entries.get(key(topic, partition));
  }

  advance(expected: LedgerPosition | undefined, next: LedgerEntry): Promise<void> {
    const run = this.#queue.then(() => this.#advanceNow(expected, next));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #advanceNow(expected: LedgerPosition | undefined, next: LedgerEntry): void {
    this.#checkOpen();
    const id = key(next.topic, next.partition);
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
    const entry: LedgerEntry = {
      topic: next.topic,
      partition: next.partition,
      generation: next.generation,
      committedOffset: next.committedOffset,
      lastObjectKey: next.lastObjectKey,
      lastRecordCount: next.lastRecordCount,
      updatedAt: next.updatedAt,
    };
    const updated = new Map(this.#entries);
    updated.set(id, entry);
    this.#persist(updated);
    this.#entries.set(id, entry);
    this.#writes++;
  }

  /** Writes the whole ledger atomically: temp file, fsync, rename, fsync of the directory. */
  #persist(entries: Map<string, LedgerEntry>): void {
    const sorted = [...entries.values()].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
    const content: LedgerFile = { format: FILE_LEDGER_FORMAT, version: FILE_LEDGER_VERSION, entries: sorted };
    const text = `${JSON.stringify(content, null, 1)}\n`;
    const temp = join(dirname(this.path), `.${basename(this.path)}.${process.pid}.tmp`);
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
      this.#faults.beforeRename?.(temp);
      renameSync(temp, this.path);
    } catch (error) {
      try {
        unlinkSync(temp);
      } catch {
        // nothing to clean
      }
      throw error;
    }
    fsyncDirectory(dirname(this.path));
  }

  /** Waits for queued writes and releases the lock; the ledger cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#queue;
    this.#closed = true;
    this.#releaseLock();
    process.removeListener('exit', this.#releaseOnExit);
  }

  #checkOpen(): void {
    if (this.#closed) throw new SinkError(`The file ledger ${this.path} is closed`);
  }

  #releaseLock(): void {
    try {
      // Only remove a lock that is still ours.
      if (readLockPid(this.#lockPath) === process.pid) unlinkSync(this.#lockPath);
    } catch {
      // already gone
    }
  }
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

/** Creates the lock file with O_EXCL; takes over a lock whose owner is dead. */
function acquireLock(lockPath: string, ledgerPath: string): void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockPath, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o644);
      try {
        writeSync(fd, `${process.pid}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return;
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
    if (pid !== undefined && pid !== process.pid && isAlive(pid)) throw new LedgerLockedError(ledgerPath, pid);
    if (pid === process.pid) throw new LedgerLockedError(ledgerPath, pid, 'this process opened it already');
    // Stale (dead owner or unreadable pid): remove it and try again. Two processes taking over
    // the same stale lock race on O_EXCL, so only one of them wins.
    try {
      unlinkSync(lockPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw new LedgerLockedError(ledgerPath, undefined, 'the lock file keeps reappearing');
}

function readLedgerFile(path: string): Map<string, LedgerEntry> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
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
  if (file.version !== FILE_LEDGER_VERSION) {
    throw new LedgerFileError(`The offset ledger file ${path} has version ${String(file.version)}; this worker reads version ${FILE_LEDGER_VERSION}`);
  }
  const entries = new Map<string, LedgerEntry>();
  file.entries.forEach((raw, index) => {
    const e = raw as Partial<LedgerEntry>;
    const valid =
      typeof e.topic === 'string' &&
      Number.isSafeInteger(e.partition) &&
      Number.isSafeInteger(e.generation) &&
      Number.isSafeInteger(e.committedOffset) &&
      (e.lastObjectKey === null || typeof e.lastObjectKey === 'string');
    if (!valid) throw new LedgerFileError(`The offset ledger file ${path}: entries[${index}] is malformed`);
    entries.set(key(e.topic!, e.partition!), {
      topic: e.topic!,
      partition: e.partition!,
      generation: e.generation!,
      committedOffset: e.committedOffset!,
      lastObjectKey: e.lastObjectKey ?? null,
      lastRecordCount: Number(e.lastRecordCount ?? 0),
      updatedAt: String(e.updatedAt ?? ''),
    });
  });
  return entries;
}
