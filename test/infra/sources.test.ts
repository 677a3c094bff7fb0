import { Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import { ledgerTableDefinition } from '../../lib/ledger/table.ts';
import { CLUSTER_ARN, SECRET_ARN, actionsOf, hasStatements, policyStatements, secret, synthSink } from './support.ts';

const bucketObjects = (prefix: string) => ({
  'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.anyValue(), 'Arn'] }, `/${prefix}*`]],
});

describe('MSK with IAM authentication (the defaults)', () => {
  let result: ReturnType<typeof synthSink>;
  beforeAll(() => {
    result = synthSink({ source: { kind: 'msk', clusterArn: CLUSTER_ARN }, topics: ['orders'], consumerGroupId: 'orders-sink' });
  });

  it('maps the one topic from the cluster, from the earliest offset, with no secret', () => {
    result.template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    result.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: CLUSTER_ARN,
      Topics: ['orders'],
      StartingPosition: 'TRIM_HORIZON',
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'orders-sink' },
      SourceAccessConfigurations: Match.absent(),
      FunctionResponseTypes: Match.absent(),
    });
  });

  it('deploys the handler on Node.js 24, arm64, with source maps and a configuration loadConfig accepts', () => {
    result.template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Environment: {
        Variables: {
          SINK_BUCKET: { Ref: Match.anyValue() },
          LEDGER_TABLE: { Ref: Match.anyValue() },
          SINK_PREFIX: 'topics/',
          SINK_DEAD_LETTER_PREFIX: 'dead-letters/',
          SINK_COMPRESSION: 'gzip',
          SINK_ERRORS_TOLERANCE: 'none',
          SINK_REPORT_BATCH_ITEM_FAILURES: 'false',
          NODE_OPTIONS: '--enable-source-maps',
        },
      },
    });
    result.template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('creates the ledger from ledgerTableDefinition: on demand, PITR, deletion protection, retained', () => {
    result.template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        KeySchema: ledgerTableDefinition.KeySchema,
        AttributeDefinitions: Match.arrayWith(ledgerTableDefinition.AttributeDefinitions.map((a) => Match.objectLike(a))),
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
      },
    });
  });

  it('creates an encrypted, private, TLS-only, access-logged, retained bucket with a dead-letter lifecycle', () => {
    result.template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: {
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'sink-bucket/' }),
        LifecycleConfiguration: {
          Rules: Match.arrayWith([Match.objectLike({ Prefix: 'dead-letters/', ExpirationInDays: 365, Status: 'Enabled' })]),
        },
      },
    });
    result.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
  });

  it('grants only the sink prefixes, the ledger and the cluster/topic/group it reads', () => {
    const statements = policyStatements(result.template);
    const all = statements.flatMap(actionsOf);
    expect([...new Set(all.filter((action) => action.startsWith('s3:')))].sort()).toEqual(['s3:GetObject', 's3:PutObject']);
    expect(all.filter((action) => action.startsWith('dynamodb:')).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    expect(all.some((action) => action.endsWith(':*'))).toBe(false);
    hasStatements(
      result.template,
      { Action: ['s3:GetObject', 's3:PutObject'], Resource: bucketObjects('topics/') },
      { Action: 's3:PutObject', Resource: bucketObjects('dead-letters/') },
      { Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] } },
      {
        Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
        Resource: CLUSTER_ARN.replace(':cluster/', ':topic/') + '/orders',
      },
      {
        Action: ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'],
        Resource: CLUSTER_ARN.replace(':cluster/', ':group/') + '/orders-sink',
      },
      { Action: Match.arrayWith(['kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers']), Resource: CLUSTER_ARN },
    );
    // No AWS managed policies (AWSLambdaBasicExecutionRole, AWSLambdaMSKExecutionRole): inline, scoped statements only.
    result.template.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  });

  it('exposes what it creates', () => {
    const { sink } = result;
    expect(sink.eventSourceMappings).toHaveLength(1);
    expect(sink.eventSourceMapping).toBe(sink.eventSourceMappings[0]);
    expect(sink.alarms.length).toBeGreaterThanOrEqual(4);
    expect(sink.alarmTopic).toBeUndefined();
    expect(sink.dashboard).toBeDefined();
    expect(sink.accessLogsBucket).toBeDefined();
  });

  it('has a dashboard with OffsetLag and the EMF metrics in MskS3Sink / service=msk-s3-sink', () => {
    const dashboards = result.template.findResources('AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(Object.values(dashboards)[0]);
    for (const name of [
      'OffsetLag',
      'RecordsDelivered',
      'BytesDelivered',
      'ObjectsWritten',
      'DuplicatesSkipped',
      'ObjectsAdopted',
      'DeadLetters',
      'PartitionsFailed',
      'EndToEndLag',
      'Throttles',
      'Duration',
      'Invocations',
      'Errors',
    ]) {
      expect(body).toContain(name);
    }
    expect(body).toContain('MskS3Sink');
    expect(body).toContain('msk-s3-sink');
    result.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'MskS3Sink',
      MetricName: 'DeadLetters',
      Dimensions: [{ Name: 'service', Value: 'msk-s3-sink' }],
      Threshold: 1,
    });
    result.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'OffsetLag',
      Statistic: 'Maximum',
    });
  });
});

