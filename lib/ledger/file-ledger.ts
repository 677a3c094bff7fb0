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
 * Exclusivity: one process per ledger file. `open` creates `<file>.lock` (by hard link, so it
 * appears whole) naming its holder by host, boot id, pid and process start time; a second
 * process is refused with `LedgerLockedError`. A lock whose holder no longer runs (killed, its
 * pid recycled, the host rebooted) is stale and taken over, atomically (`takeLedgerLock`); a lock
 * of another host is never judged by its pid. An operator's reset
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
import { resolve } from 'node:path';
import { LedgerConflictError, SinkError } from '../core/errors.ts';
import type { AuditedLedgerEntry } from './admin.ts';
import {
  declaredEntry,
  ledgerEntryFields,
  type LedgerEntry,
  type LedgerPosition,
  type NamingDeclaration,
  type OffsetLedger,
} from '../core/ports.ts';
import { type FileLedgerFaults, ledgerKey, readLedgerFile, writeLedgerFile } from './file-ledger-format.ts';
import { LedgerLockPurpose, type StaleLedgerLock } from './file-ledger-lock-holder.ts';
import { lockLedgerFile } from './file-ledger-lock.ts';

// The file's format and the lock live in their own modules; their public names are this module's too.
export {
  compareLedgerEntries,
  FILE_LEDGER_FORMAT,
  type FileLedgerFaults,
  FileLedgerVersion,
  LedgerFileError,
  ledgerKey,
  readLedgerFile,
  writeLedgerFile,
} from './file-ledger-format.ts';
export {
  defaultLockEnvironment,
  type LedgerLockEnvironment,
  type LedgerLockHolder,
  LedgerLockPurpose,
  type StaleLedgerLock,
} from './file-ledger-lock-holder.ts';
export {
  assertLedgerUnlocked,
  LedgerLockedError,
  LedgerLockStep,
  type LedgerLockTaken,
  lockLedgerFile,
  takeLedgerLock,
} from './file-ledger-lock.ts';

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

  /**
   * Locks the file for this process and loads it (an absent file is an empty ledger);
   * `onStaleLock` hears of a stale lock taken over.
   */
  static open(
    path: string,
    options: { readonly faults?: FileLedgerFaults; readonly onStaleLock?: (stale: StaleLedgerLock) => void } = {},
  ): FileOffsetLedger {
    const absolute = resolve(path);
    const release = lockLedgerFile(absolute, LedgerLockPurpose.worker, options.onStaleLock ? { onTakeover: options.onStaleLock } : {});
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
    // and, as DynamoDB's UpdateItem, the skipped ranges, naming and topic id it does not set.
    const entry: AuditedLedgerEntry = {
      ...(current?.skippedRanges ? { skippedRanges: current.skippedRanges } : {}),
      ...(current?.naming !== undefined ? { naming: current.naming } : {}),
      ...(current?.topicId !== undefined ? { topicId: current.topicId } : {}),
      ...ledgerEntryFields(next),
      resets: current?.resets ?? [],
      ...(current?.prunes?.length ? { prunes: current.prunes } : {}),
    };
    this.#store(id, entry);
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
    const entry: AuditedLedgerEntry = current ? { ...current, naming: declaration.naming } : { ...declaredEntry(declaration), resets: [] };
    this.#store(id, entry);
  }

  /** Writes the whole file with `entry` in place, then (only once it is durable) keeps it in memory. */
  #store(id: string, entry: AuditedLedgerEntry): void {
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
