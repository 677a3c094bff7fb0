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
import { createHash, randomUUID } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
  constants as fsConstants,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigurationError, LedgerConflictError, SinkError } from '../core/errors.ts';
import type { AuditedLedgerEntry, LedgerPrune, LedgerReset } from './admin.ts';
import {
  declaredEntry,
  ledgerEntryFields,
  type LedgerEntry,
  type LedgerPosition,
  type NamingDeclaration,
  type OffsetLedger,
  SkipKind,
  type SkippedRange,
} from '../core/ports.ts';

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
  /** The holder's host when it is another host than this one (its pid means nothing here). */
  readonly host: string | undefined;
  constructor(
    path: string,
    pid: number | undefined,
    options: { readonly detail?: string; readonly purpose?: LedgerLockPurpose; readonly host?: string | undefined } = {},
  ) {
    const who = pid === undefined ? 'another process' : `process ${pid}${options.host === undefined ? '' : ` on host ${options.host}`}`;
    const held = `The offset ledger file ${path} is in use by ${who}${options.detail ? ` (${options.detail})` : ''}`;
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
    this.host = options.host;
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

const lockPathOf = (path: string): string => `${path}.lock`;

/** The second line of a lock file: its `format`. */
const LOCK_FORMAT = 'msk-s3-sink-ledger-lock';

/**
 * Who holds (or held) a ledger file's lock: enough to tell, from this host, whether it still
 * runs. Everything but `pid` is absent in an old-format lock (a pid only).
 */
export interface LedgerLockHolder {
  readonly pid: number;
  /** `os.hostname()` of the holder. */
  readonly host?: string;
  /** The holder's boot (`/proc/sys/kernel/random/boot_id`); absent where the OS has none. */
  readonly bootId?: string;
  /** The holder's start, in clock ticks after boot (`/proc/<pid>/stat` field 22); absent off Linux. */
  readonly startTime?: string;
  readonly purpose?: LedgerLockPurpose;
  /** Unique per lock taken: tells one lock file from the next one of the same process. */
  readonly token?: string;
  /** When the lock was taken (ISO-8601), for the operator. */
  readonly at?: string;
}

/**
 * What a process knows of itself and can learn of others, for judging a lock's holder. The
 * default is the real process (`defaultLockEnvironment`); tests give two takers their own.
 */
export interface LedgerLockEnvironment {
  readonly self: { readonly pid: number; readonly host: string; readonly bootId?: string; readonly startTime?: string };
  /** Whether a process with this pid runs on this host (any process: pids are recycled). */
  isRunning(pid: number): boolean;
  /** The start time (as `LedgerLockHolder.startTime`) of the process with this pid, if it can be read. */
  startTimeOf(pid: number): string | undefined;
  /** The tokens of the locks this process holds. */
  readonly held: Set<string>;
}

/** A stale lock this process removed before taking the lock: who held it, and why it was judged stale. */
export interface StaleLedgerLock {
  readonly lockPath: string;
  readonly holder: LedgerLockHolder | undefined;
  readonly reason: string;
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** `/proc/<pid>/stat` field 22 (start time in clock ticks after boot); undefined where there is no /proc. */
function procStartTime(pid: number): string | undefined {
  const stat = readOptional(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // Field 2 is the command in parentheses and may itself hold spaces and parentheses: count
  // from the last ')'. What follows starts at field 3, so field 22 is the 20th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const value = fields[19];
  return value !== undefined && /^\d+$/.test(value) ? value : undefined;
}

// Process-wide, so that two copies of this module in one process still know each other's locks.
const heldTokens: Set<string> = ((globalThis as Record<symbol, unknown>)[Symbol.for('msk-s3-sink.ledger-locks')] ??=
  new Set<string>()) as Set<string>;

/** This process, on this host: `/proc` on Linux; elsewhere no boot id or start time (pids only). */
export function defaultLockEnvironment(): LedgerLockEnvironment {
  return {
    self: {
      pid: process.pid,
      host: hostname(),
      ...optional('bootId', readOptional('/proc/sys/kernel/random/boot_id')),
      ...optional('startTime', procStartTime(process.pid)),
    },
    isRunning,
    startTimeOf: procStartTime,
    held: heldTokens,
  };
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined || value === '' ? {} : { [key]: value }) as { [P in K]?: string };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The lock file's text. The first line is the pid alone, as the old format was, so that an older
 * version of this code (an operator's CLI during an upgrade) still reads the pid and respects a
 * live holder; the second line names the holder fully.
 */
function lockText(env: LedgerLockEnvironment, purpose: LedgerLockPurpose, token: string): string {
  const holder = { format: LOCK_FORMAT, version: 1, ...env.self, purpose, token, at: new Date().toISOString() };
  return `${env.self.pid}\n${JSON.stringify(holder)}\n`;
}

function parseLockText(text: string): LedgerLockHolder | undefined {
  const [first = '', second] = text.trim().split('\n');
  const pid = Number(first.trim().split(/\s+/)[0]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  if (second !== undefined) {
    try {
      const parsed = JSON.parse(second) as Record<string, unknown> & { format?: unknown };
      if (parsed.format === LOCK_FORMAT && parsed['pid'] === pid && typeof parsed['host'] === 'string') {
        const text = (key: string): string | undefined => (typeof parsed[key] === 'string' ? (parsed[key] as string) : undefined);
        return {
          pid,
          host: parsed['host'] as string,
          ...optional('bootId', text('bootId')),
          ...optional('startTime', text('startTime')),
          ...(text('purpose') ? { purpose: text('purpose') as LedgerLockPurpose } : {}),
          ...optional('token', text('token')),
          ...optional('at', text('at')),
        };
      }
    } catch {
      // not ours: read as the old format (the pid only)
    }
  }
  return { pid };
}

/** One lock file as read: its holder, and a key naming this very file (inode and content). */
interface LockSnapshot {
  readonly holder: LedgerLockHolder | undefined;
  readonly key: string;
}

function readLock(path: string): LockSnapshot | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    // Inode and content of one file (the fd's): lock files are never changed in place.
    const stat = fstatSync(fd);
    const text = readFileSync(fd, 'utf8');
    const key = createHash('sha256').update(`${stat.dev}:${stat.ino}:${text}`).digest('hex').slice(0, 16);
    return { holder: parseLockText(text), key };
  } finally {
    closeSync(fd);
  }
}

type Verdict = { readonly kind: 'live' | 'self' } | { readonly kind: 'foreign' } | { readonly kind: 'stale'; readonly reason: string };

/**
 * Whether a lock's holder still runs. A holder on another host is never judged (its pid means
 * nothing here). On this host: another boot's holder is gone; a pid that is not running is gone;
 * a running pid whose start time differs from the holder's is a recycled pid, so the holder is
 * gone; our own pid in a lock this process does not hold is an earlier process's (PID 1 of a
 * restarted container). An old-format lock (pid only) is judged as a lock of this host by its
 * pid alone, as the old code did, except that our own pid in it is an earlier process's: this
 * code never writes that format.
 */
function judge(holder: LedgerLockHolder | undefined, env: LedgerLockEnvironment): Verdict {
  if (holder === undefined) return { kind: 'stale', reason: 'it names no process (empty or unreadable)' };
  const self = env.self;
  if (holder.host !== undefined && holder.host !== self.host) return { kind: 'foreign' };
  if (holder.bootId !== undefined && self.bootId !== undefined && holder.bootId !== self.bootId) {
    return { kind: 'stale', reason: `it was taken before this host last booted (boot ${holder.bootId}, now ${self.bootId})` };
  }
  if (holder.pid === self.pid) {
    if (holder.token !== undefined && env.held.has(holder.token)) return { kind: 'self' };
    if (holder.startTime !== undefined && holder.startTime === self.startTime) return { kind: 'self' };
    return {
      kind: 'stale',
      reason: `it names this process's pid ${holder.pid}, but an earlier process's (${
        holder.startTime === undefined
          ? 'this process does not hold it'
          : `started at tick ${holder.startTime}, this one at ${self.startTime ?? 'unknown'}`
      }): a restarted container's PID 1, or a recycled pid`,
    };
  }
  if (!env.isRunning(holder.pid)) return { kind: 'stale', reason: `process ${holder.pid} is not running` };
  if (holder.startTime !== undefined) {
    const now = env.startTimeOf(holder.pid);
    if (now !== undefined && now !== holder.startTime) {
      return {
        kind: 'stale',
        reason: `pid ${holder.pid} is now another process (started at tick ${now}, the holder at ${holder.startTime})`,
      };
    }
  }
  return { kind: 'live' };
}

function lockedError(
  ledgerPath: string,
  lockPath: string,
  holder: LedgerLockHolder,
  verdict: Verdict,
  purpose: LedgerLockPurpose,
  taking = false,
): LedgerLockedError {
  const doing = taking ? 'it is taking over a stale lock' : undefined;
  if (verdict.kind === 'self') return new LedgerLockedError(ledgerPath, holder.pid, { detail: 'this process opened it already', purpose });
  if (verdict.kind === 'foreign') {
    return new LedgerLockedError(ledgerPath, holder.pid, {
      purpose,
      host: holder.host,
      detail:
        `${doing ? `${doing}; ` : ''}the lock ${lockPath} was taken on host ${holder.host}${holder.at ? ` at ${holder.at}` : ''}, and a ` +
        'lock of another host is never judged by its pid here. If no process runs on that host with the file any more, remove the lock file by hand',
    });
  }
  return new LedgerLockedError(ledgerPath, holder.pid, { purpose, ...(doing ? { detail: doing } : {}) });
}

/**
 * Creates `target` with `text` or fails if it exists: the text goes to a unique temporary file,
 * fsynced, then hard-linked to `target` (link fails if the target exists), so that no one ever
 * reads a lock file that is not yet written.
 */
function createExclusive(target: string, text: string, token: string, ledgerPath: string): boolean {
  const temp = `${target}.${token}.tmp`;
  try {
    const fd = openSync(temp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o644);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new LedgerFileError(`Cannot create the offset ledger file ${ledgerPath}: its directory does not exist`, { cause: error });
    }
    throw error;
  }
  try {
    linkSync(temp, target);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EOPNOTSUPP') {
      throw new LedgerFileError(
        `Cannot lock the offset ledger file ${ledgerPath}: its directory's file system does not support hard links (${code}), ` +
          'which taking the lock atomically needs; put the ledger file on a local file system',
        { cause: error },
      );
    }
    throw error;
  } finally {
    removeIfThere(temp);
  }
}

function removeIfThere(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** The points between the steps of taking the lock where a test may let another taker run. */
export const LedgerLockStep = {
  /** The lock file was read (and is about to be judged). */
  read: 'read',
  /** This taker created the takeover marker of the stale lock it judged. */
  marked: 'marked',
  /** The lock file still is the stale one judged, and is about to be removed. */
  verified: 'verified',
} as const;
export type LedgerLockStep = (typeof LedgerLockStep)[keyof typeof LedgerLockStep];

/** What taking the lock gave: its token (for releasing it) and the stale lock removed, if any. */
export interface LedgerLockTaken {
  readonly token: string;
  readonly tookOver: StaleLedgerLock | undefined;
}

/**
 * Takes the lock step by step, yielding between the steps (`LedgerLockStep`) so that tests can
 * interleave two takers deterministically; `lockLedgerFile` runs it straight through.
 *
 * The lock is `<file>.lock`, created only by link (`createExclusive`): exactly one taker's
 * link succeeds. A stale lock is removed only by the one taker that creates its takeover marker
 * `<file>.lock.takeover-<key>-<n>`, where key names that very lock file (inode and content,
 * which holds a unique token), and only after checking, holding the marker, that the lock file
 * still is the one judged. Removing by path is then safe: while the lock file is that stale
 * one, no one else can remove it (that needs the marker, whose creator runs), and a holder's
 * release removes only its own. The interleavings of two takers A and B that both read the
 * same stale lock S:
 *
 * - A creates the marker of S, B's link of the marker fails: B reads the marker, its creator A
 *   runs, B is refused (A is taking over). A checks, removes S, removes the marker, links its lock.
 * - A takes over entirely (marker, check, remove S, remove marker, link) before B goes on: B
 *   creates the marker of S anew (A removed it), finds the lock file no longer S, removes its
 *   marker and starts again: its link fails, it reads A's lock, A runs: B is refused.
 * - A removed S, a third process C links its lock before A does: A's link fails, A reads C's
 *   lock: refused. One holder, always.
 * - A dies holding the marker of S (before or after removing S): B finds the marker's creator
 *   gone and contends for marker n+1 of S; if S is gone already, B's check fails and it starts
 *   again.
 *
 * (Renaming the stale lock aside, then checking what was renamed, leaves a window: if B renamed
 * A's fresh lock aside, B must put it back, and a third taker may have linked its own
 * meanwhile. The marker never moves another's lock.)
 */
export function* takeLedgerLock(
  path: string,
  purpose: LedgerLockPurpose,
  env: LedgerLockEnvironment = defaultLockEnvironment(),
): Generator<LedgerLockStep, LedgerLockTaken, void> {
  const ledgerPath = resolve(path);
  const lockPath = lockPathOf(ledgerPath);
  const token = randomUUID();
  const text = lockText(env, purpose, token);
  let tookOver: StaleLedgerLock | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (createExclusive(lockPath, text, token, ledgerPath)) {
      env.held.add(token);
      return { token, tookOver };
    }
    const current = readLock(lockPath);
    if (current === undefined) continue; // released meanwhile: try again
    yield LedgerLockStep.read;
    const verdict = judge(current.holder, env);
    if (verdict.kind !== 'stale') throw lockedError(ledgerPath, lockPath, current.holder!, verdict, purpose);
    // Stale: contend for its takeover marker; markers whose creator is gone are passed over.
    const markerOf = (n: number): string => `${lockPath}.takeover-${current.key}-${n}`;
    let marker = -1;
    for (let n = 0; n < 20 && marker < 0; n++) {
      if (createExclusive(markerOf(n), text, token, ledgerPath)) {
        marker = n;
        break;
      }
      const other = readLock(markerOf(n));
      if (other === undefined) break; // that taker is done: start again
      const markerVerdict = judge(other.holder, env);
      if (markerVerdict.kind !== 'stale') throw lockedError(ledgerPath, lockPath, other.holder!, markerVerdict, purpose, true);
    }
    if (marker < 0) continue;
    yield LedgerLockStep.marked;
    if (readLock(lockPath)?.key === current.key) {
      yield LedgerLockStep.verified;
      removeIfThere(lockPath);
      tookOver = { lockPath, holder: current.holder, reason: verdict.reason };
      for (let n = 0; n < marker; n++) removeIfThere(markerOf(n));
    }
    removeIfThere(markerOf(marker));
  }
  throw new LedgerLockedError(ledgerPath, undefined, { detail: 'the lock file keeps reappearing', purpose });
}

/**
 * Throws the `LedgerLockedError` that taking the lock for `purpose` would meet now (a snapshot).
 */
export function assertLedgerUnlocked(
  path: string,
  purpose: LedgerLockPurpose,
  env: LedgerLockEnvironment = defaultLockEnvironment(),
): void {
  const ledgerPath = resolve(path);
  const lockPath = lockPathOf(ledgerPath);
  const current = readLock(lockPath);
  if (current === undefined) return;
  const verdict = judge(current.holder, env);
  if (verdict.kind !== 'stale') throw lockedError(ledgerPath, lockPath, current.holder!, verdict, purpose);
}

/**
 * Takes the ledger file's lock (see `takeLedgerLock`): throws `LedgerLockedError` while a
 * process that runs holds it, or one on another host. `onTakeover` hears of a stale lock removed
 * on the way. Returns the function that releases it, which removes the lock only while it is
 * still this one (its token).
 */
export function lockLedgerFile(
  path: string,
  purpose: LedgerLockPurpose,
  options: { readonly onTakeover?: (stale: StaleLedgerLock) => void; readonly env?: LedgerLockEnvironment } = {},
): () => void {
  const env = options.env ?? defaultLockEnvironment();
  const steps = takeLedgerLock(path, purpose, env);
  let step = steps.next();
  while (!step.done) step = steps.next();
  const { token, tookOver } = step.value;
  if (tookOver) options.onTakeover?.(tookOver);
  const lockPath = lockPathOf(resolve(path));
  let released = false;
  return () => {
    if (released) return;
    released = true;
    env.held.delete(token);
    try {
      if (readLock(lockPath)?.holder?.token === token) unlinkSync(lockPath);
    } catch {
      // already gone
    }
  };
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
