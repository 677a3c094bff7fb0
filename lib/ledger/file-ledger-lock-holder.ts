/**
 * Who holds a ledger file's lock (see file-ledger-lock.ts), as its lock file names them, and
 * whether that holder still runs, judged from this host.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';

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

export const lockPathOf = (path: string): string => `${path}.lock`;

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
export function lockText(env: LedgerLockEnvironment, purpose: LedgerLockPurpose, token: string): string {
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

export function readLock(path: string): LockSnapshot | undefined {
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

export type Verdict =
  | { readonly kind: 'live' | 'self' }
  | { readonly kind: 'foreign' }
  | { readonly kind: 'stale'; readonly reason: string };

/**
 * Whether a lock's holder still runs. A holder on another host is never judged (its pid means
 * nothing here). On this host: another boot's holder is gone; a pid that is not running is gone;
 * a running pid whose start time differs from the holder's is a recycled pid, so the holder is
 * gone; our own pid in a lock this process does not hold is an earlier process's (PID 1 of a
 * restarted container). An old-format lock (pid only) is judged as a lock of this host by its
 * pid alone, as the old code did, except that our own pid in it is an earlier process's: this
 * code never writes that format.
 */
export function judge(holder: LedgerLockHolder | undefined, env: LedgerLockEnvironment): Verdict {
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
