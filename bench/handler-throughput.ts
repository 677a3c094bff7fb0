/**
 * Handler throughput on a 6 MB batch, as a ratio to the floor measured in the same run (the
 * measurement itself is in bench/lib/handler.ts, shared with `npm run bench`).
 *
 * Usage: npm run bench:handler [-- --compression gzip|zstd|none --runs N --batch-mb 6 --data realistic|sim --json FILE]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { measureHandlerThroughput, type Compression } from './lib/handler.ts';

const { values } = parseArgs({
  options: {
    compression: { type: 'string', default: 'gzip' },
    runs: { type: 'string', default: '15' },
    json: { type: 'string' },
    'batch-mb': { type: 'string', default: '6' },
    data: { type: 'string', default: 'realistic' },
  },
});
if (values.data !== 'realistic' && values.data !== 'sim') throw new Error(`--data: expected realistic or sim, got ${values.data}`);
if (!['gzip', 'zstd', 'none'].includes(values.compression)) throw new Error(`--compression: expected gzip, zstd or none, got ${values.compression}`);

const [result] = await measureHandlerThroughput({
  compressions: [values.compression as Compression],
  runs: Number(values.runs),
  warmup: 3,
  batchBytes: Number(values['batch-mb']) * 1024 * 1024,
  data: values.data,
});
const output = { ...result!, node: process.version };
console.table(output);
if (values.json) writeFileSync(values.json, `${JSON.stringify(output, null, 2)}\n`);
