/** Sections 2 and 3 of `npm run bench`: end to end through the emulators, and the requests per partition and batch. */
import { type E2eResult, runE2e } from '../lib/e2e.ts';
import type { BenchOptions } from '../lib/options.ts';
import { int, out, section, table } from '../lib/report.ts';

/**
 * Runs the emulators and prints sections 2 and 3 (end-to-end runs only with `--only e2e`: the cost
 * model needs the request counts alone), and puts their figures in `results`.
 */
export async function e2eSection(options: BenchOptions, results: Record<string, unknown>): Promise<E2eResult> {
  const { only, e2eSeconds } = options;
  section(
    '2. End to end through the emulators (real handler, S3 emulator, DynamoDB Local behind a counting proxy; gzip; one warm instance, invocations in sequence)',
  );
  const e2e = await runE2e(
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
  return e2e;
}
