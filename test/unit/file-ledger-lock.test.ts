/**
 * The file ledger's lock (issue 16 item 2): takeover is atomic, and the lock names its holder by
 * host, boot id, pid and start time. Two takers are interleaved deterministically by driving
 * `takeLedgerLock` (a generator that yields between its steps) with two simulated processes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileLedgerAdmin } from '../../lib/ledger/file-ledger-admin.ts';
import {
  defaultLockEnvironment,
  FileOffsetLedger,
  type LedgerLockEnvironment,
  LedgerLockedError,
  LedgerLockPurpose,
  LedgerLockStep,
  type LedgerLockTaken,
  lockLedgerFile,
  type StaleLedgerLock,
  takeLedgerLock,
} from '../../lib/ledger/file-ledger.ts';

const WRITER = fileURLToPath(new URL('../fixtures/standalone/ledger-writer.ts', import.meta.url));

let dir: string;
let path: string;
let lockPath: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'file-ledger-lock-'));
  path = join(dir, 'offsets.json');
  lockPath = `${path}.lock`;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A lock file in the current format, as a process with these fields would write it. */
function writeLock(holder: { pid: number; host: string; bootId?: string; startTime?: string; token?: string }): void {
  const full = {
    format: 'msk-s3-sink-ledger-lock',
    version: 1,
    purpose: 'worker',
    token: 'stale-token',
    at: '2026-01-01T00:00:00.000Z',
    ...holder,
  };
  writeFileSync(lockPath, `${holder.pid}\n${JSON.stringify(full)}\n`);
}

function lockHolder(): Record<string, unknown> {
  return JSON.parse(readFileSync(lockPath, 'utf8').split('\n')[1]!) as Record<string, unknown>;
}

/** Files the lock left beside the ledger other than the lock itself (temporaries, markers). */
function leftovers(): string[] {
  return readdirSync(dir).filter((name) => name !== 'offsets.json.lock' && name !== 'offsets.json');
}

/** The start time /proc gives a pid now (Linux). */
function startTimeOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

function open(onStale: StaleLedgerLock[] = []): FileOffsetLedger {
  return FileOffsetLedger.open(path, { onStaleLock: (stale) => onStale.push(stale) });
}

