/**
 * Handler throughput on a 6 MB batch, as a ratio to the floor measured in the same run (the
 * measurement itself is in bench/lib/handler.ts, shared with `npm run bench`).
 *
 * Usage: npm run bench:handler [-- --compression gzip|zstd|none --runs N --batch-mb 6 --data realistic|sim --json FILE]
 * (`-- --help` prints the options).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { measureHandlerThroughput, type Compression } from './lib/handler.ts';

const USAGE = `Usage: npm run bench:handler [-- options]
  --compression NAME   gzip | zstd | none (default gzip)
  --runs N             counted rounds, after 3 warm-ups (default 15; 1 to 1000)
  --batch-mb N         event size in MiB (default 6; 0.01 to 64)
  --data KIND          realistic | sim (default realistic; sim: the protocol tests' repetitive records)
  --json FILE          also write the result as JSON
  -h, --help`;

/** Exits 2 with `problem` and the usage. */
function usageError(problem: string): never {
  console.error(`${problem}\n\n${USAGE}`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    options: {
      compression: { type: 'string', default: 'gzip' },
      runs: { type: 'string', default: '15' },
      json: { type: 'string' },
      'batch-mb': { type: 'string', default: '6' },
      data: { type: 'string', default: 'realistic' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (error) {
  usageError((error as Error).message);
}
const { values } = parsed;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (values.data !== 'realistic' && values.data !== 'sim') usageError(`--data: expected realistic or sim, got ${values.data}`);
if (!['gzip', 'zstd', 'none'].includes(values.compression))
  usageError(`--compression: expected gzip, zstd or none, got ${values.compression}`);
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 1000) usageError(`--runs: expected a whole number from 1 to 1000, got ${values.runs}`);
const batchMb = Number(values['batch-mb']);
if (!Number.isFinite(batchMb) || batchMb < 0.01 || batchMb > 64)
  usageError(`--batch-mb: expected a number from 0.01 to 64, got ${values['batch-mb']}`);

const [result] = await measureHandlerThroughput({
  compressions: [values.compression as Compression],
  runs,
  warmup: 3,
  batchBytes: batchMb * 1024 * 1024,
  data: values.data,
});
const output = { ...result!, node: process.version };
console.table(output);
if (values.json) writeFileSync(values.json, `${JSON.stringify(output, null, 2)}\n`);
