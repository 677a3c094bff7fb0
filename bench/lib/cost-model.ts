/**
 * Cost per GB delivered: msk-s3-sink (Lambda arm64 + DynamoDB on demand + S3 PUTs) beside
 * Amazon Data Firehose (MSK source) and MSK Connect, us-east-1 list prices.
 *
 * Pure functions: every input (prices, measured times and request counts, assumptions) is a
 * parameter, so the model is unit-tested (test/unit/bench-cost-model.test.ts) and the benchmark
 * feeds it what it measured.
 *
 * "GB delivered" = 2^30 bytes of Kafka record keys and values (decoded, before compression),
 * the quantity every one of the three services is fed. S3 storage, data transfer, CloudWatch
 * and the Kafka cluster itself are excluded (the same for all three).
 */

export interface Price {
  readonly usd: number;
  readonly unit: string;
  /** Where the figure was read, and what it says. */
  readonly source: string;
  /** When it was taken (the stored page's date is unknown: this is the day it was read). */
  readonly taken: string;
  /** false: not found in the stored pages; an assumption to verify before quoting. */
  readonly verified: boolean;
}

const TAKEN = '2026-11-26';

/** us-east-1 list prices. Each with its source; `verified: false` marks an assumption. */
export const PRICES = {
  lambdaArmGbSecond: {
    usd: 0.0000133334,
    unit: 'GB-second (arm64, first 7.5 billion GB-s/month)',
    source:
      'https://cloudchipr.com/blog/aws-lambda-pricing (ARM tier 1 $0.0000133334/GB-s, US East N. Virginia); the same figure in a stored copy of a Lambda cost guide (git.mcrn.ar lambda_local_runner docs/lambdas-md/lambda-13-cost.md). Official page https://aws.amazon.com/lambda/pricing/ stored without its price table',
    taken: TAKEN,
    verified: true,
  },
  lambdaRequest: {
    usd: 0.2 / 1_000_000,
    unit: 'request ($0.20 per 1M)',
    source: 'same pages as lambdaArmGbSecond ($0.20 per 1M requests, x86 and arm64)',
    taken: TAKEN,
    verified: true,
  },
  dynamoDbReadRequestUnit: {
    usd: 0.125 / 1_000_000,
    unit: 'read request unit, on demand ($0.125 per million; after the November 2024 cut of 50%)',
    source:
      'https://airbyte.com/data-engineering-resources/dynamodb-pricing ("after the 50% reduction implemented in late 2024 ... RRU $0.125 per million", US East); the cut: https://www.jusdb.com/blog/dynamodb-cost-optimization-a-comprehensive-guide-by-jusdb (effective 2024-11-01). Pre-cut figure $0.25 still on some pages (infratally.com). Official page not in the stored pages',
    taken: TAKEN,
    verified: true,
  },
  dynamoDbWriteRequestUnit: {
    usd: 0.625 / 1_000_000,
    unit: 'write request unit, on demand ($0.625 per million; after the November 2024 cut)',
    source: 'as dynamoDbReadRequestUnit (WRU $0.625 per million, US East)',
    taken: TAKEN,
    verified: true,
  },
  s3Put: {
    usd: 0.005 / 1000,
    unit: 'PUT/COPY/POST/LIST request, S3 Standard ($0.005 per 1,000)',
    source:
      'https://www.cloudkaramchari.com/blog/understanding-per-1000-put-copy-post-or-list-requests-in-amazon-s3-pricing/ ($0.005 per 1,000 PUT requests); official https://aws.amazon.com/s3/pricing/ not in the stored pages',
    taken: TAKEN,
    verified: true,
  },
  s3Get: {
    usd: 0.0004 / 1000,
    unit: 'GET/HEAD request, S3 Standard ($0.0004 per 1,000)',
    source:
      'ASSUMPTION: the S3 Standard GET/SELECT price as commonly published; not found in the stored pages. HEADs occur only off the happy path',
    taken: TAKEN,
    verified: false,
  },
  firehoseMskSourcePerGb: {
    usd: 0.055,
    unit: 'GB ingested, Amazon MSK as a source (first tier), billed on the higher of ingested and delivered bytes, no 5 KB rounding',
    source:
      'ASSUMPTION: the per-GB figure was NOT found in the stored pages. The billing rule (per GB, the higher of ingested and delivered bytes, no 5 KB increments) is from https://aws.amazon.com/jp/kinesis/data-firehose/pricing/ and https://aws.amazon.com/ru/kinesis/data-firehose/pricing/ (stored without the price table). Verify at https://aws.amazon.com/firehose/pricing/',
    taken: TAKEN,
    verified: false,
  },
  mskConnectMcuHour: {
    usd: 0.11,
    unit: 'MCU-hour (1 MCU = 1 vCPU + 4 GiB, per https://docs.aws.amazon.com/msk/latest/developerguide/msk-connect-capacity.html)',
    source:
      'secondary sources only: https://gist.github.com/EverettBerry/d24aa940ad43c313803248cea6366682 ("Connectors $0.11 per hour", a copy of the MSK pricing table, 2022) and third-party cost write-ups ($0.11 per MCU-hour, us-east-1); the official https://aws.amazon.com/msk/pricing/ was not in the stored pages',
    taken: TAKEN,
    verified: true,
  },
} as const satisfies Record<string, Price>;

