/** Section 4 of `npm run bench`: the cost per GB delivered beside Firehose and MSK Connect. */
import {
  type Assumptions,
  type BatchShape,
  type CostBreakdown,
  costPerGb,
  ledgerUnits,
  mskConnectPerGb,
  PRICES,
  type RequestsPerPartition,
} from '../lib/cost-model.ts';
import type { E2eResult } from '../lib/e2e.ts';
import { measureHandler, prepareEvent } from '../lib/handler.ts';
import type { BenchOptions } from '../lib/options.ts';
import { int, mib, out, section, table, usd } from '../lib/report.ts';
import { round } from '../lib/stats.ts';
import { realisticEvent } from '../realistic-data.ts';

/** Prints section 4 from the request counts and ledger item size `e2e` measured; puts its figures in `results`. */
export async function costSection(options: BenchOptions, e2e: E2eResult, results: Record<string, unknown>): Promise<void> {
  const { runs, assumptions } = options;
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
  const requests: RequestsPerPartition = e2e.requests.find((r) => r.scenario.startsWith('steady'))!.perPartition;
  const costAssumptions: Assumptions = { ...assumptions, ledgerItemBytes: e2e.ledgerItemBytes || assumptions.ledgerItemBytes };
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
