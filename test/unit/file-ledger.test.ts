import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerConflictError } from '../../lib/core/errors.ts';
import type { LedgerEntry } from '../../lib/core/ports.ts';
import { FileOffsetLedger, LedgerFileError, LedgerLockedError } from '../../lib/ledger/file-ledger.ts';

const WRITER = fileURLToPath(new URL('../fixtures/standalone/ledger-writer.ts', import.meta.url));

function entry(committedOffset: number, generation = 0, partition = 0): LedgerEntry {
  return {
    topic: 'orders.v1',
    partition,
    generation,
    committedOffset,
    lastObjectKey: `k${committedOffset}`,
    lastRecordCount: 1,
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
}

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'file-ledger-'));
  path = join(dir, 'offsets.json');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('FileOffsetLedger: the OffsetLedger contract', () => {
  it('reads nothing from a new file, creates an entry only when none exists, then advances conditionally', async () => {
    const ledger = FileOffsetLedger.open(path);
    expect(await ledger.read('orders.v1', 0)).toBeUndefined();
    await ledger.advance(undefined, entry(9));
    await expect(ledger.advance(undefined, entry(12))).rejects.toBeInstanceOf(LedgerConflictError);
    await ledger.advance({ generation: 0, committedOffset: 9 }, entry(20));
    // Not below the new offset: refused (never moves back, never stands still).
    await expect(ledger.advance({ generation: 0, committedOffset: 20 }, entry(20))).rejects.toBeInstanceOf(LedgerConflictError);
    await expect(ledger.advance({ generation: 0, committedOffset: 9 }, entry(15))).rejects.toBeInstanceOf(LedgerConflictError);
    // Another generation than the stored one: refused.
    await expect(ledger.advance({ generation: 1, committedOffset: 20 }, entry(30, 1))).rejects.toBeInstanceOf(LedgerConflictError);
    // The condition is "committed below the new offset", as in DynamoDB: an older read still advances.
    await ledger.advance({ generation: 0, committedOffset: 9 }, entry(25));
    expect((await ledger.read('orders.v1', 0))?.committedOffset).toBe(25);
    expect(await ledger.read('orders.v1', 1)).toBeUndefined();
    await ledger.close();
  });

  it('persists across reopen, one entry per topic-partition', async () => {
    const ledger = FileOffsetLedger.open(path);
    await Promise.all([
      ledger.advance(undefined, entry(5, 0, 0)),
      ledger.advance(undefined, entry(7, 0, 1)),
      ledger.advance(undefined, entry(1, 0, 2)),
    ]);
    await ledger.close();
    const again = FileOffsetLedger.open(path);
    expect(await again.read('orders.v1', 1)).toEqual(entry(7, 0, 1));
    expect(again.entries()).toHaveLength(3);
    await again.close();
    const file = JSON.parse(readFileSync(path, 'utf8'));
    expect(file).toMatchObject({ format: 'msk-s3-sink-file-ledger', version: 1 });
  });

  it('serialises concurrent advances: the highest offset wins, conflicts are reported', async () => {
    const ledger = FileOffsetLedger.open(path);
    await ledger.advance(undefined, entry(0));
    const results = await Promise.allSettled([10, 30, 20].map((o) => ledger.advance({ generation: 0, committedOffset: 0 }, entry(o))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect((await ledger.read('orders.v1', 0))?.committedOffset).toBe(30);
    await ledger.close();
  });

  it('refuses a file that is not a ledger, with a clear error', () => {
    writeFileSync(path, '{"hello": 1}');
    expect(() => FileOffsetLedger.open(path)).toThrow(LedgerFileError);
    writeFileSync(path, '{"format": "msk-s3-sink-file-ledger", "version": 1, "entr');
    expect(() => FileOffsetLedger.open(path)).toThrow(/not JSON/);
    // The failed opens released their locks.
    expect(existsSync(`${path}.lock`)).toBe(false);
  });
});

describe('FileOffsetLedger: atomic writes', () => {
  it('a failure between the temp file and the rename leaves the old file and the old state', async () => {
    let fail = false;
    const ledger = FileOffsetLedger.open(path, {
      faults: {
        beforeRename: (temp) => {
          if (!fail) return;
          // The temp file is whole and durable by now; the crash comes before it replaces the ledger.
          expect(JSON.parse(readFileSync(temp, 'utf8')).entries[0].committedOffset).toBe(99);
          throw new Error('injected crash before rename');
        },
      },
    });
    await ledger.advance(undefined, entry(41));
    const before = readFileSync(path, 'utf8');
    fail = true;
    await expect(ledger.advance({ generation: 0, committedOffset: 41 }, entry(99))).rejects.toThrow('injected crash');
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect((await ledger.read('orders.v1', 0))?.committedOffset).toBe(41);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    fail = false;
    await ledger.advance({ generation: 0, committedOffset: 41 }, entry(99));
    await ledger.close();
    const again = FileOffsetLedger.open(path);
    expect((await again.read('orders.v1', 0))?.committedOffset).toBe(99);
    await again.close();
  });

  it('SIGKILL of a writing process at random moments never leaves a half-written file or loses an acknowledged commit', async () => {
    let acknowledged = -1;
    for (let round = 0; round < 6; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', WRITER, path], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // Wait for it to be writing, then kill it mid-stream.
      const started = Date.now();
      while (!out.includes('\n') && Date.now() - started < 15_000) await new Promise((r) => setTimeout(r, 10));
      expect(out, err).toContain('\n');
      await new Promise((r) => setTimeout(r, 20 + Math.floor(Math.random() * 80)));
      child.kill('SIGKILL');
      await exited;
      const lines = out.split('\n').filter((l) => l !== '');
      const lastAck = Number(lines[lines.length - 1]);
      expect(lastAck).toBeGreaterThan(acknowledged);
      // Whole and durable: parseable, at or past every acknowledged commit (the kill may land after the rename, before the print).
      const file = JSON.parse(readFileSync(path, 'utf8'));
      const committed = file.entries[0].committedOffset as number;
      expect(committed).toBeGreaterThanOrEqual(lastAck);
      expect(committed).toBeLessThanOrEqual(lastAck + 1);
      acknowledged = committed;
      // The killed writer's lock is stale: the next round (and this open) takes it over.
      expect(readFileSync(`${path}.lock`, 'utf8').split('\n')[0]).toBe(String(child.pid));
    }
    expect(acknowledged).toBeGreaterThan(10);
    const ledger = FileOffsetLedger.open(path);
    expect((await ledger.read('t', 0))?.committedOffset).toBe(acknowledged);
    await ledger.close();
  }, 60_000);
});

describe('FileOffsetLedger: one process per file', () => {
  it('refuses a second process while the first is alive, naming its pid, and takes over once it is dead', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, path, 'hold'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('locked')) resolve();
      });
      child.once('exit', () => reject(new Error('holder exited')));
    });
    let refused: unknown;
    try {
      FileOffsetLedger.open(path);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(LedgerLockedError);
    expect((refused as Error).message).toContain(`process ${child.pid}`);
    expect((refused as Error).message).toContain('only one standalone worker may use a ledger file');
    child.kill('SIGKILL');
    await exited;
    const ledger = FileOffsetLedger.open(path);
    expect(readFileSync(`${path}.lock`, 'utf8').split('\n')[0]).toBe(String(process.pid));
    await ledger.close();
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('refuses a second open in the same process and releases the lock on close', async () => {
    const ledger = FileOffsetLedger.open(path);
    expect(() => FileOffsetLedger.open(path)).toThrow(LedgerLockedError);
    await ledger.close();
    await expect(ledger.read('orders.v1', 0)).rejects.toThrow(/closed/);
    const again = FileOffsetLedger.open(path);
    await again.close();
  });

  it('takes over a lock file whose pid is not a live process', async () => {
    writeFileSync(`${path}.lock`, '2147483646\n');
    const ledger = FileOffsetLedger.open(path);
    await ledger.advance(undefined, entry(1));
    await ledger.close();
  });
});
