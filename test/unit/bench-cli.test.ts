/**
 * The benchmark scripts' options: an unknown or bad option is one message and the usage, exit 2,
 * before anything is measured; `--help` prints the usage. (Their figures are never tested.)
 */
import { describe, expect, it } from 'vitest';
import { runScript } from '../support/child.ts';

describe('benchmark options', () => {
  it('npm run bench:handler: --help, an unknown option, a bad value', { timeout: 60_000 }, async () => {
    const help = await runScript('bench/handler-throughput.ts', ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: npm run bench:handler');
    expect(help.stdout).toContain('--compression NAME');

    const unknown = await runScript('bench/handler-throughput.ts', ['--nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--nope'");
    expect(unknown.stderr).toContain('Usage: npm run bench:handler');
    expect(unknown.stdout).toBe('');

    for (const [args, message] of [
      [['--runs', '0'], '--runs: expected a whole number from 1 to 1000, got 0'],
      [['--batch-mb', 'six'], '--batch-mb: expected a number from 0.01 to 64, got six'],
      [['--compression', 'lz4'], '--compression: expected gzip, zstd or none, got lz4'],
    ] as const) {
      const bad = await runScript('bench/handler-throughput.ts', [...args]);
      expect(bad.code, bad.stderr).toBe(2);
      expect(bad.stderr).toContain(message);
      expect(bad.stdout).toBe('');
    }
  });

  it('npm run bench: an unknown option exits 2 with the usage', { timeout: 60_000 }, async () => {
    const unknown = await runScript('bench/run.ts', ['--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--bogus'");
    expect(unknown.stderr).toContain('Usage: npm run bench');
    expect(unknown.stdout).toBe('');
  });
});
