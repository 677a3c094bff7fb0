/**
 * The Lambda entry point CDK deploys: an Amazon MSK or self-managed Kafka event source mapping
 * invokes `handler(event, context)` with a batch of records. Only wiring lives here: the
 * configuration is read once at cold start, the handler composes middy middleware around the
 * core (lib/).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { MSKEvent, SelfManagedKafkaEvent } from 'aws-lambda';
import { createAwsClients } from '../../lib/aws/clients.ts';
import { DynamoDbOffsetLedger } from '../../lib/aws/dynamodb-ledger.ts';
import { S3ObjectStore } from '../../lib/aws/s3-object-store.ts';
import { loadConfig } from '../../lib/config/config.ts';
import { systemClock } from '../../lib/core/ports.ts';
import { createSink, METRICS_NAMESPACE, SERVICE_NAME } from '../../lib/sink/sink.ts';

const config = loadConfig(process.env);
const clients = createAwsClients(config.aws);
const logger = new Logger({ serviceName: SERVICE_NAME });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, logger });

const sink = createSink({
  config,
  ports: {
    ledger: new DynamoDbOffsetLedger({ client: clients.dynamoDb, tableName: config.ledgerTable }),
    store: new S3ObjectStore({ client: clients.s3, bucket: config.bucket }),
    clock: systemClock,
  },
  logger,
  metrics,
});

export const handler = middy(async (event: MSKEvent | SelfManagedKafkaEvent) => sink.handle(event))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
