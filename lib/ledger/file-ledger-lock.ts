/**
 * The file ledger's lock: `<file>.lock`, created by hard link, naming its holder; a stale one is
 * taken over atomically (`takeLedgerLock`). See file-ledger.ts for the protocol's place.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, unlinkSync, writeSync, constants as fsConstants } from 'node:fs';
import { resolve } from 'node:path';
import { SinkError } from '../core/errors.ts';
import { LedgerFileError } from './file-ledger-format.ts';
import {
  defaultLockEnvironment,
  judge,
  type LedgerLockEnvironment,
  type LedgerLockHolder,
  LedgerLockPurpose,
  lockPathOf,
  lockText,
  readLock,
  type StaleLedgerLock,
  type Verdict,
} from './file-ledger-lock-holder.ts';

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