describe('several topics', () => {
  it('creates one mapping per topic, each with its own consumer group', () => {
    const { template } = synthSink({
      source: { kind: 'msk', clusterArn: CLUSTER_ARN },
      topics: ['orders', 'pay.ments'],
      consumerGroupId: 'sink-{topic}',
    });
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      Topics: ['orders'],
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'sink-orders' },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      Topics: ['pay.ments'],
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'sink-pay.ments' },
    });
  });
});

describe('MSK with SASL/SCRAM and mTLS', () => {
  it('SCRAM: passes the secret as SASL_SCRAM_512_AUTH and lets the role read it', () => {
    const { template } = synthSink((stack) => ({
      source: { kind: 'msk', clusterArn: CLUSTER_ARN, authentication: { type: 'sasl-scram', secret: secret(stack) } },
      topics: ['orders'],
    }));
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      SourceAccessConfigurations: [{ Type: 'SASL_SCRAM_512_AUTH', URI: SECRET_ARN }],
    });
    hasStatements(
      template,
      { Action: 'secretsmanager:GetSecretValue', Resource: SECRET_ARN },
      { Action: Match.arrayWith(['kafka:ListScramSecrets']), Resource: CLUSTER_ARN },
    );
    const actions = policyStatements(template).flatMap(actionsOf);
    expect(actions.some((action) => action.startsWith('kafka-cluster:'))).toBe(false);
  });

  it('mTLS: passes the certificate secret as CLIENT_CERTIFICATE_TLS_AUTH', () => {
    const { template } = synthSink((stack) => ({
      source: { kind: 'msk', clusterArn: CLUSTER_ARN, authentication: { type: 'mtls', secret: secret(stack) } },
      topics: ['orders'],
    }));
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      SourceAccessConfigurations: [{ Type: 'CLIENT_CERTIFICATE_TLS_AUTH', URI: SECRET_ARN }],
    });
  });
});

