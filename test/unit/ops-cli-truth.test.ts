import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileLedgerAdmin } from '../../lib/ledger/file-ledger-admin.ts';
import { runCliCaptured } from '../support/cli.ts';
import { seedLedgerFile } from '../support/ops-world.ts';

/**
 * Issue 15, item 5: the command line tells the truth. Options honoured, mistakes named, and a
 * reset of a partition nobody knows refused without --force. A standalone worker's ledger file
 * stands in for the table (neither needs AWS or Kafka with explicit partitions and offsets).
 */
const NOW = Date.UTC(2026, 0, 1, 0, 1);
let dir: string;
let path: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ops-cli-truth-'));
  path = join(dir, 'orders.offsets.json');
  await seedLedgerFile(path, 'orders', [
    [0, 99],
    [1, 49],
    [2, 9],
  ]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...argv: string[]) => runCliCaptured(argv, {}, () => NOW);

describe('the command line tells the truth', () => {
  it('status honours --partition', async () => {
    const one = await cli('status', '--ledger-file', path, '--topic', 'orders', '--partition', '1', '--json');
    expect(one.code, one.stderr).toBe(0);
    expect(one.json().map((row: { partition: number }) => row.partition)).toEqual([1]);
    const two = await cli('status', '--ledger-file', path, '--partition', '0', '--partition', '2', '--json');
    expect(two.json().map((row: { partition: number }) => row.partition)).toEqual([0, 2]);
    const none = await cli('status', '--ledger-file', path, '--topic', 'orders', '--partition', '9');
    expect(none.stdout).toBe(`The ledger file ${path} has no entries for topic orders partition 9.\n`);
  });

  it('reset warns about a partition in neither the ledger nor the cluster, and needs --force for it', async () => {
    const args = [
      'reset',
      '--ledger-file',
      path,
      '--topic',
      'orders',
      '--partition',
      '1',
      '--partition',
      '7',
      '--to-offset',
      '5',
      '--reason',
      'r',
    ];
    const refused = await cli(...args);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'warning: orders-7 has no ledger entry, and without --bootstrap-servers the cluster cannot confirm it exists',
    );
    expect(refused.stderr).toContain('give --bootstrap-servers to check, or --force');
    expect(refused.stdout).toBe('');
    expect((await new FileLedgerAdmin(path).get('orders', 1))?.generation).toBe(0);

    const forced = await cli(...args, '--force', '--id', 'forced-7');
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toContain('warning: orders-7 has no ledger entry');
    expect(await new FileLedgerAdmin(path).get('orders', 7)).toMatchObject({ generation: 1, committedOffset: 4 });

    // Partitions the ledger knows need nothing more.
    const known = await cli('reset', '--ledger-file', path, '--topic', 'orders', '--partition', '2', '--to-offset', '3', '--reason', 'r');
    expect(known.code, known.stderr).toBe(0);
    expect(known.stderr).not.toContain('warning');
  });

  it('locate asks for exactly one of --offset or --timestamp', async () => {
    for (const extra of [[], ['--offset', '3', '--timestamp', '2026-01-01T00:00:00Z']]) {
      const run = await cli('locate', '--ledger-file', path, '--bucket', 'b', '--topic', 'orders', '--partition', '0', ...extra);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('locate needs exactly one of --offset or --timestamp');
    }
  });

  it('an unknown option gets "did you mean …", a missing value says which option needs it', async () => {
    const typo = await cli('status', '--ledger-file', path, '--partiton', '1');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe('error: unknown option --partiton (did you mean --partition?)\n(see msk-s3-sink --help)\n');
    const far = await cli('status', '--ledger-file', path, '--colour');
    expect(far.stderr).toBe('error: unknown option --colour\n(see msk-s3-sink --help)\n');
    const single = await cli('status', '-x');
    expect(single.stderr).toBe('error: unknown option -x\n(see msk-s3-sink --help)\n');
    const missing = await cli('status', '--ledger-file');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('error: --ledger-file needs a value\n(see msk-s3-sink --help)\n');
  });
});
