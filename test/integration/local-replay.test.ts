/**
 * The README's replay walk-through, as a new user runs it: deliver with local mode and keep the
 * data, reset a range with the operations CLI, deliver the same stream again, verify.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function run(script: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('SINK_') && name !== 'LEDGER_TABLE' && !name.startsWith('AWS_')),
  );
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', script, ...args],
      { cwd: ROOT, env: { ...env, INIT_CWD: ROOT }, timeout: 110_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
    );
  });
}

describe('replay walk-through on kept local data', () => {
  let dir: string;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reset, redeliver, verify: the range again, once, in a new generation', { timeout: 240_000 }, async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'msk-s3-sink-replay-')), 'kept');
    const first = await run('local/run.ts', ['--keep', dir, '--records', '400']);
    expect(first.code, first.stdout + first.stderr).toBe(0);

    const reset = await run('local/ops.ts', [dir, 'reset', '--topic', 'sim.orders', '--partition', '0', '--to-offset', '20', '--reason', 'walk-through', '--force', '--json']);
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
    expect(report.partitions.find((p: { topic: string; partition: number }) => p.topic === 'sim.orders' && p.partition === 0)).toMatchObject({
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