describe('the lock names its holder: recycled pids and restarts', () => {
  const self = defaultLockEnvironment().self;

  it('writes the pid on its first line (older readers keep respecting it) and the holder in full on the second', async () => {
    const ledger = open();
    expect(readFileSync(lockPath, 'utf8').split('\n')[0]).toBe(String(process.pid));
    expect(lockHolder()).toMatchObject({
      pid: process.pid,
      host: hostname(),
      bootId: self.bootId,
      startTime: startTimeOf(process.pid),
      purpose: 'worker',
    });
    await ledger.close();
  });

  it("takes over an old-format lock (a pid only) naming this process's pid: a restarted container's PID 1", async () => {
    writeFileSync(lockPath, `${process.pid}\n`);
    const stale: StaleLedgerLock[] = [];
    const ledger = open(stale);
    expect(stale).toEqual([
      expect.objectContaining({ holder: { pid: process.pid }, reason: expect.stringMatching(/this process's pid .* an earlier process/) }),
    ]);
    expect(lockHolder()['pid']).toBe(process.pid);
    await ledger.close();
  });

  it('judges an old-format lock of another pid by that pid alone: respected while it runs, taken over once not', async () => {
    writeFileSync(lockPath, `${process.ppid}\n`);
    expect(() => open()).toThrow(new RegExp(`in use by process ${process.ppid}: `));
    writeFileSync(lockPath, '2147483646\n');
    const stale: StaleLedgerLock[] = [];
    const ledger = open(stale);
    expect(stale[0]?.reason).toBe('process 2147483646 is not running');
    await ledger.close();
  });

  it('takes over an empty lock file (no current version leaves one: it links whole files)', async () => {
    writeFileSync(lockPath, '');
    const stale: StaleLedgerLock[] = [];
    const ledger = open(stale);
    expect(stale[0]?.reason).toMatch(/names no process/);
    await ledger.close();
  });

  it('takes over a lock naming this pid on this host and boot but with another start time', async () => {
    writeLock({ pid: process.pid, host: self.host, bootId: self.bootId!, startTime: '1' });
    const stale: StaleLedgerLock[] = [];
    const ledger = open(stale);
    expect(stale[0]?.reason).toMatch(/started at tick 1, this one at \d+/);
    expect(lockHolder()['token']).not.toBe('stale-token');
    await ledger.close();
  });

  it('takes over a lock whose pid is now another live process (its start time differs)', async () => {
    const other = process.ppid;
    writeLock({ pid: other, host: self.host, bootId: self.bootId!, startTime: '1' });
    const stale: StaleLedgerLock[] = [];
    const ledger = open(stale);
    expect(stale[0]?.reason).toBe(`pid ${other} is now another process (started at tick ${startTimeOf(other)}, the holder at 1)`);
    await ledger.close();
    // The other process was never touched.
    expect(() => process.kill(other, 0)).not.toThrow();
  });

  it('takes over a lock of an earlier boot of this host, whatever runs under its pid now', async () => {
    writeLock({ pid: process.ppid, host: self.host, bootId: 'an-earlier-boot', startTime: startTimeOf(process.ppid) });
    const stale: StaleLedgerLock[] = [];
    const ledger = open(stale);
    expect(stale[0]?.reason).toMatch(/before this host last booted/);
    await ledger.close();
  });

  it('respects a live holder (same pid, same start time), for the worker and for a reset', async () => {
    const holder = process.ppid;
    writeLock({ pid: holder, host: self.host, bootId: self.bootId!, startTime: startTimeOf(holder) });
    const before = readFileSync(lockPath, 'utf8');
    expect(() => open()).toThrow(new RegExp(`in use by process ${holder}: only one standalone worker`));
    const admin = new FileLedgerAdmin(path);
    expect(() => admin.assertUnlocked()).toThrow(LedgerLockedError);
    await expect(
      admin.reset('t', 0, undefined, { at: 'x', by: 'y', fromGeneration: 0, toGeneration: 1, toOffset: 0 } as never),
    ).rejects.toThrow(/Stop the worker first/);
    expect(readFileSync(lockPath, 'utf8')).toBe(before);
  });

  it('never takes over a lock of another host, even with a pid that does not run here; says how to remove it', async () => {
    writeLock({ pid: 2147483646, host: 'other-host', bootId: 'its-boot', startTime: '5' });
    const before = readFileSync(lockPath, 'utf8');
    let refused: unknown;
    try {
      open();
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(LedgerLockedError);
    expect((refused as LedgerLockedError).host).toBe('other-host');
    expect((refused as Error).message).toContain(
      `in use by process 2147483646 on host other-host (the lock ${lockPath} was taken on host other-host`,
    );
    expect((refused as Error).message).toContain('remove the lock file by hand');
    expect(() => new FileLedgerAdmin(path).assertUnlocked()).toThrow(/on host other-host .*Stop the worker first/);
    expect(readFileSync(lockPath, 'utf8')).toBe(before);
    // Removed by hand: taken.
    rmSync(lockPath);
    const ledger = open();
    await ledger.close();
  });
});

describe('two takers of one stale lock, interleaved step by step', () => {
  const running = new Set<number>();
  function environment(pid: number): LedgerLockEnvironment {
    running.add(pid);
    return {
      self: { pid, host: 'h', bootId: 'b', startTime: String(pid) },
      isRunning: (p) => running.has(p),
      startTimeOf: (p) => (running.has(p) ? String(p) : undefined),
      held: new Set(),
    };
  }
  function finish(steps: Generator<LedgerLockStep, LedgerLockTaken, void>): LedgerLockTaken {
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
    }
  }
  beforeEach(() => {
    running.clear();
    // Process 900 died holding the lock.
    writeLock({ pid: 900, host: 'h', bootId: 'b', startTime: '900' });
  });

  it.each([
    ['A', 'B'],
    ['B', 'A'],
  ])('both read the stale lock, then %s takes over, then the other goes on: it is refused, the winner holds', (first) => {
    const a = takeLedgerLock(path, LedgerLockPurpose.worker, environment(101));
    const b = takeLedgerLock(path, LedgerLockPurpose.reset, environment(102));
    expect(a.next()).toEqual({ done: false, value: LedgerLockStep.read });
    expect(b.next()).toEqual({ done: false, value: LedgerLockStep.read });
    const [winner, loser, winnerPid] = first === 'A' ? [a, b, 101] : [b, a, 102];
    const taken = finish(winner);
    expect(taken.tookOver).toMatchObject({ holder: { pid: 900 }, reason: 'process 900 is not running' });
    expect(() => finish(loser)).toThrow(new RegExp(`in use by process ${winnerPid}\\b`));
    expect(lockHolder()).toMatchObject({ pid: winnerPid, token: taken.token });
    expect(leftovers()).toEqual([]);
  });

  it('B meets the marker of A, who is taking over: B is refused, A ends up holding', () => {
    const a = takeLedgerLock(path, LedgerLockPurpose.worker, environment(101));
    const b = takeLedgerLock(path, LedgerLockPurpose.worker, environment(102));
    expect(a.next().value).toBe(LedgerLockStep.read);
    expect(b.next().value).toBe(LedgerLockStep.read);
    expect(a.next().value).toBe(LedgerLockStep.marked);
    expect(a.next().value).toBe(LedgerLockStep.verified);
    expect(() => finish(b)).toThrow(/in use by process 101 \(it is taking over a stale lock\)/);
    // The stale lock is still there, untouched by B.
    expect(lockHolder()['pid']).toBe(900);
    finish(a);
    expect(lockHolder()['pid']).toBe(101);
    expect(leftovers()).toEqual([]);
  });

  it('A dies holding the marker, before removing the stale lock: B passes over its marker and takes over', () => {
    const a = takeLedgerLock(path, LedgerLockPurpose.worker, environment(101));
    const b = takeLedgerLock(path, LedgerLockPurpose.worker, environment(102));
    expect(a.next().value).toBe(LedgerLockStep.read);
    expect(a.next().value).toBe(LedgerLockStep.marked);
    running.delete(101);
    const taken = finish(b);
    expect(taken.tookOver?.holder?.pid).toBe(900);
    expect(lockHolder()).toMatchObject({ pid: 102, token: taken.token });
    expect(leftovers()).toEqual([]);
  });

  it('A dies after removing the stale lock, holding the marker: B takes the free lock', () => {
    const a = takeLedgerLock(path, LedgerLockPurpose.worker, environment(101));
    expect(a.next().value).toBe(LedgerLockStep.read);
    expect(a.next().value).toBe(LedgerLockStep.marked);
    expect(a.next().value).toBe(LedgerLockStep.verified);
    // A removes the lock and would remove its marker next; pretend it died in between by
    // removing the lock as it does, leaving its marker.
    rmSync(lockPath);
    running.delete(101);
    const b = takeLedgerLock(path, LedgerLockPurpose.worker, environment(102));
    const taken = finish(b);
    expect(taken.tookOver).toBeUndefined();
    expect(lockHolder()['pid']).toBe(102);
    // A's marker is garbage now: no one can use it (its key names a lock file that is gone).
    expect(leftovers()).toEqual([expect.stringMatching(/^offsets\.json\.lock\.takeover-[0-9a-f]{16}-0$/)]);
  });

  it('the real release removes only its own lock', () => {
    rmSync(lockPath);
    const release = lockLedgerFile(path, LedgerLockPurpose.reset);
    expect(lockHolder()['pid']).toBe(process.pid);
    rmSync(lockPath);
    writeLock({ pid: 103, host: 'h' });
    release();
    expect(lockHolder()['pid']).toBe(103);
  });
});

describe('real processes racing for one stale lock', () => {
  it('four processes started at once on the lock of a dead holder: exactly one holds it, the others are refused', async () => {
    writeFileSync(lockPath, '2147483646\n');
    const children = Array.from({ length: 4 }, () => {
      const child = spawn(process.execPath, ['--import', 'tsx', WRITER, path, 'hold'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      // Settles once the child holds the lock (it then waits) or has exited (refused).
      const settled = new Promise<{ child: typeof child; locked: boolean; err: () => string }>((resolve) => {
        child.stdout.on('data', () => out.includes('locked') && resolve({ child, locked: true, err: () => err }));
        child.once('exit', () => resolve({ child, locked: out.includes('locked'), err: () => err }));
      });
      return { child, settled };
    });
    try {
      const results = await Promise.all(children.map((c) => c.settled));
      const winners = results.filter((r) => r.locked);
      expect(winners).toHaveLength(1);
      for (const loser of results.filter((r) => !r.locked))
        expect(loser.err()).toMatch(/LedgerLockedError: The offset ledger file .* is in use by process \d+/);
      expect(lockHolder()['pid']).toBe(winners[0]!.child.pid);
      expect(leftovers()).toEqual([]);
    } finally {
      for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 30_000);
});
