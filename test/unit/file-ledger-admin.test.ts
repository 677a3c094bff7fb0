import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerConflictError } from '../../lib/core/errors.ts';
import type { LedgerPrune, LedgerReset } from '../../lib/ledger/admin.ts';
import type { LedgerEntry } from '../../lib/core/ports.ts';
import { FileLedgerAdmin } from '../../lib/ledger/file-ledger-admin.ts';
import { FileOffsetLedger, LedgerFileError, LedgerLockedError } from '../../lib/ledger/file-ledger.ts';

const WRITER = fileURLToPath(new URL('../fixtures/standalone/ledger-writer.ts', import.meta.url));

function entry(topic: string, partition: number, committedOffset: number, generation = 0): LedgerEntry {
  return {
    topic,
    partition,
    generation,
    committedOffset,
    lastObjectKey: `topics/${topic}/partition=${partition}/${topic}+${partition}+${String(committedOffset).padStart(20, '0')}.jsonl.gz`,
    lastRecordCount: 10,
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
}

function resetOf(fromOffset: number, toOffset: number, overrides: Partial<LedgerReset> = {}): LedgerReset {
  return {
    id: 'reset-1',
    at: '2026-01-02T00:00:00.000Z',
    by: 'alice@host',
    reason: 'reprocess after a bug',
    fromGeneration: 0,
    fromOffset,
    toGeneration: 1,
    toOffset,
    ...overrides,
  };
}

let dir: string;
let path: string;
let holder: ChildProcess | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'file-ledger-admin-'));
  path = join(dir, 'offsets.json');
});
afterEach(async () => {
  if (holder && holder.exitCode === null && holder.signalCode === null) {
    const exited = new Promise((resolve) => holder!.once('exit', resolve));
    holder.kill('SIGKILL');
    await exited;
  }
  holder = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** A worker's ledger: advances each entry from nothing, then closes (releases the lock). */
async function workerCommits(...entries: LedgerEntry[]): Promise<void> {
  const ledger = FileOffsetLedger.open(path);
  for (const e of entries) {
    const current = await ledger.read(e.topic, e.partition);
    await ledger.advance(current && { generation: current.generation, committedOffset: current.committedOffset }, e);
  }
  await ledger.close();
}

/** Another process that holds the file's lock, as a running worker does. */
async function holdInChild(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, path, 'hold'], { stdio: ['ignore', 'pipe', 'pipe'] });
  holder = child;
  await new Promise<void>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('locked')) resolve();
    });
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('exit', () => reject(new Error(`holder exited: ${err}`)));
  });
  return child;
}

const file = () => JSON.parse(readFileSync(path, 'utf8')) as { version: number; entries: Array<Record<string, unknown>> };

describe('FileLedgerAdmin: list and get', () => {
  it('lists every entry with an empty history, sorted by topic and partition, and filters by topic', async () => {
    await workerCommits(entry('orders', 1, 7), entry('audit', 0, 3), entry('orders', 0, 9));
    const admin = new FileLedgerAdmin(path);
    expect((await admin.list()).map((e) => `${e.topic}-${e.partition}`)).toEqual(['audit-0', 'orders-0', 'orders-1']);
    expect(await admin.list({ topic: 'orders' })).toEqual([
      { ...entry('orders', 0, 9), resets: [] },
      { ...entry('orders', 1, 7), resets: [] },
    ]);
    expect(await admin.get('orders', 1)).toEqual({ ...entry('orders', 1, 7), resets: [] });
    expect(await admin.get('orders', 2)).toBeUndefined();
  });

  it('says so when there is no file, rather than show an empty ledger', async () => {
    const admin = new FileLedgerAdmin(join(dir, 'typo.json'));
    await expect(admin.list()).rejects.toThrow(LedgerFileError);
    await expect(admin.get('orders', 0)).rejects.toThrow(/There is no offset ledger file .*typo\.json.*offset\.storage\.file\.filename/);
  });

  it('reads while a live worker holds the lock (the worker renames whole files over it)', async () => {
    await workerCommits(entry('orders', 0, 9));
    await holdInChild();
    expect((await new FileLedgerAdmin(path).get('orders', 0))?.committedOffset).toBe(9);
  });
});

