/**
 * Local mode (`npm start`, local/run.ts) with every format and a time layout: it runs, reads
 * every object back in its own format (and the dead letters), and checks exactly-once; a failing
 * invocation prints its error; a `--keep` rerun reports what it wrote itself. Few records: each
 * case starts its own emulators.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runScript } from '../support/child.ts';

const runLocal = (args: readonly string[], extraEnv: Record<string, string> = {}) => runScript('local/run.ts', args, extraEnv);

/** The summary's count after a label, e.g. `  dead letters   3 (...)`. */
function summary(stdout: string, label: string): number {
  const match = new RegExp(`^ {2}${label} +(\\d+)`, 'm').exec(stdout);
  expect(match, stdout).not.toBeNull();
  return Number(match![1]);
}

describe('local mode with every format and layout', () => {
  it('Parquet with errors.tolerance=all: reads the Parquet objects and the dead letters back, every record exactly once', {
    timeout: 120_000,
  }, async () => {
    const run = await runLocal(['--records', '20'], { SINK_FORMAT: 'parquet', SINK_ERRORS_TOLERANCE: 'all' });
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/^lost: 0, duplicated: 0$/m);
    expect(run.stdout).toMatch(/^missing: 0, unexpected: 0, out of order: 0, values differing: 0, ledger mismatches: 0$/m);
    // The sample events' value that is not a JSON object went to the dead letters.
    expect(summary(run.stdout, 'dead letters')).toBeGreaterThan(0);
    expect(run.stdout).toContain('.parquet');
    expect(run.stdout).toContain('OK: every record delivered exactly once');
  });

  it('raw bytes with the time partitioner: reads the values back by offset range', { timeout: 120_000 }, async () => {
    const run = await runLocal(['--records', '20', '--values', 'mixed'], {
      SINK_FORMAT: 'raw',
      SINK_ERRORS_TOLERANCE: 'all',
      SINK_PARTITIONER: 'time',
    });
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/^lost: 0, duplicated: 0$/m);
    expect(run.stdout).toMatch(/values differing: 0/);
    expect(run.stdout).toMatch(/topics\/sim\.\w+\/year=\d{4}\/month=\d\d\/day=\d\d\/hour=\d\d\/sim\.\w+\+\d+\+\d{20}\.bin\.gz/);
    expect(run.stdout).toContain('OK: every record delivered exactly once');
  });

  it('prints the error of a failing invocation (a sample event Parquet cannot hold, errors.tolerance=none)', {
    timeout: 120_000,
  }, async () => {
    const run = await runLocal(['--records', '10'], { SINK_FORMAT: 'parquet' });
    expect(run.code).toBe(1);
    expect(run.stderr).not.toContain('TypeError');
    expect(run.stdout).toMatch(/msk\.json: .*not JSON/);
    expect(run.stdout).toContain('SINK_ERRORS_TOLERANCE=all');
  });

  it('a --keep rerun reports the objects this run wrote, not those kept from before', { timeout: 240_000 }, async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'local-formats-keep-')), 'kept');
    try {
      const first = await runLocal(['--records', '10', '--keep', dir]);
      expect(first.code, `${first.stdout}\n${first.stderr}`).toBe(0);
      const written = summary(first.stdout, 'objects written');
      expect(written).toBeGreaterThan(0);
      // The same records again: every one a duplicate, nothing new written.
      const again = await runLocal(['--records', '10', '--keep', dir]);
      expect(again.code, `${again.stdout}\n${again.stderr}`).toBe(0);
      expect(summary(again.stdout, 'objects written')).toBe(0);
      expect(again.stdout).toContain(`${written} kept from earlier runs`);
      expect(again.stdout).toMatch(/^lost: 0, duplicated: 0$/m);
    } finally {
      await rm(join(dir, '..'), { recursive: true, force: true });
    }
  });
});
