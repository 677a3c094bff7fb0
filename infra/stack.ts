/**
 * The deployable stack: one `MskS3Sink` built from a connector configuration, and the outputs the
 * operations CLI and the post-deploy checklist read (the construct itself declares none, so that
 * users who embed it choose their own).
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { ResolvedConnector } from './connector-config.ts';
import { MskS3Sink } from './msk-s3-sink.ts';

export interface MskS3SinkStackProps extends StackProps {
  /** The validated connector configuration (`resolveConnectorConfig`). */
  readonly connector: ResolvedConnector;
}

export class MskS3SinkStack extends Stack {
  readonly sink: MskS3Sink;

  constructor(scope: Construct, id: string, props: MskS3SinkStackProps) {
    super(scope, id, {
      description: 'msk-s3-sink: Kafka to Amazon S3, effectively once (Lambda + DynamoDB offset ledger)',
      ...props,
    });
    this.sink = new MskS3Sink(this, 'Sink', props.connector.props(this));
    // Declared in the sink's scope, as when the construct declared them, so that deployed stacks
    // keep their output names (SinkBucketName..., test/infra/logical-ids.test.ts).
    const sink = this.sink;
    new CfnOutput(sink, 'BucketName', { value: sink.bucket.bucketName, description: 'Where the sink writes' });
    new CfnOutput(sink, 'LedgerTableName', { value: sink.ledgerTable.tableName, description: 'The offset ledger' });
    new CfnOutput(sink, 'FunctionName', { value: sink.function.functionName });
    new CfnOutput(sink, 'DashboardName', { value: sink.dashboard.dashboardName });
  }
}
