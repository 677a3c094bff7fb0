/**
 * The scheduled completeness-marker writer CDK deploys next to the sink when the time partitioner
 * is on: an EventBridge schedule invokes `handler(event, context)`, and for each topic of
 * `MANIFEST_TOPICS` it writes the `_manifest.json` objects that have become due — the same job as
 * `msk-s3-sink manifest` (lib/ops/manifest.ts, `writeDueManifests`). Idempotent: a manifest that
 * is already there is left as it is, so a retried or overlapping invocation writes nothing twice.
 *
 * Configuration, read once at cold start: the sink's own `SINK_*` settings (bucket, prefix,
 * layout) and `LEDGER_TABLE`, plus `MANIFEST_TOPICS`, `MANIFEST_TOPIC_PARTITIONS` (`topic:count,...`:
 * partitions that never committed hold completeness back) and `MANIFEST_GRACE_MS`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { ScheduledEvent } from 'aws-lambda';
import { createAwsClients } from '../../lib/aws/clients.ts';
import { S3ObjectStore } from '../../lib/aws/s3-object-store.ts';
import { loadConfig } from '../../lib/config.ts';
import { ConfigurationError } from '../../lib/errors.ts';
import { createLayout, DEFAULT_LAYOUT } from '../../lib/layout.ts';
import { LedgerAdmin } from '../../lib/ops/ledger-admin.ts';
import { loadManifestJobSettings, manifestLayoutProblem, writeDueManifests } from '../../lib/ops/manifest.ts';
import { S3Inventory } from '../../lib/ops/s3-inventory.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../lib/sink.ts';

/** Manifests created by one invocation (EMF, namespace `MskS3Sink`). */
export const MANIFESTS_WRITTEN_METRIC = 'ManifestsWritten';

const config = loadConfig(process.env);
const settings = loadManifestJobSettings(process.env);
const layout = createLayout(config.layout ?? DEFAULT_LAYOUT);
const problem = manifestLayoutProblem(layout);
if (problem) throw new ConfigurationError(`Invalid manifest writer configuration: ${problem}`);
const clients = createAwsClients(config.aws);
const inventory = new S3Inventory({ client: clients.s3, bucket: config.bucket });
const ledger = new LedgerAdmin({ client: clients.dynamoDb, tableName: config.ledgerTable });
const store = new S3ObjectStore({ client: clients.s3, bucket: config.bucket });
const logger = new Logger({ serviceName: SERVICE_NAME });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, logger });

export interface ManifestWriterResult {
  readonly written: number;
  readonly existing: number;
  readonly pending: number;
  /** Topics whose run failed (logged); the invocation then fails after the other topics ran. */
  readonly failed: readonly string[];
}

async function writeAll(_event: ScheduledEvent): Promise<ManifestWriterResult> {
  let written = 0;
  let existing = 0;
  let pending = 0;
  const failed: string[] = [];
  for (const topic of settings.topics) {
    try {
      const result = await writeDueManifests({
        inventory,
        ledger,
        store,
        prefix: config.prefix,
        topic,
        layout,
        partitions: settings.partitions.get(topic),
        graceMs: settings.graceMs,
      });
      written += result.written.length;
      existing += result.existing.length;
      pending += result.plan.pending.length;
      logger.info('Manifests written', {
        topic,
        due: result.plan.manifests.length,
        written: result.written.length,
        existing: result.existing.length,
        pending: result.plan.pending.length,
        writtenKeys: result.written,
        waiting: result.plan.pending.slice(0, 10),
      });
    } catch (error) {
      failed.push(topic);
      logger.error('Manifest run failed', { topic, error: error as Error });
    }
  }
  metrics.addMetric(MANIFESTS_WRITTEN_METRIC, MetricUnit.Count, written);
  if (failed.length > 0) throw new Error(`manifest writer: failed for topic(s) ${failed.join(', ')} (see the log)`);
  return { written, existing, pending, failed };
}

export const handler = middy(writeAll)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
