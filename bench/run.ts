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
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measureColdStart, type ColdStartResult } from './lib/cold-start.ts';
import {
  costPerGb,
  DEFAULT_ASSUMPTIONS,
  ledgerUnits,
  mskConnectPerGb,
  PRICES,
  type Assumptions,
  type BatchShape,
  type CostBreakdown,
  type RequestsPerPartition,
} from './lib/cost-model.ts';
import { runE2e, type E2eResult } from './lib/e2e.ts';
import { measureFormats, measureHandler, measureHandlerThroughput, prepareEvent, type HandlerResult } from './lib/handler.ts';
import { runStandaloneBench, type StandaloneBenchResult } from './lib/standalone.ts';
import { round } from './lib/stats.ts';
import { realisticEvent } from './realistic-data.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const USAGE = `Usage: npm run bench [-- options]
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

// ---------------------------------------------------------------------------------------------
// Output helpers

const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
function table(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>, align: 'left' | 'right' = 'right'): void {
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]) =>
    row.map((cell, i) => (i === 0 || align === 'left' ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  out(`  ${line(headers)}`);
  out(`  ${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const row of cells.slice(1)) out(`  ${line(row)}`);
}
const usd = (value: number): string => (value >= 0.01 ? `$${value.toFixed(4)}` : `$${value.toFixed(5)}`);
const int = (value: number): string => Math.round(value).toLocaleString('en-US');
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
const section = (title: string): void => {
  out();
  out(title);
};

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

// ---------------------------------------------------------------------------------------------
// 1. Handler throughput

let handler: HandlerResult[] | undefined;
if (only.has('handler')) {
  section('1. Handler throughput, in memory (parse, encode, compress; S3 and DynamoDB in memory), realistic 6 MB batch');
  out(
    '   floor = the same bytes through base64 decode and the same compressor alone; ratio = floor time / handler time (1 = as fast as the floor)',
  );
  handler = await measureHandlerThroughput({
    compressions: ['gzip', 'zstd', 'none'],
    runs,
    warmup: 3,
    batchBytes: 6 * 1024 * 1024,
    data: 'realistic',
  });
  const first = handler[0]!;
  out(
    `   batch: ${int(first.records)} records over ${first.partitions} partitions, ${mib(first.eventBytes)} of event JSON, ${mib(first.keyValueBytes)} of keys and values`,
  );
  table(
    [
      'compression',
      'handler ms',
      'floor ms',
      'ratio',
      'CPU ratio',
      'ceiling',
      'own work ms',
      'records/s',
      'MB/s (event)',
      'MB/s (payload)',
      'bytes out/record',
      'out/in',
    ],
    handler.map((r) => [
      r.compression,
      r.handlerMedianMs,
      r.floorMedianMs,
      r.ratioToFloor.toFixed(2),
      r.cpuRatioToFloor.toFixed(2),
      r.ceilingRatio?.toFixed(2) ?? '',
      r.ownWorkMs ?? '',
      int(r.handlerRecordsPerSecond),
      r.handlerMBPerSecond,
      r.handlerPayloadMBPerSecond,
      r.bytesOutPerRecord,
      (r.storedBytes / r.keyValueBytes).toFixed(2),
    ]),
  );
  out('   (medians of interleaved runs; the ratio is the median of per-pair ratios; aim: ratio >= 0.8)');
  out(
    "   ceiling = floor time / (the floor's decode + the same compressor on the handler's own bodies, uncompressed): the ratio a handler",
  );
  out("   writing this format with no other work would reach; own work = handler time - that ideal handler's (parse, validate, encode)");
  results['handler'] = handler;

  section("1b. Handler throughput per format, same batch (floor: base64 decode + the format's compressor; Parquet snappy: decode only)");
  const formats = await measureFormats({
    runs: Math.max(3, Math.round(runs / 2)),
    warmup: 2,
    batchBytes: 6 * 1024 * 1024,
    data: 'realistic',
  });
  table(
    [
      'format',
      'handler ms',
      'floor ms',
      'ratio',
      'CPU ratio',
      'records/s',
      'MB/s (payload)',
      'objects',
      'records in objects',
      'dead letters',
      'bytes out/record',
    ],
    formats.map((r) => [
      r.format,
      r.handlerMedianMs,
      r.floorMedianMs,
      r.ratioToFloor.toFixed(2),
      r.cpuRatioToFloor.toFixed(2),
      int(r.handlerRecordsPerSecond),
      r.handlerPayloadMBPerSecond,
      r.objects,
      int(r.objectRecords),
      int(r.deadLetters),
      r.bytesOutPerRecord,
    ]),
  );
  out(
    '   (raw bytes: values holding the separator \\n (pretty-printed JSON) are poison; Parquet: values that are not JSON objects (text, binary) are poison;',
  );
  out(
    '    both with errors.tolerance=all, so they go to the dead letters, which the handler time includes. bytes out/record: object bytes / records in objects)',
  );
  results['formats'] = formats;
}

// ---------------------------------------------------------------------------------------------
// 2 and 3. End to end and requests

let e2e: E2eResult | undefined;
if (only.has('e2e') || only.has('cost')) {
  section(
    '2. End to end through the emulators (real handler, S3 emulator, DynamoDB Local behind a counting proxy; gzip; one warm instance, invocations in sequence)',
  );
  e2e = await runE2e(
    { seconds: only.has('e2e') ? e2eSeconds : 1, batchRecords: only.has('e2e') ? [100, 1000, 'max'] : [], compression: 'gzip' },
    out,
  );
  if (e2e.throughput.length > 0) {
    table(
      ['batch', 'MB/batch', 'invocations', 'records/s', 'MB/s (event)', 'MB/s (payload)', 'p50 ms', 'p95 ms', 'max ms'],
      e2e.throughput.map((t) => [
        t.label,
        t.eventMBPerBatch,
        t.invocations,
        int(t.recordsPerSecond),
        t.eventMBPerSecond,
        t.payloadMBPerSecond,
        t.latencyP50Ms,
        t.latencyP95Ms,
        t.latencyMaxMs,
      ]),
    );
    out(
      '   (for reference only: loopback emulators, not AWS latencies; the S3 emulator and DynamoDB Local share the 2 cores with the handler)',
    );
  }
  section('3. Requests per topic-partition per batch, counted by the emulators (7 partitions per batch, 100 records each)');
  table(
    ['scenario', 'batches', 'GetItem', 'UpdateItem', 'PutObject', 'HeadObject', 'other'],
    e2e.requests.map((r) => [
      r.scenario,
      r.batches,
      r.perPartition.ledgerReads,
      r.perPartition.ledgerWrites,
      r.perPartition.s3Puts,
      r.perPartition.s3Heads,
      r.perPartition.other,
    ]),
  );
  const happy = e2e.requests.find((r) => r.scenario.startsWith('steady'))!.perPartition;
  const redelivery = e2e.requests.find((r) => r.scenario.startsWith('redelivery'))!.perPartition;
  const aim = happy.s3Puts <= 1 && happy.ledgerReads + happy.ledgerWrites <= 2 && happy.s3Heads === 0 && happy.other === 0;
  out(`   aim (happy path): at most 1 S3 PUT and 2 ledger requests per partition per batch: ${aim ? 'met' : 'NOT met'}`);
  out(
    `   redelivery: ${redelivery.ledgerReads} read, ${redelivery.ledgerWrites} writes, ${redelivery.s3Puts} PUTs per partition (expected 1, 0, 0): ${redelivery.ledgerReads === 1 && redelivery.ledgerWrites === 0 && redelivery.s3Puts === 0 && redelivery.s3Heads === 0 ? 'as expected' : 'DIFFERENT'}`,
  );
  out(`   ledger items: ${e2e.ledgerItems}, largest ${e2e.ledgerItemBytes} bytes (DynamoDB item-size rules, approximately)`);
  results['e2e'] = e2e;
}

// ---------------------------------------------------------------------------------------------
// 4. Cost model

if (only.has('cost')) {
  section(`4. Cost per GB delivered (us-east-1; 1 GB = 2^30 bytes of record keys and values; Lambda arm64 ${assumptions.memoryMb} MB)`);
  // The handler's CPU time per batch, measured at each batch size (in memory, gzip).
  const sizes: Array<{ label: string; records: number | 'max' }> = [
    { label: '100 records', records: 100 },
    { label: '1,000 records', records: 1000 },
    { label: '10,000 records', records: 10000 },
    { label: '6 MB max event', records: 'max' },
  ];
  const perRecordEventBytes = (() => {
    const prepared = prepareEvent(realisticEvent(1024 * 1024));
    return prepared.eventText.length / prepared.recordCount;
  })();
  const requests: RequestsPerPartition = e2e!.requests.find((r) => r.scenario.startsWith('steady'))!.perPartition;
  const costAssumptions: Assumptions = { ...assumptions, ledgerItemBytes: e2e!.ledgerItemBytes || assumptions.ledgerItemBytes };
  const rows: Array<CostBreakdown & { note: string; handlerCpuMs: number }> = [];
  for (const size of sizes) {
    const targetBytes = size.records === 'max' ? 6 * 1024 * 1024 - 64 * 1024 : Math.round(size.records * perRecordEventBytes);
    const prepared = prepareEvent(realisticEvent(targetBytes));
    const measured = await measureHandler('gzip', prepared, {
      compressions: ['gzip'],
      runs: Math.max(5, Math.round(runs / 2)),
      warmup: 2,
      batchBytes: targetBytes,
      data: 'realistic',
    });
    const batch: BatchShape = {
      label: size.label,
      records: prepared.recordCount,
      payloadBytes: measured.keyValueBytes,
      handlerCpuMs: measured.handlerCpuMedianMs,
    };
    const note =
      prepared.eventText.length > 6 * 1024 * 1024
        ? `hypothetical: a ${mib(prepared.eventText.length)} event is over Lambda's 6 MB payload limit`
        : '';
    rows.push({ ...costPerGb(batch, requests, costAssumptions), note, handlerCpuMs: measured.handlerCpuMedianMs });
  }
  table(
    [
      'batch',
      'records',
      'KiB payload',
      'handler CPU ms',
      'billed ms',
      'Lambda GB-s',
      'Lambda req',
      'DynamoDB',
      'S3 PUT',
      'total/GB',
      'Firehose/GB',
      'vs Firehose',
      'MSK Connect/GB',
      'vs MSK Connect',
    ],
    rows.map((r) => [
      r.label,
      int(r.records),
      (r.payloadBytes / 1024).toFixed(0),
      r.handlerCpuMs,
      r.durationMs,
      usd(r.lambdaComputeUsd),
      usd(r.lambdaRequestsUsd),
      usd(r.dynamoDbUsd),
      usd(r.s3RequestsUsd),
      usd(r.totalUsd),
      usd(r.firehoseUsd),
      `${r.ratioToFirehose.toFixed(2)}x`,
      usd(r.mskConnectUsd),
      `${r.ratioToMskConnect.toFixed(2)}x`,
    ]),
  );
  for (const r of rows.filter((row) => row.note)) out(`   ${r.label}: ${r.note}`);
  const units = ledgerUnits(costAssumptions.ledgerItemBytes);
  out('   Assumptions:');
  out(
    `   - records: the realistic generator's (${int(rows[1]!.payloadBytes / rows[1]!.records)} B of key+value, ${int(perRecordEventBytes)} B of event JSON per record on average), gzip output`,
  );
  out(
    `   - billed duration = handler CPU time measured here x ${round(Math.max(1, costAssumptions.fullVcpuMb / costAssumptions.memoryMb), 2)} (a ${costAssumptions.memoryMb} MB function gets ${costAssumptions.memoryMb}/${costAssumptions.fullVcpuMb} of a vCPU; an arm64 core taken as fast as this machine's)`,
  );
  out(
    `     + per partition in sequence (partitions in parallel): GetItem ${costAssumptions.ledgerReadMs} ms + PutObject ${costAssumptions.s3PutMs} ms + UpdateItem ${costAssumptions.ledgerWriteMs} ms, + ${costAssumptions.invocationOverheadMs} ms per invocation (stated, not measured)`,
  );
  out(
    `   - ${costAssumptions.partitionsPerBatch} topic-partitions per batch; requests per partition per batch as measured above (${requests.ledgerReads} GetItem, ${requests.ledgerWrites} UpdateItem, ${requests.s3Puts} PutObject, ${requests.s3Heads} HeadObject)`,
  );
  out(
    `   - ledger item ${costAssumptions.ledgerItemBytes} B: GetItem ConsistentRead = ${units.rruPerRead} RRU (1 per 4 KB; an eventually consistent read would be half), UpdateItem = ${units.wruPerWrite} WRU (1 per 1 KB)`,
  );
  out(
    `   - MSK Connect: 1 MCU sustains ${costAssumptions.mskConnectMBPerSecondPerMcu} MB/s at ${costAssumptions.mskConnectUtilisation * 100}% utilisation (ASSUMPTION), so ${usd(mskConnectPerGb(PRICES, costAssumptions))}/GB; its always-on minimum (1 worker x 1 MCU = ${usd(PRICES.mskConnectMcuHour.usd * 730)}/month) is not in the per-GB figure`,
  );
  out(
    '   - excluded (the same for all three): S3 storage, data transfer, the Kafka cluster, CloudWatch; the event source mapping in on-demand mode has no charge of its own (provisioned mode bills event poller units)',
  );
  out('   Prices (us-east-1):');
  for (const [name, price] of Object.entries(PRICES))
    out(
      `   - ${name}: $${price.usd < 0.001 ? price.usd.toPrecision(6) : price.usd} per ${price.unit}${price.verified ? '' : '  [ASSUMPTION]'}\n       source: ${price.source} (taken ${price.taken})`,
    );
  results['cost'] = { assumptions: costAssumptions, requestsPerPartition: requests, prices: PRICES, rows };
}

// ---------------------------------------------------------------------------------------------
// 5. Cold start

let cold: ColdStartResult | undefined;
if (only.has('cold')) {
  section(
    '5. Cold start: each function as the CDK construct bundles it (esbuild through NodejsFunction), and its module initialisation in fresh Node processes against a baseline of the two SDK clients alone',
  );
  cold = await measureColdStart({ runs: initRuns }, out);
  table(
    ['function', 'index.mjs', 'bytes', 'index.mjs.map', 'zip (index.mjs + map, as uploaded)', 'zip (index.mjs alone)'],
    cold.bundles.map((b) => [b.name, kib(b.indexBytes), b.indexBytes, kib(b.sourceMapBytes), kib(b.zipBytes), kib(b.zipIndexOnlyBytes)]),
  );
  out();
  table(
    ['variant', 'import median ms', 'min', 'max', 'import CPU ms', 'process start to ready ms', 'RSS MB'],
    cold.init.map((t) => [
      t.variant,
      t.importMedianMs,
      t.importMinMs,
      t.importMaxMs,
      t.importCpuMedianMs,
      t.processToReadyMedianMs,
      t.rssMedianMB,
    ]),
  );
  out(
    `   (${initRuns} fresh processes per variant, interleaved, after one warm-up round; env points at unreachable loopback endpoints: initialisation does no I/O)`,
  );
  out();
  table(
    ['function', 'init / baseline (wall)', 'init / baseline (CPU)'],
    cold.ratios.map((r) => [r.name, r.importRatio, r.importCpuRatio]),
  );
  out("   (median over rounds of the function's import time over the baseline's in the same round; aim: at most 1.3)");
  results['coldStart'] = cold;
}

// ---------------------------------------------------------------------------------------------
// 6. The standalone worker on a real broker

if (only.has('standalone')) {
  section(
    '6. Standalone worker on a real Kafka broker (one node, loopback) vs the floor: the same client (@platformatic/kafka, same fetch sizes) consuming and discarding',
  );
  const partitions = 6;
  const standalone: StandaloneBenchResult = await runStandaloneBench(
    { records: standaloneRecords, partitions, runs: preset.standaloneRuns, flushSize: 10_000 },
    out,
  );
  table(
    ['', 'median s', 'records/s', 'MiB/s (keys+values+headers)'],
    [
      [
        'floor (consume and discard)',
        round(standalone.floorMedianMs / 1000, 2),
        int(standalone.floorRecordsPerSecond),
        standalone.floorMiBPerSecond,
      ],
      [
        'worker (file ledger, S3 emulator)',
        round(standalone.workerMedianMs / 1000, 2),
        int(standalone.workerRecordsPerSecond),
        standalone.workerMiBPerSecond,
      ],
    ],
  );
  out(
    `   ratio (floor time / worker time, median of ${standalone.runs.length} interleaved runs): ${standalone.ratio.toFixed(2)}  (aim: >= 0.7)`,
  );
  out(
    `   ${int(standalone.records)} realistic records over ${partitions} partitions; flush.size ${int(standalone.flushSize)}; both from a fresh group, join included; the worker writes`,
  );
  out('   gzip JSON Lines objects to the S3 emulator and commits a file ledger; broker, emulator, worker and floor share the 2 cores');
  results['standalone'] = standalone;
}

// ---------------------------------------------------------------------------------------------

const outDir = resolve(values.out);
mkdirSync(outDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const file = join(outDir, `bench-${stamp}.json`);
results['elapsedSeconds'] = round((performance.now() - started) / 1000);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
out();
out(`done in ${results['elapsedSeconds']} s; summary JSON: ${file} (also ${join(outDir, 'latest.json')})`);
