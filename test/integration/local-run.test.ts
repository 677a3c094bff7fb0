/**
 * Local mode (`npm start`, local/run.ts) end to end: runs it as a child process on this
 * test's Node (24) with tsx, as `npm start` does; it starts its own emulators.
 */
import { describe, expect, it } from 'vitest';
import { runScript } from '../support/child.ts';

/** Runs `node --import tsx local/run.ts ...args` in the repository root. */
const runLocal = (args: readonly string[], extraEnv: Record<string, string> = {}) => runScript('local/run.ts', args, extraEnv);

function verification(stdout: string): { delivered: number; expected: number; duplicates: number } {
  const match = /^records delivered: (\d+) \(expected (\d+)\), duplicates: (\d+)$/m.exec(stdout);
  expect(match, stdout).not.toBeNull();
  return { delivered: Number(match![1]), expected: Number(match![2]), duplicates: Number(match![3]) };
}

function objectsWritten(stdout: string): number {
  const match = /^ {2}objects written +(\d+),/m.exec(stdout);
  expect(match, stdout).not.toBeNull();
  return Number(match![1]);
}

describe('local mode (local/run.ts)', () => {
  it('runs the handler on the sample events and a generated stream, and verifies the output', { timeout: 120_000 }, async () => {
    const run = await runLocal(['--records', '300', '--flush.size', '60']);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain(`node ${process.version}`);
    // 300 generated records plus the sample events' 6 + 1.
    expect(verification(run.stdout)).toEqual({ delivered: 307, expected: 307, duplicates: 0 });
    expect(run.stdout).toMatch(/^missing: 0, unexpected: 0, out of order: 0, values differing: 0, ledger mismatches: 0$/m);
    expect(run.stdout).toMatch(/^lost: 0, duplicated: 0$/m);
    expect(objectsWritten(run.stdout)).toBeGreaterThan(0);
    // flush.size is the mapping's BatchSize, across partitions: 300 records in 5 batches of 60, after the 2 sample events.
    expect(run.stdout).toMatch(/^ {2}invocations +7 \(7 ok, 0 failed and retried\)$/m);
    expect(run.stdout).toMatch(/^ {2}batches +5 \(closed: 5 full;/m);
    expect(run.stdout).toMatch(/^ {2}duplicates skipped +0 /m);
    expect(run.stdout).toMatch(/^ {2}sim\.orders-0 +0 +\d+ +topics\/sim\.orders\/partition=0\/sim\.orders\+0\+\d{20}\.jsonl\.gz$/m);
  });

  it('invokes the handler once with --event, as sam local invoke would', { timeout: 120_000 }, async () => {
    const run = await runLocal(['--event', 'test/fixtures/events/msk.json', '--compression', 'zstd']);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain('Event test/fixtures/events/msk.json: 6 records');
    expect(run.stdout).toContain('response: {"batchItemFailures":[]}');
    expect(run.stdout).toMatch(/^ {2}records in +6 from the source, 6 to deliver;/m);
    expect(verification(run.stdout)).toEqual({ delivered: 6, expected: 6, duplicates: 0 });
    expect(objectsWritten(run.stdout)).toBe(3);
    expect(run.stdout).toContain('.jsonl.zst');
  });

  it('rejects a bad option with exit code 2 and one line naming it, before starting anything', async () => {
    const run = await runLocal(['--frobnicate', '3']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toEqual(['error: unknown option --frobnicate (see --help)']);
  });

  it('rejects a bad value and a missing event file with exit code 2', async () => {
    const badValue = await runLocal(['--records', 'many']);
    expect(badValue.code).toBe(2);
    expect(badValue.stderr).toContain('--records: expected an integer');
    const missing = await runLocal(['--event', 'test/fixtures/events/no-such-event.json']);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toContain('no-such-event.json');
    expect(missing.stderr).toContain('no such file');
  });
});
