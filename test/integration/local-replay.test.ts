/**
 * The README's replay walk-through, as a new user runs it: deliver with local mode and keep the
 * data, reset a range with the operations CLI, deliver the same stream again, verify.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runScript } from '../support/child.ts';

const run = (script: string, args: readonly string[]) => runScript(script, args);

describe('replay walk-through on kept local data', () => {
  let dir: string;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reset, redeliver, verify: the range again, once, in a new generation', { timeout: 240_000 }, async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'msk-s3-sink-replay-')), 'kept');
    const first = await run('local/run.ts', ['--keep', dir, '--records', '400']);
    expect(first.code, first.stdout + first.stderr).toBe(0);

    const reset = await run('local/ops.ts', [
      dir,
      'reset',
      '--topic',
      'sim.orders',
      '--partition',
      '0',
      '--to-offset',
      '20',
      '--reason',
      'walk-through',
      '--force',
      '--json',
    ]);
    expect(reset.code, reset.stderr).toBe(0);
    expect(JSON.parse(reset.stdout).steps).toMatchObject([{ partition: 0, nextOffset: 20, toGeneration: 1, direction: 'replay' }]);

    const again = await run('local/run.ts', ['--keep', dir, '--records', '400']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^lost: 0, duplicated: 0$/m);
    expect(again.stdout).toMatch(/^superseded by a replay \(not counted\): [1-9]\d* line\(s\)/m);

    const verified = await run('local/ops.ts', [dir, 'verify', '--read', '--json']);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const report = JSON.parse(verified.stdout);
    expect(report.errors).toBe(0);
    expect(
      report.partitions.find((p: { topic: string; partition: number }) => p.topic === 'sim.orders' && p.partition === 0),
    ).toMatchObject({
      generation: 1,
    });
    expect(report.prunable.length).toBeGreaterThan(0);
  });

  it('refuses a directory that local mode did not keep', async () => {
    const result = await run('local/ops.ts', [ROOT, 'status']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('holds no data kept by local mode');
  });
});
