import { describe, expect, it } from 'vitest';
import {
  costPerGb,
  DEFAULT_ASSUMPTIONS,
  GB,
  invocationDurationMs,
  ledgerUnits,
  mskConnectPerGb,
  PRICES,
  type Prices,
} from '../../bench/lib/cost-model.ts';
import { median, percentile } from '../../bench/lib/stats.ts';

const happy = { ledgerReads: 1, ledgerWrites: 1, s3Puts: 1, s3Heads: 0 };
const round = (n: number) => Number(n.toPrecision(10));

describe('bench cost model', () => {
  it('bills the handler CPU time scaled to the memory, plus the requests in sequence, rounded up to 1 ms', () => {
    const batch = { label: 'x', records: 1000, payloadBytes: 1_000_000, handlerCpuMs: 10.2 };
    const a = {
      ...DEFAULT_ASSUMPTIONS,
      memoryMb: 1024,
      fullVcpuMb: 2048,
      ledgerReadMs: 5,
      s3PutMs: 40,
      ledgerWriteMs: 8,
      invocationOverheadMs: 5,
    };
    expect(invocationDurationMs(batch, happy, a)).toBe(Math.ceil(20.4 + 53 + 5));
    // At or above a full vCPU, no scaling.
    expect(invocationDurationMs(batch, happy, { ...a, memoryMb: 4096 })).toBe(Math.ceil(10.2 + 53 + 5));
  });

  it('counts request units: 1 RRU per 4 KB (consistent read), 1 WRU per 1 KB', () => {
    expect(ledgerUnits(200)).toEqual({ rruPerRead: 1, wruPerWrite: 1 });
    expect(ledgerUnits(1025)).toEqual({ rruPerRead: 1, wruPerWrite: 2 });
    expect(ledgerUnits(4097)).toEqual({ rruPerRead: 2, wruPerWrite: 5 });
  });

  it('adds up each service per GB from the batches per GB', () => {
    const prices: Prices = {
      ...PRICES,
      lambdaArmGbSecond: { ...PRICES.lambdaArmGbSecond, usd: 1e-5 },
      lambdaRequest: { ...PRICES.lambdaRequest, usd: 1e-6 },
      dynamoDbReadRequestUnit: { ...PRICES.dynamoDbReadRequestUnit, usd: 1e-7 },
      dynamoDbWriteRequestUnit: { ...PRICES.dynamoDbWriteRequestUnit, usd: 5e-7 },
      s3Put: { ...PRICES.s3Put, usd: 5e-6 },
      firehoseMskSourcePerGb: { ...PRICES.firehoseMskSourcePerGb, usd: 0.05 },
    };
    const a = {
      ...DEFAULT_ASSUMPTIONS,
      memoryMb: 2048,
      fullVcpuMb: 1024,
      ledgerReadMs: 0,
      s3PutMs: 0,
      ledgerWriteMs: 0,
      invocationOverheadMs: 0,
      partitionsPerBatch: 4,
      ledgerItemBytes: 300,
    };
    const batch = { label: 'b', records: 1024, payloadBytes: GB / 1024, handlerCpuMs: 100 };
    const cost = costPerGb(batch, happy, a, prices);
    expect(cost.batchesPerGb).toBe(1024);
    expect(cost.durationMs).toBe(100);
    expect(round(cost.lambdaComputeUsd)).toBe(round(1024 * 2 * 0.1 * 1e-5));
    expect(round(cost.lambdaRequestsUsd)).toBe(round(1024 * 1e-6));
    expect(round(cost.dynamoDbUsd)).toBe(round(1024 * 4 * (1e-7 + 5e-7)));
    expect(round(cost.s3RequestsUsd)).toBe(round(1024 * 4 * 5e-6));
    expect(round(cost.totalUsd)).toBe(round(cost.lambdaComputeUsd + cost.lambdaRequestsUsd + cost.dynamoDbUsd + cost.s3RequestsUsd));
    expect(round(cost.ratioToFirehose)).toBe(round(cost.totalUsd / 0.05));
  });

  it('prices MSK Connect per GB from MCU-hours at the assumed throughput and utilisation', () => {
    const a = { ...DEFAULT_ASSUMPTIONS, mskConnectMBPerSecondPerMcu: 1024 / 3600, mskConnectUtilisation: 1 };
    expect(round(mskConnectPerGb(PRICES, a))).toBe(round(PRICES.mskConnectMcuHour.usd));
    expect(round(mskConnectPerGb(PRICES, { ...a, mskConnectUtilisation: 0.5 }))).toBe(round(2 * PRICES.mskConnectMcuHour.usd));
  });

  it('names a source for every price and marks the unverified ones', () => {
    for (const price of Object.values(PRICES)) {
      expect(price.source).not.toBe('');
      expect(price.taken).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      if (!price.verified) expect(price.source).toMatch(/ASSUMPTION/);
    }
  });
});

describe('bench stats', () => {
  it('median and nearest-rank percentile', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(3);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBe(10);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
  });
});