describe('FileLedgerAdmin: reset', () => {
  it('starts a new generation at the reset offset, keeps the audit record, and leaves the other entries alone', async () => {
    await workerCommits(entry('orders', 0, 99), entry('orders', 1, 50));
    const before = file().entries[1];
    const admin = new FileLedgerAdmin(path);
    await admin.reset('orders', 0, { generation: 0, committedOffset: 99 }, resetOf(99, 39));
    expect(await admin.get('orders', 0)).toEqual({
      topic: 'orders',
      partition: 0,
      generation: 1,
      committedOffset: 39,
      lastObjectKey: null,
      lastRecordCount: 0,
      updatedAt: '2026-01-02T00:00:00.000Z',
      resets: [resetOf(99, 39)],
    });
    expect(file().version).toBe(2);
    expect(file().entries[1]).toEqual(before);
    // The lock was released and no temporary file is left.
    expect(readdirSync(dir)).toEqual(['offsets.json']);
  });

  it('creates the entry when there is none and none was expected, as a conditional create', async () => {
    await workerCommits(entry('orders', 0, 5));
    const admin = new FileLedgerAdmin(path);
    await admin.reset('orders', 3, undefined, resetOf(-1, 999, { fromGeneration: 0 }));
    expect(await admin.get('orders', 3)).toMatchObject({ generation: 1, committedOffset: 999, resets: [{ id: 'reset-1' }] });
    // Expecting no entry where there is one is a conflict too.
    await expect(admin.reset('orders', 0, undefined, resetOf(-1, 1))).rejects.toThrow(LedgerConflictError);
  });

  it('refuses when the entry moved since it was read, and writes nothing', async () => {
    await workerCommits(entry('orders', 0, 99));
    const admin = new FileLedgerAdmin(path);
    const shown = await admin.get('orders', 0);
    await workerCommits(entry('orders', 0, 120)); // the worker ran meanwhile
    const bytes = readFileSync(path, 'utf8');
    const refused = admin.reset('orders', 0, { generation: shown!.generation, committedOffset: shown!.committedOffset }, resetOf(99, 39));
    await expect(refused).rejects.toThrow(LedgerConflictError);
    await expect(refused).rejects.toThrow(
      'Ledger of orders-0 moved since it was read (expected generation 0 at offset 99): did a worker commit, or another reset land, since then? Read it again and retry.',
    );
    expect(readFileSync(path, 'utf8')).toBe(bytes);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('is refused while a live worker holds the file, telling the operator to stop it first', async () => {
    await workerCommits(entry('orders', 0, 99));
    const bytes = readFileSync(path, 'utf8');
    const child = await holdInChild();
    const admin = new FileLedgerAdmin(path);
    let refused: unknown;
    try {
      await admin.reset('orders', 0, { generation: 0, committedOffset: 99 }, resetOf(99, 39));
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(LedgerLockedError);
    expect((refused as LedgerLockedError).pid).toBe(child.pid);
    expect((refused as Error).message).toContain(`is in use by process ${child.pid}`);
    expect((refused as Error).message).toContain('Stop the worker first');
    expect(() => admin.assertUnlocked()).toThrow(/Stop the worker first/);
    expect(readFileSync(path, 'utf8')).toBe(bytes);
    // The worker's lock is still the worker's.
    expect(readFileSync(`${path}.lock`, 'utf8').split('\n')[0]).toBe(String(child.pid));
  });

  it('is refused while this very process has the ledger open', async () => {
    await workerCommits(entry('orders', 0, 99));
    const ledger = FileOffsetLedger.open(path);
    await expect(new FileLedgerAdmin(path).reset('orders', 0, { generation: 0, committedOffset: 99 }, resetOf(99, 39))).rejects.toThrow(
      LedgerLockedError,
    );
    await ledger.close();
  });

  it('takes over the lock of a worker that died (SIGKILL), then releases it', async () => {
    await workerCommits(entry('orders', 0, 99));
    const child = await holdInChild();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(readFileSync(`${path}.lock`, 'utf8').split('\n')[0]).toBe(String(child.pid));
    const admin = new FileLedgerAdmin(path);
    expect(() => admin.assertUnlocked()).not.toThrow();
    await admin.reset('orders', 0, { generation: 0, committedOffset: 99 }, resetOf(99, 39));
    expect((await admin.get('orders', 0))?.generation).toBe(1);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('takes over a lock file whose pid is not a live process', async () => {
    await workerCommits(entry('orders', 0, 99));
    writeFileSync(`${path}.lock`, '2147483646\n');
    await new FileLedgerAdmin(path).reset('orders', 0, { generation: 0, committedOffset: 99 }, resetOf(99, 39));
    expect(existsSync(`${path}.lock`)).toBe(false);
  });
});

describe('The reset history across the worker', () => {
  it("survives the worker's rewrites: a commit after a reset carries it, and the next reset appends to it", async () => {
    await workerCommits(entry('orders', 0, 99), entry('orders', 1, 50));
    const admin = new FileLedgerAdmin(path);
    await admin.reset('orders', 0, { generation: 0, committedOffset: 99 }, resetOf(99, 39));

    // The worker starts, resumes from the ledger, and commits in the new generation.
    const ledger = FileOffsetLedger.open(path);
    const resumed = await ledger.read('orders', 0);
    expect(resumed).toEqual({
      ...entry('orders', 0, 39, 1),
      lastObjectKey: null,
      lastRecordCount: 0,
      updatedAt: '2026-01-02T00:00:00.000Z',
    });
    await ledger.advance({ generation: 1, committedOffset: 39 }, entry('orders', 0, 120, 1));
    await ledger.advance({ generation: 0, committedOffset: 50 }, entry('orders', 1, 60));
    await ledger.close();

    expect(file().version).toBe(2);
    expect(await admin.get('orders', 0)).toEqual({ ...entry('orders', 0, 120, 1), resets: [resetOf(99, 39)] });
    expect(await admin.get('orders', 1)).toEqual({ ...entry('orders', 1, 60), resets: [] });
    // Only entries with a history carry one in the file.
    expect(file().entries[1]).not.toHaveProperty('resets');

    const second = resetOf(120, 9, { id: 'reset-2', fromGeneration: 1, toGeneration: 2 });
    await admin.reset('orders', 0, { generation: 1, committedOffset: 120 }, second);
    expect((await admin.get('orders', 0))?.resets).toEqual([resetOf(99, 39), second]);
    // And it reopens (the worker's next start).
    const again = FileOffsetLedger.open(path);
    expect((await again.read('orders', 0))?.generation).toBe(2);
    await again.close();
  });

  it('loads a version-1 file (no histories) and keeps writing version 1 until a reset', async () => {
    writeFileSync(path, JSON.stringify({ format: 'msk-s3-sink-file-ledger', version: 1, entries: [entry('orders', 0, 9)] }, null, 1));
    expect(await new FileLedgerAdmin(path).list()).toEqual([{ ...entry('orders', 0, 9), resets: [] }]);
    const ledger = FileOffsetLedger.open(path);
    expect(await ledger.read('orders', 0)).toEqual(entry('orders', 0, 9));
    await ledger.advance({ generation: 0, committedOffset: 9 }, entry('orders', 0, 19));
    await ledger.close();
    // Still readable by a worker that knows version 1 only.
    expect(file()).toMatchObject({ version: 1, entries: [entry('orders', 0, 19)] });
    expect(file().entries[0]).not.toHaveProperty('resets');
  });

  it('refuses a version it does not know and a malformed history, saying which', () => {
    writeFileSync(path, JSON.stringify({ format: 'msk-s3-sink-file-ledger', version: 4, entries: [] }));
    expect(() => FileOffsetLedger.open(path)).toThrow(/has version 4; this version of msk-s3-sink reads versions 1, 2 and 3/);
    writeFileSync(
      path,
      JSON.stringify({ format: 'msk-s3-sink-file-ledger', version: 2, entries: [{ ...entry('orders', 0, 9), resets: [{ id: 'x' }] }] }),
    );
    expect(() => FileOffsetLedger.open(path)).toThrow(/entries\[0\]\.resets\[0\] is malformed/);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });
});

describe('The prune history', () => {
  const prune: LedgerPrune = {
    id: 'prune-1',
    at: '2026-01-03T00:00:00.000Z',
    by: 'bob@host',
    reason: 'reclaim space',
    generations: [0],
    fromOffset: 40,
    toOffset: 99,
    objects: 6,
    bytes: 1234,
  };

  it("appends the record, makes the file version 3, and survives the worker's commits and the next reset", async () => {
    await workerCommits(entry('orders', 0, 99), entry('orders', 1, 50));
    const admin = new FileLedgerAdmin(path);
    await admin.reset('orders', 0, { generation: 0, committedOffset: 99 }, resetOf(99, 39));
    await admin.recordPrune('orders', 0, prune);
    expect(file().version).toBe(3);
    expect((await admin.get('orders', 0))?.prunes).toEqual([prune]);
    expect(existsSync(`${path}.lock`)).toBe(false);

    const ledger = FileOffsetLedger.open(path);
    await ledger.advance({ generation: 1, committedOffset: 39 }, entry('orders', 0, 120, 1));
    await ledger.close();
    expect(await admin.get('orders', 0)).toEqual({ ...entry('orders', 0, 120, 1), resets: [resetOf(99, 39)], prunes: [prune] });
    expect(file().entries[1]).not.toHaveProperty('prunes');

    await admin.reset(
      'orders',
      0,
      { generation: 1, committedOffset: 120 },
      resetOf(120, 9, { id: 'reset-2', fromGeneration: 1, toGeneration: 2 }),
    );
    const second = { ...prune, id: 'prune-2', generations: [1] };
    await admin.recordPrune('orders', 0, second);
    expect((await admin.get('orders', 0))?.prunes).toEqual([prune, second]);
  });

  it('is refused with no entry, and while a live worker holds the file, writing nothing', async () => {
    await workerCommits(entry('orders', 0, 99));
    const admin = new FileLedgerAdmin(path);
    await expect(admin.recordPrune('orders', 7, prune)).rejects.toThrow(LedgerConflictError);
    const bytes = readFileSync(path, 'utf8');
    const child = await holdInChild();
    const refused = await admin.recordPrune('orders', 0, prune).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(LedgerLockedError);
    expect((refused as Error).message).toContain(`is in use by process ${child.pid}`);
    expect((refused as Error).message).toContain("would drop the prune's audit record");
    expect(readFileSync(path, 'utf8')).toBe(bytes);
  });

  it('refuses a malformed prune record, saying where', () => {
    writeFileSync(
      path,
      JSON.stringify({
        format: 'msk-s3-sink-file-ledger',
        version: 3,
        entries: [{ ...entry('orders', 0, 9), prunes: [{ ...prune, objects: 'six' }] }],
      }),
    );
    expect(() => FileOffsetLedger.open(path)).toThrow(/entries\[0\]\.prunes\[0\] is malformed/);
  });
});
