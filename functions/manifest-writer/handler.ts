/**
 * The scheduled completeness-marker writer CDK deploys next to the sink when the time partitioner
 * is on: an EventBridge schedule invokes `handler(event, context)`, and for each topic of
 * `MANIFEST_TOPICS` it writes the `_manifest.json` objects that have become due — the same
 * manifests as `msk-s3-sink manifest`, but incrementally (lib/manifest/incremental.ts, `advanceManifests`):
 * a cursor per partition in `{prefix}{topic}/_manifest-state.json`, only the objects written
 * since the last run examined, at most `MANIFEST_MAX_OBJECTS_PER_RUN` per topic (the rest is the
 * backlog, for the next run). Idempotent: a manifest that is already there is left as it is, and
 * the state is saved with If-Match, so a retried or overlapping invocation writes nothing twice.
 *
 * Configuration, read once at cold start: the sink's own `SINK_*` settings (bucket, prefix,
 * layout) and `LEDGER_TABLE`, plus `MANIFEST_TOPICS`, `MANIFEST_TOPIC_PARTITIONS` (`topic:count,...`:
 * partitions that never committed hold completeness back), `MANIFEST_GRACE_MS` and
 * `MANIFEST_MAX_OBJECTS_PER_RUN`.
 *
 * Metrics (EMF, namespace `MskS3Sink`, every invocation, zero included): `ManifestsWritten`,
 * `ManifestObjectsExamined`, `ManifestBacklog` (objects left for the next run: alarm when it stays
 * above zero) and `ManifestWriterFailures` (topics whose run failed or is stuck on an object it
 * cannot read: alarm at >= 1).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { ScheduledEvent } from 'aws-lambda';
import { createAwsClients } from '../../lib/aws/clients.ts';
import { S3ObjectStore } from '../../lib/aws/s3-object-store.ts';
import { loadConfig } from '../../lib/config/config.ts';
import { ConfigurationError } from '../../lib/core/errors.ts';
import { createLayout, DEFAULT_LAYOUT } from '../../lib/layout/layout.ts';
import { LedgerAdmin } from '../../lib/aws/dynamodb-ledger-admin.ts';
import { loadManifestJobSettings } from '../../lib/manifest/job-settings.ts';
import { manifestLayoutProblem } from '../../lib/manifest/manifest.ts';
import { type ManifestJobResult, runManifestJob } from '../../lib/manifest/manifest-job.ts';
import { S3ManifestStateStore } from '../../lib/aws/manifest-state-s3.ts';
import { S3Inventory } from '../../lib/aws/s3-inventory.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../lib/sink/sink.ts';

/** Manifests created by one invocation (EMF, namespace `MskS3Sink`). */
export const MANIFESTS_WRITTEN_METRIC = 'ManifestsWritten';
/** Objects examined (HEAD) by one invocation, all topics. */
export const MANIFEST_OBJECTS_EXAMINED_METRIC = 'ManifestObjectsExamined';
/** Objects found past the cursors but left for the next run (the per-run cap), all topics. */
export const MANIFEST_BACKLOG_METRIC = 'ManifestBacklog';
/** Topics whose run failed, or that are stuck on an object whose metadata cannot be read. */
export const MANIFEST_FAILURES_METRIC = 'ManifestWriterFailures';

const config = loadConfig(process.env);
const settings = loadManifestJobSettings(process.env);
const layout = createLayout(config.layout ?? DEFAULT_LAYOUT);
const problem = manifestLayoutProblem(layout);
if (problem) throw new ConfigurationError(`Invalid manifest writer configuration: ${problem}`);
const clients = createAwsClients(config.aws);
const inventory = new S3Inventory({ client: clients.s3, bucket: config.bucket });
const ledger = new LedgerAdmin({ client: clients.dynamoDb, tableName: config.ledgerTable });
const store = new S3ObjectStore({ client: clients.s3, bucket: config.bucket });
const stateStore = new S3ManifestStateStore({ client: clients.s3, bucket: config.bucket });
const logger = new Logger({ serviceName: SERVICE_NAME });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, logger });

/** What one invocation did (lib/manifest/manifest-job.ts). */
export type ManifestWriterResult = ManifestJobResult;

async function writeAll(_event: ScheduledEvent): Promise<ManifestWriterResult> {
  const result = await runManifestJob({ inventory, ledger, store, stateStore, prefix: config.prefix, layout, settings, logger });
  metrics.addMetric(MANIFESTS_WRITTEN_METRIC, MetricUnit.Count, result.written);
  metrics.addMetric(MANIFEST_OBJECTS_EXAMINED_METRIC, MetricUnit.Count, result.examined);
  metrics.addMetric(MANIFEST_BACKLOG_METRIC, MetricUnit.Count, result.backlog);
  metrics.addMetric(MANIFEST_FAILURES_METRIC, MetricUnit.Count, result.failed.length + result.stuck.length);
  if (result.failed.length > 0) throw new Error(`manifest writer: failed for topic(s) ${result.failed.join(', ')} (see the log)`);
  return result;
}

export const handler = middy(writeAll)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
