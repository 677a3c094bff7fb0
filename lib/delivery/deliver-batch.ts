import { SinkError } from '../core/errors.ts';
import { type KafkaBatch, partitionId } from '../core/model.ts';
import type { DeliveryOptions, DeliveryPorts } from './options.ts';
import type { PartitionReport } from './partition-report.ts';
import { PartitionWriter } from './partition-writer.ts';

/** What happened to a whole batch: one report per topic-partition, in the event's order. */
export interface BatchReport {
  readonly partitions: readonly PartitionReport[];
  readonly failed: readonly PartitionReport[];
}

/**
 * Delivers every topic-partition of a batch. Partitions run concurrently (at most
 * `maxConcurrency` at once); each partition's objects are written strictly in order by its own
 * writer. One partition's failure does not stop the others: their work stands either way, and
 * the ledger makes a redelivery of it a no-op.
 */
export async function deliverBatch(batch: KafkaBatch, options: DeliveryOptions, ports: DeliveryPorts): Promise<BatchReport> {
  const reports: PartitionReport[] = new Array(batch.partitions.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batch.partitions.length) {
      const index = next++;
      reports[index] = await new PartitionWriter(batch.partitions[index]!, options, ports).deliver();
    }
  };
  const workers = Math.max(1, Math.min(options.maxConcurrency, batch.partitions.length));
  await Promise.all(Array.from({ length: workers }, worker));
  // A failed partition always has an undelivered offset: its writer stops before committing all.
  return { partitions: reports, failed: reports.filter((report) => report.status === 'failed') };
}

/** The partial batch response of an event source mapping with `ReportBatchItemFailures`. */
export interface KafkaBatchItemFailures {
  readonly batchItemFailures: ReadonlyArray<{
    readonly itemIdentifier: { readonly partition: string; readonly offset: number };
  }>;
}

/** Some partitions of the batch could not be delivered; the mapping must deliver the batch again. */
export class BatchDeliveryError extends SinkError {
  readonly failed: readonly PartitionReport[];
  constructor(failed: readonly PartitionReport[]) {
    const parts = failed.map(
      (report) =>
        `${partitionId(report.topic, report.partition)} from offset ${report.firstUndeliveredOffset}: ` +
        `${report.error?.name ?? 'Error'}: ${report.error?.message ?? 'unknown'}`,
    );
    super(`${failed.length} partition(s) not delivered: ${parts.join('; ')}`, { cause: failed[0]?.error });
    this.name = 'BatchDeliveryError';
    this.failed = failed;
  }
}

/**
 * Turns a batch report into the handler's answer. Without partial batch responses any failure
 * throws, so the mapping retries the whole batch (a mapping without `ReportBatchItemFailures`
 * would take a returned list for success and commit past the failure). With them, each failed
 * partition is reported at its first undelivered offset and the other partitions' work stands.
 */
export function batchResponse(report: BatchReport, reportBatchItemFailures: boolean): KafkaBatchItemFailures {
  if (report.failed.length === 0) return { batchItemFailures: [] };
  if (!reportBatchItemFailures) throw new BatchDeliveryError(report.failed);
  return {
    batchItemFailures: report.failed.map((failed) => ({
      itemIdentifier: {
        partition: partitionId(failed.topic, failed.partition),
        offset: failed.firstUndeliveredOffset!,
      },
    })),
  };
}