export type Prices = { readonly [K in keyof typeof PRICES]: Price };

/** What the model assumes beyond what the benchmark measures; all stated in the output. */
export interface Assumptions {
  /** The function's memory (the CDK construct's default). */
  readonly memoryMb: number;
  /**
   * Lambda gives a full vCPU at 1,769 MB and CPU in proportion below it; the handler's CPU time
   * measured here (one core) is scaled by max(1, 1769 / memoryMb). An arm64 (Graviton) core is
   * taken to be as fast as this machine's core for this work.
   */
  readonly fullVcpuMb: number;
  /** Latency of one request, ms (partitions run in parallel; each partition's requests in sequence). */
  readonly ledgerReadMs: number;
  readonly s3PutMs: number;
  readonly ledgerWriteMs: number;
  /** Per-invocation overhead beyond the handler's work (runtime, middleware, event JSON parse), ms. */
  readonly invocationOverheadMs: number;
  /** Topic-partitions in one batch. */
  readonly partitionsPerBatch: number;
  /** The ledger item's size in bytes (RRU per 4 KB, WRU per 1 KB). */
  readonly ledgerItemBytes: number;
  /** MSK Connect: MB/s of record data one MCU sustains with the S3 sink (an assumption; see README). */
  readonly mskConnectMBPerSecondPerMcu: number;
  /** MSK Connect: average utilisation of the provisioned MCUs (1 = always saturated: the best case). */
  readonly mskConnectUtilisation: number;
}

export const DEFAULT_ASSUMPTIONS: Assumptions = {
  memoryMb: 1024,
  fullVcpuMb: 1769,
  ledgerReadMs: 5,
  s3PutMs: 40,
  ledgerWriteMs: 8,
  invocationOverheadMs: 5,
  partitionsPerBatch: 7,
  ledgerItemBytes: 300,
  mskConnectMBPerSecondPerMcu: 5,
  mskConnectUtilisation: 1,
};

/** Requests per topic-partition per batch (measured on the emulators). */
export interface RequestsPerPartition {
  readonly ledgerReads: number;
  readonly ledgerWrites: number;
  readonly s3Puts: number;
  readonly s3Heads: number;
}

export interface BatchShape {
  readonly label: string;
  readonly records: number;
  /** Decoded key + value bytes of the batch. */
  readonly payloadBytes: number;
  /** The handler's measured CPU time for the batch on this machine (one core), ms. */
  readonly handlerCpuMs: number;
}

