import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileLedgerAdmin } from '../../lib/ledger/file-ledger-admin.ts';
import { runCliCaptured } from '../support/cli.ts';
import { seedLedgerFile } from '../support/ops-world.ts';

/**
 * `msk-s3-sink` on a standalone worker's ledger file: the option, its usage errors, status and
 * reset (neither needs AWS or Kafka with explicit partitions and offsets). The walk-through with
 * a real worker, S3 and Kafka is test/integration/standalone-replay.test.ts.
 */
const WRITER = fileURLToPath(new URL('../fixtures/standalone/ledger-writer.ts', import.meta.url));
const NOW = Date.UTC(2026, 0, 1, 0, 1);

let dir: string;
let path: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ops-cli-file-ledger-'));
  path = join(dir, 'orders.offsets.json');
  await seedLedgerFile(path, 'orders', [
    [0, 99],
    [1, 49],
  ]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (argv: string[], env: Record<string, string> = {}) => runCliCaptured(argv, env, () => NOW);

describe('msk-s3-sink --ledger-file: choosing the ledger', () => {
  it('reads the file given by --ledger-file or LEDGER_FILE', async () => {
    const byFlag = await cli(['status', '--ledger-file', path, '--json']);
    expect(byFlag.code, byFlag.stderr).toBe(0);
    expect(byFlag.json()).toMatchObject([
      { topic: 'orders', partition: 0, generation: 0, committedOffset: 99, lastRecordCount: 100, secondsSinceCommit: 60, resets: 0 },
      { topic: 'orders', partition: 1, generation: 0, committedOffset: 49, resets: 0 },
    ]);
    expect((await cli(['status', '--json'], { LEDGER_FILE: path })).json()).toEqual(byFlag.json());
    // A flag wins over the other ledger's variable.
    expect((await cli(['status', '--ledger-file', path, '--json'], { LEDGER_TABLE: 'sink-ledger' })).json()).toEqual(byFlag.json());
    const human = await cli(['status', '--ledger-file', path]);
    expect(human.stdout).toMatch(/^topic\s+partition\s+generation\s+committed\s+records\s+since commit\s+last object\n/);
    expect(human.stdout).toContain('orders  0          0           99         100      60s');
    expect((await cli(['status', '--ledger-file', path, '--topic', 'payments'])).stdout).toBe(
      `The ledger file ${path} has no entries for topic payments.\n`,
    );
  });

  it('refuses an ambiguous or missing choice, and a missing file, with one clear error', async () => {
    const both = await cli(['status', '--table', 'sink-ledger', '--ledger-file', path]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give --table (the DynamoDB ledger) or --ledger-file');
    const bothEnv = await cli(['status'], { LEDGER_TABLE: 'sink-ledger', LEDGER_FILE: path });
    expect(bothEnv.code).toBe(2);
    expect(bothEnv.stderr).toContain('both LEDGER_TABLE and LEDGER_FILE are set');
    const none = await cli(['status']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('the ledger is unknown: give --table (or LEDGER_TABLE), or');
    const missing = await cli(['status', '--ledger-file', join(dir, 'nope.json')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: LedgerFileError: There is no offset ledger file .*nope\.json/);
  });

  it('replay is for Lambda mappings: with a ledger file it says what to do instead', async () => {
    const { code, stderr } = await cli(['replay', '--ledger-file', path, '--topic', 'orders', '--to-offset', '5', '--reason', 'r']);
    expect(code).toBe(2);
    expect(stderr).toContain('stop the worker, `msk-s3-sink reset --ledger-file PATH');
    expect(stderr).toContain('start the worker');
  });

  it('reset takes no --function or --mapping with a ledger file', async () => {
    const { code, stderr } = await cli([
      'reset',
      '--ledger-file',
      path,
      '--topic',
      'orders',
      '--partition',
      '0',
      '--to-offset',
      '5',
      '--reason',
      'r',
      '--function',
      'sink',
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain("with --ledger-file the ledger file's lock is the guard");
  });

  it('manifest reads the layout without a table: the default layout has no time partitions to mark', async () => {
    const { code, stderr } = await cli(['manifest', '--ledger-file', path, '--topic', 'orders', '--bucket', 'sink-bucket']);
    expect(code).toBe(1);
    expect(stderr).toContain('completeness markers need the time partitioner');
  });

  it('the usage text documents the option', async () => {
    const help = await cli(['--help']);
    expect(help.stdout).toContain('--ledger-file PATH          LEDGER_FILE');
    expect(help.stdout).toContain('Not for a standalone worker (--ledger-file): stop the worker, reset, start it');
  });
});

describe('msk-s3-sink reset --ledger-file', () => {
  const args = () => [
    'reset',
    '--ledger-file',
    path,
    '--topic',
    'orders',
    '--partition',
    '0',
    '--to-offset',
    '40',
    '--reason',
    'reprocess',
    '--by',
    'alice',
    '--id',
    'r-1',
  ];

  it('is refused while a worker holds the file, even with --force; a dry run shows the plan and notes it', async () => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', WRITER, path, 'hold'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve());
        child.once('exit', () => reject(new Error('holder exited')));
      });
      const before = readFileSync(path, 'utf8');
      const refused = await cli([...args(), '--force']);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toMatch(
        new RegExp(`^error: LedgerLockedError: The offset ledger file .* is in use by process ${child.pid}: .*Stop the worker first`),
      );
      expect(refused.stderr).toContain('--force does not override this lock');
      const dry = await cli([...args(), '--dry-run']);
      expect(dry.code).toBe(0);
      expect(dry.stdout).toContain('Would reset (id r-1, by alice: reprocess)');
      expect(dry.stderr).toContain(`note: The offset ledger file ${path} is in use by process ${child.pid}`);
      expect(readFileSync(path, 'utf8')).toBe(before);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });

  it('with the worker stopped: the dry run changes nothing, the reset starts a new generation once', async () => {
    const before = readFileSync(path, 'utf8');
    const dry = await cli([...args(), '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).toBe('');
    expect(dry.json()).toMatchObject({
      id: 'r-1',
      dryRun: true,
      steps: [{ partition: 0, current: { generation: 0, committedOffset: 99 }, nextOffset: 40, toGeneration: 1, direction: 'replay' }],
    });
    expect(readFileSync(path, 'utf8')).toBe(before);

    const applied = await cli(args());
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(
      /^Resetting \(id r-1, by alice: reprocess\):\ntopic\s+partition\s+generation\s+committed\s+→ generation\s+next offset\s+direction\norders\s+0\s+0\s+99\s+1\s+40\s+replay\n$/,
    );
    expect(applied.stderr).toContain('Reset r-1 applied to 1 partition(s). Start the worker again');
    const status = (await cli(['status', '--ledger-file', path, '--json'])).json();
    expect(status).toMatchObject([
      {
        partition: 0,
        generation: 1,
        committedOffset: 39,
        lastObjectKey: null,
        lastRecordCount: 0,
        updatedAt: new Date(NOW).toISOString(),
        resets: 1,
      },
      { partition: 1, generation: 0, committedOffset: 49, resets: 0 },
    ]);
    const stored = JSON.parse(readFileSync(path, 'utf8'));
    expect(stored.version).toBe(2);
    expect(stored.entries[0].resets).toEqual([
      {
        id: 'r-1',
        at: new Date(NOW).toISOString(),
        by: 'alice',
        reason: 'reprocess',
        fromGeneration: 0,
        fromOffset: 99,
        toGeneration: 1,
        toOffset: 39,
      },
    ]);

    // Resuming with the same id changes nothing more.
    const after = readFileSync(path, 'utf8');
    const again = await cli(args());
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already applied');
    expect(readFileSync(path, 'utf8')).toBe(after);
  });
});

describe('msk-s3-sink history --ledger-file', () => {
  it('prints every reset and prune: when, who, what, from, to, reason; --by defaults to user@host', async () => {
    // A reset without --by: a ledger file is local, so the record names user@host.
    const reset = await cli([
      'reset',
      '--ledger-file',
      path,
      '--topic',
      'orders',
      '--partition',
      '1',
      '--to-offset',
      '10',
      '--reason',
      'fix a bug',
      '--id',
      'r-2',
    ]);
    expect(reset.code, reset.stderr).toBe(0);
    const me = `${userInfo().username}@${hostname()}`;
    expect(reset.stdout).toContain(`(id r-2, by ${me}: fix a bug)`);
    await new FileLedgerAdmin(path).recordPrune('orders', 0, {
      id: 'p-1',
      at: new Date(NOW + 60_000).toISOString(),
      by: 'carol',
      reason: 'reclaim space',
      generations: [0],
      fromOffset: 40,
      toOffset: 99,
      objects: 6,
      bytes: 2048,
    });

    const json = await cli(['history', '--ledger-file', path, '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(json.json()).toEqual([
      expect.objectContaining({
        action: 'reset',
        topic: 'orders',
        partition: 0,
        id: 'r-1',
        by: 'alice',
        fromGeneration: 0,
        fromOffset: 99,
        toGeneration: 1,
        toOffset: 39,
      }),
      expect.objectContaining({
        action: 'reset',
        topic: 'orders',
        partition: 1,
        id: 'r-2',
        by: me,
        fromOffset: 49,
        toOffset: 9,
        reason: 'fix a bug',
      }),
      expect.objectContaining({
        action: 'prune',
        topic: 'orders',
        partition: 0,
        id: 'p-1',
        by: 'carol',
        objects: 6,
        fromOffset: 40,
        toOffset: 99,
      }),
    ]);

    const human = await cli(['history', '--ledger-file', path]);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^at\s+topic\s+partition\s+action\s+id\s+by\s+from\s+to\s+reason$/);
    expect(lines[1]).toMatch(/^2026-01-01T00:01:00.000Z\s+orders\s+0\s+reset \(replay\)\s+r-1\s+alice\s+g0@99\s+g1@39\s+reprocess$/);
    expect(lines[3]).toMatch(
      /^2026-01-01T00:02:00.000Z\s+orders\s+0\s+prune 6 objects of g0 \(2\.0 KiB\)\s+p-1\s+carol\s+40\s+99\s+reclaim space$/,
    );
    expect(lines).toHaveLength(4);
    // One partition, one topic.
    expect((await cli(['history', '--ledger-file', path, '--partition', '1', '--json'])).json().map((r: { id: string }) => r.id)).toEqual([
      'r-2',
    ]);
    expect((await cli(['history', '--ledger-file', path, '--topic', 'payments'])).stdout).toBe(
      `The ledger file ${path} records no reset or prune for topic payments.\n`,
    );
  });
});
