/**
 * The operators' ledger port (`LedgerAdminPort`) over a standalone worker's ledger file, for
 * `msk-s3-sink <command> --ledger-file PATH`: status, verify, locate, prune, history and manifest
 * read it; reset starts a new generation in it, and prune appends its audit record to it.
 *
 * Reads take no lock: the worker replaces the file by renaming a complete one over it, so a read
 * sees one whole version. A reset takes the file's lock (the worker's, `lockLedgerFile`) for its
 * read-check-write, so it is refused with `LedgerLockedError` while a live worker holds the file:
 * the worker keeps its entries in memory and would overwrite the reset with its next commit (a
 * prune's audit record likewise takes the lock, and is refused the same way). That
 * lock is the guard a Lambda mapping's disabled state is for the DynamoDB ledger. For a
 * standalone worker a replay is: stop the worker, reset, start it again; it positions every
 * assigned partition at the ledger's committed offset + 1 (lib/standalone/worker.ts).
 */
import { resolve } from 'node:path';
import { LedgerConflictError } from '../core/errors.ts';
import { resetConflictError, type AuditedLedgerEntry, type LedgerAdminPort, type LedgerPrune, type LedgerReset } from './admin.ts';
import type { LedgerPosition } from '../core/ports.ts';
import {
  assertLedgerUnlocked,
  compareLedgerEntries,
  ledgerKey,
  LedgerFileError,
  LedgerLockPurpose,
  lockLedgerFile,
  readLedgerFile,
  writeLedgerFile,
} from './file-ledger.ts';

/**
 * What a reset makes of a partition's entry: generation `reset.toGeneration` at committed offset
 * `reset.toOffset`, no last object, no topic id (the new generation belongs to whatever topic has
 * the name now: the worker records its id with the first commit), the reset appended to the history. Pure; throws
 * `LedgerConflictError` unless `current` is still at `expected` (or, with no expectation, absent),
 * the condition `LedgerAdmin` gives DynamoDB.
 */
export function resetEntry(
  where: { readonly topic: string; readonly partition: number },
  current: AuditedLedgerEntry | undefined,
  expected: LedgerPosition | undefined,
  reset: LedgerReset,
): AuditedLedgerEntry {
  const unchanged = expected
    ? current !== undefined && current.generation === expected.generation && current.committedOffset === expected.committedOffset
    : current === undefined;
  if (!unchanged) {
    throw resetConflictError(where, expected, 'did a worker commit, or another reset land, since then?');
  }
  return {
    topic: where.topic,
    partition: where.partition,
    generation: reset.toGeneration,
    committedOffset: reset.toOffset,
    lastObjectKey: null,
    lastRecordCount: 0,
    updatedAt: reset.at,
    // The histories stay, as the DynamoDB item keeps them through a reset.
    ...(current?.skippedRanges?.length ? { skippedRanges: current.skippedRanges } : {}),
    resets: [...(current?.resets ?? []), reset],
    ...(current?.prunes?.length ? { prunes: current.prunes } : {}),
  };
}

/** The ledger port over a standalone worker's ledger file (`offset.storage.file.filename`). */
export class FileLedgerAdmin implements LedgerAdminPort {
  /** The ledger file, absolute. */
  readonly path: string;

  constructor(path: string) {
    this.path = resolve(path);
  }

  async list(filter: { readonly topic?: string } = {}): Promise<AuditedLedgerEntry[]> {
    return [...this.#read().values()]
      .filter((entry) => filter.topic === undefined || entry.topic === filter.topic)
      .sort(compareLedgerEntries);
  }

  async get(topic: string, partition: number): Promise<AuditedLedgerEntry | undefined> {
    return this.#read().get(ledgerKey(topic, partition));
  }

  /**
   * Throws the `LedgerLockedError` a reset would meet now, while a live process (a worker) holds
   * the file: for refusing before anything is planned or printed. Only the lock a reset takes
   * decides; this is a snapshot.
   */
  assertUnlocked(): void {
    assertLedgerUnlocked(this.path, LedgerLockPurpose.reset);
  }

  /** See `LedgerAdminPort.reset`: under the file's lock, the file read again, checked, rewritten atomically. */
  async reset(topic: string, partition: number, expected: LedgerPosition | undefined, reset: LedgerReset): Promise<void> {
    // Everything between taking and releasing the lock is synchronous: no other code of this
    // process runs meanwhile, and a crash leaves a lock with a dead pid, which is taken over.
    const release = lockLedgerFile(this.path, LedgerLockPurpose.reset);
    try {
      const entries = this.#read();
      const id = ledgerKey(topic, partition);
      entries.set(id, resetEntry({ topic, partition }, entries.get(id), expected, reset));
      writeLedgerFile(this.path, entries.values());
    } finally {
      release();
    }
  }

  /**
   * See `LedgerAdminPort.recordPrune`: under the file's lock (`LedgerLockedError` while a worker
   * holds it: it would drop the record with its next commit), the file read again, rewritten
   * atomically with the record appended.
   */
  async recordPrune(topic: string, partition: number, prune: LedgerPrune): Promise<void> {
    const release = lockLedgerFile(this.path, LedgerLockPurpose.prune);
    try {
      const entries = this.#read();
      const id = ledgerKey(topic, partition);
      const current = entries.get(id);
      if (!current)
        throw new LedgerConflictError(`Ledger of ${topic}-${partition} has no entry in ${this.path}: there is nothing of it to prune`);
      entries.set(id, { ...current, prunes: [...(current.prunes ?? []), prune] });
      writeLedgerFile(this.path, entries.values());
    } finally {
      release();
    }
  }

  /** The file's entries; a missing file is an error here (a wrong path must not read as an empty ledger). */
  #read(): Map<string, AuditedLedgerEntry> {
    const entries = readLedgerFile(this.path);
    if (!entries) {
      throw new LedgerFileError(
        `There is no offset ledger file ${this.path}: give the worker's offset.storage.file.filename ` +
          "(a relative path there is relative to the worker's properties file; here, to the current directory). " +
          'A worker creates the file with its first commit',
      );
    }
    return entries;
  }
}
