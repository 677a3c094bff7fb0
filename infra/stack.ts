/**
 * The deployable stack: one `MskS3Sink` built from a connector configuration.
 */
import { Stack, type StackProps } from 'aws-cdk-lib';
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
  }
}