describe('self-managed Kafka in a VPC with a secret', () => {
  it('passes the brokers, the secret, the root CA, the subnets and the security group', () => {
    const { template } = synthSink((stack) => ({
      source: {
        kind: 'self-managed',
        bootstrapServers: ['b-1.kafka.internal:9096', 'b-2.kafka.internal:9096'],
        authentication: { type: 'sasl-scram-256', secret: secret(stack) },
        rootCaCertificate: secret(stack, 'Ca', SECRET_ARN.replace('AmazonMSK_sink', 'kafka-ca')),
        vpcSubnets: { subnets: ['subnet-0a', 'subnet-0b'].map((id) => ec2.Subnet.fromSubnetId(stack, id, id)) },
        securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-0123456789abcdef0'),
      },
      topics: ['events'],
      consumerGroupId: 'events-sink',
      startingPosition: { type: 'AT_TIMESTAMP', timestamp: 1_714_521_600 },
      batchSize: 500,
      maxBatchingWindow: Duration.seconds(10),
    }));
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: ['b-1.kafka.internal:9096', 'b-2.kafka.internal:9096'] } },
      SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: 'events-sink' },
      Topics: ['events'],
      StartingPosition: 'AT_TIMESTAMP',
      StartingPositionTimestamp: 1_714_521_600,
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 10,
      SourceAccessConfigurations: Match.arrayWith([
        { Type: 'SASL_SCRAM_256_AUTH', URI: SECRET_ARN },
        { Type: 'SERVER_ROOT_CA_CERTIFICATE', URI: Match.stringLikeRegexp('kafka-ca') },
        { Type: 'VPC_SECURITY_GROUP', URI: 'sg-0123456789abcdef0' },
        { Type: 'VPC_SUBNET', URI: 'subnet:subnet-0a' },
        { Type: 'VPC_SUBNET', URI: 'subnet:subnet-0b' },
      ]),
      EventSourceArn: Match.absent(),
    });
    hasStatements(
      template,
      { Action: Match.arrayWith(['ec2:DescribeNetworkInterfaces']), Resource: '*' },
      {
        Action: ['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface'],
        Condition: { ArnEquals: { 'ec2:Subnet': Match.anyValue() } },
      },
      { Action: 'secretsmanager:GetSecretValue', Resource: Match.arrayWith([SECRET_ARN]) },
    );
    const actions = policyStatements(template).flatMap(actionsOf);
    expect(actions.some((action) => action.startsWith('kafka'))).toBe(false);
  });
});

describe('partial batch responses', () => {
  it('sets ReportBatchItemFailures on every mapping and SINK_REPORT_BATCH_ITEM_FAILURES=true together', () => {
    const { template } = synthSink({
      source: { kind: 'msk', clusterArn: CLUSTER_ARN },
      topics: ['ab', 'cd'],
      provisionedPollers: { minimumPollers: 1, maximumPollers: 3 },
      reportBatchItemFailures: true,
    });
    const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping'));
    expect(mappings).toHaveLength(2);
    for (const mapping of mappings) {
      expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(mapping.Properties.ProvisionedPollerConfig).toEqual({ MinimumPollers: 1, MaximumPollers: 3 });
    }
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ SINK_REPORT_BATCH_ITEM_FAILURES: 'true' }) },
    });
  });

  it('leaves both off by default', () => {
    const { template } = synthSink({ source: { kind: 'msk', clusterArn: CLUSTER_ARN }, topics: ['ab'] });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionResponseTypes: Match.absent() });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ SINK_REPORT_BATCH_ITEM_FAILURES: 'false' }) },
    });
  });
});

describe('on-failure destinations', () => {
  it('S3: a dedicated bucket, with only PutObject/ListBucket on it', () => {
    const { template, sink } = synthSink({
      source: { kind: 'msk', clusterArn: CLUSTER_ARN },
      topics: ['ab'],
      provisionedPollers: {},
      retryAttempts: 5,
      onFailure: { type: 's3' },
    });
    expect(sink.onFailureBucket).toBeDefined();
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      MaximumRetryAttempts: 5,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('OnFailureBucket'), 'Arn'] } } },
    });
    hasStatements(
      template,
      {
        Action: 's3:PutObject',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('OnFailureBucket'), 'Arn'] }, '/*']] },
      },
      { Action: 's3:ListBucket', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('OnFailureBucket'), 'Arn'] } },
    );
  });

  it('SQS: an encrypted queue, alarmed when not empty', () => {
    const { template, sink } = synthSink({
      source: { kind: 'msk', clusterArn: CLUSTER_ARN },
      topics: ['ab'],
      provisionedPollers: {},
      maxRecordAge: Duration.hours(6),
      retryAttempts: 100,
      onFailure: { type: 'sqs' },
    });
    expect(sink.onFailureQueue).toBeDefined();
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRecordAgeInSeconds: 21_600 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
    });
  });
});

describe('defaults that keep the cost per GB down', () => {
  it('batches up to 10,000 records over up to 60 s unless told otherwise', () => {
    const { template } = synthSink({ source: { kind: 'msk', clusterArn: CLUSTER_ARN }, topics: ['orders'] });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 10_000, MaximumBatchingWindowInSeconds: 60 });
  });
});
