/**
 * `npm run bench`'s command line: its usage, and the options read from it. An unknown or bad
 * option prints its message and the usage and exits 2, before anything is measured; `--help`
 * prints the usage and exits 0.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Assumptions, DEFAULT_ASSUMPTIONS } from './cost-model.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const USAGE = `Usage: npm run bench [-- options]
  --quick                 fewer runs, shorter end-to-end runs (about 35 s)
  --long                  more runs, longer end-to-end runs (about 5 minutes)
  --runs N                counted handler runs per compression (default 21; --quick 5, --long 60)
  --e2e-seconds N         seconds of invocations per end-to-end batch size (default 15; --quick 4, --long 60)
  --init-runs N           fresh processes per cold-start variant (default 9; --quick 3, --long 21)
  --only LIST             any of handler,e2e,cost,cold,standalone (default: all; cost needs handler sizes, e2e requests)
  --memory-mb N           the function's memory for the cost model (default 1024, the construct's default)
  --partitions-per-batch N  topic-partitions per batch in the cost model (default 7)
  --mcu-mbps N            MB/s one MSK Connect MCU sustains (assumption, default 5)
  --mcu-utilisation F     MSK Connect average utilisation 0-1 (default 1: best case)
  --standalone-records N  records through the standalone worker per run (default 200000; --quick 60000, --long 500000)
  --out DIR               where to write JSON (default bench-results/)
  -h, --help`;

/** What `npm run bench` runs, and with what. */
export interface BenchOptions {
  /** Counted handler runs per compression. */
  readonly runs: number;
  /** Seconds of invocations per end-to-end batch size. */
  readonly e2eSeconds: number;
  /** Fresh processes per cold-start variant. */
  readonly initRuns: number;
  /** Records through the standalone worker per run, and its runs. */
  readonly standaloneRecords: number;
  readonly standaloneRuns: number;
  /** The sections to run: handler, e2e, cost, cold, standalone. */
  readonly only: ReadonlySet<string>;
  /** The cost model's assumptions, with the command line's. */
  readonly assumptions: Assumptions;
  /** Where to write JSON. */
  readonly out: string;
}

/** Reads the options from `process.argv` (exits on `--help` and on a bad option, see above). */
export function readBenchOptions(): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        quick: { type: 'boolean', default: false },
        long: { type: 'boolean', default: false },
        runs: { type: 'string' },
        'e2e-seconds': { type: 'string' },
        'init-runs': { type: 'string' },
        only: { type: 'string', default: 'handler,e2e,cost,cold,standalone' },
        'standalone-records': { type: 'string' },
        'memory-mb': { type: 'string' },
        'partitions-per-batch': { type: 'string' },
        'mcu-mbps': { type: 'string' },
        'mcu-utilisation': { type: 'string' },
        out: { type: 'string', default: join(ROOT, 'bench-results') },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    // An unknown or malformed option: its message and the usage, exit 2 (as for a bad value below).
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  function num(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) {
      console.error(`--${name}: expected a number from ${min} to ${max}, got ${value}\n\n${USAGE}`);
      process.exit(2);
    }
    return n;
  }
  const preset = values.quick
    ? { runs: 5, seconds: 4, initRuns: 3, standaloneRecords: 60_000, standaloneRuns: 1 }
    : values.long
      ? { runs: 60, seconds: 60, initRuns: 21, standaloneRecords: 500_000, standaloneRuns: 5 }
      : { runs: 21, seconds: 15, initRuns: 9, standaloneRecords: 200_000, standaloneRuns: 3 };
  const runs = num('runs', values.runs, preset.runs, 1, 1000);
  const e2eSeconds = num('e2e-seconds', values['e2e-seconds'], preset.seconds, 1, 3600);
  const initRuns = num('init-runs', values['init-runs'], preset.initRuns, 1, 200);
  const standaloneRecords = num('standalone-records', values['standalone-records'], preset.standaloneRecords, 1_000, 10_000_000);
  const only = new Set(values.only.split(',').map((s) => s.trim()));
  for (const part of only) {
    if (!['handler', 'e2e', 'cost', 'cold', 'standalone'].includes(part)) {
      console.error(`--only: unknown part ${part} (handler, e2e, cost, cold, standalone)\n\n${USAGE}`);
      process.exit(2);
    }
  }
  const assumptions: Assumptions = {
    ...DEFAULT_ASSUMPTIONS,
    memoryMb: num('memory-mb', values['memory-mb'], DEFAULT_ASSUMPTIONS.memoryMb, 128, 10240),
    partitionsPerBatch: num('partitions-per-batch', values['partitions-per-batch'], DEFAULT_ASSUMPTIONS.partitionsPerBatch, 1, 10000),
    mskConnectMBPerSecondPerMcu: num('mcu-mbps', values['mcu-mbps'], DEFAULT_ASSUMPTIONS.mskConnectMBPerSecondPerMcu, 0.01, 1000),
    mskConnectUtilisation: num('mcu-utilisation', values['mcu-utilisation'], DEFAULT_ASSUMPTIONS.mskConnectUtilisation, 0.01, 1),
  };
  return {
    runs,
    e2eSeconds,
    initRuns,
    standaloneRecords,
    standaloneRuns: preset.standaloneRuns,
    only,
    assumptions,
    out: values.out,
  };
}
