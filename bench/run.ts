/**
 * `npm run bench`: the benchmark. Prints tables and writes JSON to bench-results/.
 *
 *  1. Handler throughput per compression vs the floor (in memory, 6 MB realistic batch).
 *  2. End to end through the emulators (S3 emulator, DynamoDB Local behind a counting proxy).
 *  3. Requests per topic-partition per batch, measured from the emulators' counters.
 *  4. Cost per GB delivered at several batch sizes beside Firehose (MSK source) and MSK Connect.
 *  5. Cold start: each function's bundle, its size, and its module initialisation as a ratio to
 *     a baseline handler with the two SDK clients alone.
 *  6. The standalone worker on a real Kafka broker against the floor (the same client, discarding).
 *
 * Usage: npm run bench [-- --quick | --long] [--runs N] [--e2e-seconds N] [--init-runs N]
 *          [--only handler,e2e,cost,cold,standalone] [--memory-mb 1024] [--partitions-per-batch 7]
 *          [--mcu-mbps 5] [--mcu-utilisation 1] [--standalone-records N] [--out DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { readBenchOptions } from './lib/options.ts';
import { out } from './lib/report.ts';
import { round } from './lib/stats.ts';
import { coldStartSection } from './sections/cold-start.ts';
import { costSection } from './sections/cost.ts';
import { e2eSection } from './sections/e2e.ts';
import { handlerSection } from './sections/handler.ts';
import { standaloneSection } from './sections/standalone.ts';

const options = readBenchOptions();
const { runs, e2eSeconds, initRuns, only, assumptions } = options;

const started = performance.now();
const machine = {
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGB: round(totalmem() / 1024 ** 3),
  note: 'shared, noisy machine: quote medians and ratios, not single absolute times',
};
out(`msk-s3-sink benchmark (node ${machine.node}, ${machine.platform}, ${machine.cpus} cores ${machine.cpuModel}, ${machine.memoryGB} GB)`);
out(
  `  handler runs ${runs} per compression (+3 warm-up), end to end ${e2eSeconds} s per batch size, cold start ${initRuns} processes per variant`,
);

const results: Record<string, unknown> = { machine, options: { runs, e2eSeconds, initRuns, only: [...only] }, assumptions };

if (only.has('handler')) await handlerSection(options, results);
const e2e = only.has('e2e') || only.has('cost') ? await e2eSection(options, results) : undefined;
if (only.has('cost')) await costSection(options, e2e!, results);
if (only.has('cold')) await coldStartSection(options, results);
if (only.has('standalone')) await standaloneSection(options, results);

const outDir = resolve(options.out);
mkdirSync(outDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const file = join(outDir, `bench-${stamp}.json`);
results['elapsedSeconds'] = round((performance.now() - started) / 1000);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
out();
out(`done in ${results['elapsedSeconds']} s; summary JSON: ${file} (also ${join(outDir, 'latest.json')})`);
