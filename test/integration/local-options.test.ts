/**
 * Local mode's sources and fault injection, end to end as child processes (each starts its own
 * DynamoDB Local, ~3 s): `--input` with a JSON Lines file, `--chaos`, and the errors for bad
 * options and bad input files (which start nothing).
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runScript } from '../support/child.ts';

const runLocal = (args: readonly string[], extraEnv: Record<string, string> = {}) => runScript('local/run.ts', args, extraEnv);

const line = (stdout: string, pattern: RegExp): RegExpExecArray => {
  const match = pattern.exec(stdout);
  expect(match, stdout).not.toBeNull();
  return match!;
};

describe('local mode: --input, --chaos and bad input', () => {
  it('delivers a JSON Lines file of records from a timestamp start position', { timeout: 120_000 }, async () => {
    const run = await runLocal([
      '--input',
      'test/fixtures/local/records.jsonl',
      '--flush.size',
      '3',
      '--consumer.auto.offset.reset',
      '2025-11-26T00:00:03Z',
      '--compression',
      'none',
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain('Input test/fixtures/local/records.jsonl: 10 records in 4 partitions');
    // Records stamped before 00:00:03 are not delivered: 3 of them (two in orders-0, one in orders-1).
    expect(run.stdout).toContain('3 records before the start position (2025-11-26T00:00:03Z) not delivered');
    expect(run.stdout).toMatch(/^records delivered: 7 \(expected 7\), duplicates: 0$/m);
    expect(run.stdout).toMatch(/^lost: 0, duplicated: 0$/m);
    // Offsets given are kept (orders-0 at 14, clicks.v2-2 at 100); missing ones are assigned per partition.
    expect(run.stdout).toMatch(/^ {2}orders-0 +0 +14 +topics\/orders\/partition=0\/orders\+0\+00000000000000000014\.jsonl$/m);
    expect(run.stdout).toMatch(/^ {2}clicks\.v2-2 +0 +100 /m);
    expect(run.stdout).toMatch(/^ {2}orders-1 +0 +2 /m);
  });

  it('--chaos: faults are injected and the read-back shows nothing lost or duplicated', { timeout: 120_000 }, async () => {
    const run = await runLocal(['--records', '400', '--flush.size', '25', '--chaos', '--chaos-seed', '7'], {
      SINK_REPORT_BATCH_ITEM_FAILURES: 'true',
    });
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/^lost: 0, duplicated: 0$/m);
    expect(run.stdout).toMatch(/^records delivered: 407 \(expected 407\), duplicates: 0$/m);
    expect(run.stdout).toContain('OK: every record delivered exactly once');
    expect(run.stdout).toContain('SINK_REPORT_BATCH_ITEM_FAILURES=true');
    const injected = Number(line(run.stdout, /^Faults injected \(--chaos-seed 7\): (\d+)$/m)[1]);
    expect(injected).toBeGreaterThan(10);
    const [, invocations, ok, failed] = line(run.stdout, /^ {2}invocations +(\d+) \((\d+) ok, (\d+) failed and retried/m).map(Number);
    expect(invocations).toBe(ok! + failed!);
    expect(invocations).toBeGreaterThan(16); // 400 records in batches of 25, plus the 2 sample events, plus retries and twins
    expect(run.stdout).toMatch(/^ {2}(S3|DynamoDB) .+ +\d+$/m);
  });

  it('rejects a bad input file with every bad line named, before starting anything', async () => {
    const run = await runLocal(['--input', 'test/fixtures/local/bad.jsonl']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('--input test/fixtures/local/bad.jsonl: bad input, nothing was started:');
    expect(run.stderr).toContain('test/fixtures/local/bad.jsonl:2: offset: 4 is not above the previous offset of orders-0 (5)');
    expect(run.stderr).toContain('test/fixtures/local/bad.jsonl:3: not valid JSON');
  });

  it('rejects bad options and combinations with exit code 2 and one line each', async () => {
    const cases: Array<[string[], string]> = [
      [['--flush.size', '0'], '--flush.size: expected an integer from 1 to 10000, got "0"'],
      [['--offset.flush.interval.ms', '1500'], '--offset.flush.interval.ms: the batching window is set in whole seconds'],
      [
        ['--consumer.auto.offset.reset', 'yesterday'],
        '--consumer.auto.offset.reset: expected earliest, latest, an ISO-8601 date-time or epoch milliseconds',
      ],
      [['--key-skew', '1.5'], '--key-skew: expected a number from 0 to 1'],
      [['--values', 'text'], '--values: expected one of json, binary, mixed'],
      [['--chaos-seed', '3'], '--chaos-seed: only with --chaos'],
      [['--input', 'test/fixtures/local/records.jsonl', '--records', '5'], '--input: cannot be combined with --records'],
      [['--event', 'test/fixtures/events/msk.json', '--chaos'], '--event: cannot be combined with --chaos'],
      [['--input', 'test/fixtures/local/no-such.jsonl'], 'no-such.jsonl: cannot read'],
    ];
    const runs = await Promise.all(cases.map(([args]) => runLocal(args)));
    runs.forEach((run, i) => {
      expect(run.code, cases[i]![0].join(' ')).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(cases[i]![1]);
    });
  });

  it('refuses a --keep directory that is not empty, leaving it as it was', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'local-keep-'));
    try {
      await writeFile(join(dir, 'precious.txt'), 'keep me');
      const run = await runLocal(['--records', '10', '--keep', dir]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('is not empty');
      expect(await readdir(dir)).toEqual(['precious.txt']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
