/**
 * msk-s3-sink: an effectively-once Kafka → S3 sink with a DynamoDB offset ledger.
 * The public surface of the library.
 */
export { ledgerTableDefinition } from './ledger/table.ts';
export { loadConfig, SINK_SETTINGS, type SinkConfig } from './config/config.ts';
export { createSink, deliveryOptions, SinkMetric, type Sink, type SinkLogger, type SinkMetrics } from './sink/sink.ts';
export { parseKafkaEvent } from './sink/event.ts';
export {
  deliverBatch,
  batchResponse,
  BatchDeliveryError,
  type BatchReport,
  type KafkaBatchItemFailures,
} from './delivery/deliver-batch.ts';
export type { PartitionReport } from './delivery/partition-report.ts';
export { ErrorsTolerance, type DeliveryOptions, type DeliveryPorts } from './delivery/options.ts';
export * from './core/errors.ts';
export * from './core/model.ts';
export * from './core/ports.ts';
export { objectKey, parseObjectName, padOffset } from './layout/naming.ts';
export { fromMetadata, toMetadata, MetadataName, type ObjectDescriptor } from './layout/object-metadata.ts';
export { DynamoDbOffsetLedger } from './aws/dynamodb-ledger.ts';
export { S3ObjectStore } from './aws/s3-object-store.ts';
export { createAwsClients } from './aws/clients.ts';