export interface CostBreakdown {
  readonly label: string;
  readonly records: number;
  readonly payloadBytes: number;
  readonly batchesPerGb: number;
  /** Modelled billed duration of one invocation, ms. */
  readonly durationMs: number;
  readonly lambdaComputeUsd: number;
  readonly lambdaRequestsUsd: number;
  readonly dynamoDbUsd: number;
  readonly s3RequestsUsd: number;
  /** Per GB delivered. */
  readonly totalUsd: number;
  readonly firehoseUsd: number;
  readonly mskConnectUsd: number;
  /** total / Firehose. */
  readonly ratioToFirehose: number;
  readonly ratioToMskConnect: number;
}

export const GB = 1024 ** 3;

/** The billed duration of one invocation (rounded up to 1 ms, as Lambda bills). */
export function invocationDurationMs(batch: BatchShape, requests: RequestsPerPartition, a: Assumptions): number {
  const cpuScale = Math.max(1, a.fullVcpuMb / a.memoryMb);
  const io = requests.ledgerReads * a.ledgerReadMs + requests.s3Puts * a.s3PutMs + requests.ledgerWrites * a.ledgerWriteMs;
  return Math.ceil(batch.handlerCpuMs * cpuScale + io + a.invocationOverheadMs);
}

/** Request units per request of the ledger item: strongly consistent read 1 RRU per 4 KB, write 1 WRU per 1 KB. */
export function ledgerUnits(itemBytes: number): { rruPerRead: number; wruPerWrite: number } {
  return { rruPerRead: Math.max(1, Math.ceil(itemBytes / 4096)), wruPerWrite: Math.max(1, Math.ceil(itemBytes / 1024)) };
}

/** MSK Connect's cost per GB: MCU-hours per GB at the assumed throughput and utilisation. */
export function mskConnectPerGb(prices: Prices, a: Assumptions): number {
  const gbPerMcuHour = (a.mskConnectMBPerSecondPerMcu * a.mskConnectUtilisation * 3600) / 1024;
  return prices.mskConnectMcuHour.usd / gbPerMcuHour;
}

export function costPerGb(batch: BatchShape, requests: RequestsPerPartition, a: Assumptions, prices: Prices = PRICES): CostBreakdown {
  const batchesPerGb = GB / batch.payloadBytes;
  const durationMs = invocationDurationMs(batch, requests, a);
  const gbSeconds = (a.memoryMb / 1024) * (durationMs / 1000);
  const { rruPerRead, wruPerWrite } = ledgerUnits(a.ledgerItemBytes);
  const p = a.partitionsPerBatch;
  const lambdaComputeUsd = batchesPerGb * gbSeconds * prices.lambdaArmGbSecond.usd;
  const lambdaRequestsUsd = batchesPerGb * prices.lambdaRequest.usd;
  const dynamoDbUsd =
    batchesPerGb *
    p *
    (requests.ledgerReads * rruPerRead * prices.dynamoDbReadRequestUnit.usd +
      requests.ledgerWrites * wruPerWrite * prices.dynamoDbWriteRequestUnit.usd);
  const s3RequestsUsd = batchesPerGb * p * (requests.s3Puts * prices.s3Put.usd + requests.s3Heads * prices.s3Get.usd);
  const totalUsd = lambdaComputeUsd + lambdaRequestsUsd + dynamoDbUsd + s3RequestsUsd;
  // Firehose (MSK source) bills the higher of ingested and delivered bytes; it delivers the records
  // as they are (no envelope), so per GB ingested (more if it were to deliver more than it read).
  const firehoseUsd = prices.firehoseMskSourcePerGb.usd;
  const mskConnectUsd = mskConnectPerGb(prices, a);
  return {
    label: batch.label,
    records: batch.records,
    payloadBytes: batch.payloadBytes,
    batchesPerGb,
    durationMs,
    lambdaComputeUsd,
    lambdaRequestsUsd,
    dynamoDbUsd,
    s3RequestsUsd,
    totalUsd,
    firehoseUsd,
    mskConnectUsd,
    ratioToFirehose: totalUsd / firehoseUsd,
    ratioToMskConnect: totalUsd / mskConnectUsd,
  };
}
