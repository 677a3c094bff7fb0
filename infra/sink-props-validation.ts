/**
 * Synth-time checks of `MskS3SinkProps`: everything the construct can tell is wrong before
 * CloudFormation would, each problem named by its prop, all reported in one error.
 */
import { Token } from 'aws-cdk-lib';
import { MAX_TIMEOUT, type MskS3SinkProps } from './sink-props.ts';

/** Synth-time checks. Every problem is reported in one error. */
export function validateProps(props: MskS3SinkProps): void {
  const problems = collectProblems(props);
  if (problems.length > 0) throw new Error(`MskS3Sink: invalid props:\n  - ${problems.join('\n  - ')}`);
}

/** Kafka's topic names, as the mapping's schema accepts them (at least 2 characters, not starting with "."). */
const TOPIC = /^[a-zA-Z0-9_-][a-zA-Z0-9._-]{1,248}$/;
/** Lambda accepts `*` in a group id too, but the id is also an IAM resource name, where `*` would grant every group. */
const GROUP = /^[a-zA-Z0-9\-/:_+=.@{}]{1,200}$/;

function collectProblems(props: MskS3SinkProps): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, message: string) => {
    if (!ok) problems.push(message);
  };
  const topics = props.topics ?? [];
  check(topics.length > 0, 'topics: at least one topic is required');
  for (const topic of topics) {
    check(
      TOPIC.test(topic),
      `topics: "${topic}" is not a topic name a Lambda mapping accepts (2-249 characters of [a-zA-Z0-9._-], not starting with ".")`,
    );
  }
  check(new Set(topics).size === topics.length, 'topics: a topic is listed twice');
  if (props.consumerGroupId !== undefined) {
    check(GROUP.test(props.consumerGroupId), `consumerGroupId: "${props.consumerGroupId}" must be 1-200 characters of [a-zA-Z0-9-/:_+=.@]`);
    check(
      topics.length <= 1 || props.consumerGroupId.includes('{topic}'),
      'consumerGroupId: with several topics (one mapping each) the group id must contain "{topic}", since each mapping needs its own consumer group',
    );
  }
  if (props.batchSize !== undefined) {
    check(
      Number.isInteger(props.batchSize) && props.batchSize >= 1 && props.batchSize <= 10_000,
      `batchSize: must be an integer from 1 to 10000, got ${props.batchSize}`,
    );
  }
  if (props.maxBatchingWindow !== undefined) {
    check(props.maxBatchingWindow.toMilliseconds() <= 300_000, 'maxBatchingWindow: at most 5 minutes');
  }
  const start = props.startingPosition;
  if (start?.type === 'AT_TIMESTAMP') {
    check(
      Number.isInteger(start.timestamp) && start.timestamp > 0,
      'startingPosition: AT_TIMESTAMP needs a timestamp in whole Unix seconds',
    );
  }

  const provisioned = props.provisionedPollers !== undefined;
  const needsProvisioned = (name: string, set: boolean) =>
    check(!set || provisioned, `${name}: Kafka event source mappings support it only in provisioned mode; set provisionedPollers too`);
  needsProvisioned('retryAttempts', props.retryAttempts !== undefined);
  needsProvisioned('bisectBatchOnError', props.bisectBatchOnError === true);
  needsProvisioned('maxRecordAge', props.maxRecordAge !== undefined);
  needsProvisioned('reportBatchItemFailures', props.reportBatchItemFailures === true);
  if (props.provisionedPollers) {
    const { minimumPollers: min = 1, maximumPollers: max = 200 } = props.provisionedPollers;
    check(Number.isInteger(min) && min >= 1 && min <= 200, `provisionedPollers.minimumPollers: must be 1-200, got ${min}`);
    check(Number.isInteger(max) && max >= 1 && max <= 2000, `provisionedPollers.maximumPollers: must be 1-2000, got ${max}`);
    check(min <= max, `provisionedPollers: minimumPollers (${min}) must not exceed maximumPollers (${max})`);
  }
  if (props.retryAttempts !== undefined) {
    check(
      Number.isInteger(props.retryAttempts) && props.retryAttempts >= -1 && props.retryAttempts <= 10_000,
      `retryAttempts: must be -1 (until the record expires) or 0-10000, got ${props.retryAttempts}`,
    );
  }
  if (props.maxRecordAge !== undefined) {
    const seconds = props.maxRecordAge.toSeconds();
    check(seconds >= 60 && seconds <= 604_800, `maxRecordAge: must be 60 seconds to 7 days, got ${seconds} seconds`);
  }
  const discards = (props.retryAttempts !== undefined && props.retryAttempts !== -1) || props.maxRecordAge !== undefined;
  check(
    !discards || props.onFailure !== undefined,
    'onFailure: retryAttempts or maxRecordAge make the mapping discard records it gave up on; configure an onFailure destination so that no record is lost silently',
  );
  check(
    props.onFailure === undefined || (props.retryAttempts !== undefined && props.retryAttempts !== -1),
    `retryAttempts: with an onFailure destination Lambda caps unlimited retries (-1${props.retryAttempts === undefined ? ', the default' : ''}) at 10, then sends the batch to the destination and moves past it; set retryAttempts to the retries you mean (0-10000, provisioned mode) or remove onFailure`,
  );

  if (props.timeout !== undefined) check(props.timeout.toSeconds() <= MAX_TIMEOUT.toSeconds(), 'timeout: at most 15 minutes');
  if (props.memorySize !== undefined) {
    check(Number.isInteger(props.memorySize) && props.memorySize >= 128 && props.memorySize <= 10_240, 'memorySize: 128-10240 MB');
  }
  if (props.deadLetterExpirationDays !== undefined) {
    check(
      Number.isInteger(props.deadLetterExpirationDays) && props.deadLetterExpirationDays >= 0,
      'deadLetterExpirationDays: a whole number of days, 0 to keep dead letters forever',
    );
  }
  if (props.noncurrentVersionExpirationDays !== undefined) {
    check(
      Number.isInteger(props.noncurrentVersionExpirationDays) && props.noncurrentVersionExpirationDays >= 0,
      `noncurrentVersionExpirationDays: a whole number of days, 0 to keep noncurrent versions forever, got ${props.noncurrentVersionExpirationDays}`,
    );
    check(
      props.bucketVersioned !== false,
      'noncurrentVersionExpirationDays: applies to a versioned bucket; conflicts with bucketVersioned: false',
    );
  }
  const alarms = props.alarms ?? {};
  if (alarms.skippedOffsetsThreshold !== undefined) {
    check(
      Number.isSafeInteger(alarms.skippedOffsetsThreshold) && alarms.skippedOffsetsThreshold >= 0,
      `alarms.skippedOffsetsThreshold: a whole number of offsets (0 alarms on any skip), got ${alarms.skippedOffsetsThreshold}`,
    );
  }
  if (alarms.silentMappingHours !== undefined) {
    check(
      Number.isInteger(alarms.silentMappingHours) && alarms.silentMappingHours >= 0 && alarms.silentMappingHours <= 24,
      `alarms.silentMappingHours: whole hours from 1 to 24, or 0 to turn the alarm off, got ${alarms.silentMappingHours}`,
    );
  }
  problems.push(...manifestProblems(props));
  if (props.bucket) {
    for (const name of [
      'bucketEncryption',
      'bucketVersioned',
      'noncurrentVersionExpirationDays',
      'accessLogsBucket',
      'deadLetterExpirationDays',
    ] as const) {
      check(props[name] === undefined, `${name}: applies only to a bucket the construct creates, not to an existing bucket`);
    }
  }

  const source = props.source;
  if (!source) {
    problems.push('source: required');
  } else if (source.kind === 'msk') {
    check(
      Token.isUnresolved(source.clusterArn) || /^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/[^/]+\/[^/]+$/.test(source.clusterArn),
      `source.clusterArn: "${source.clusterArn}" is not an MSK cluster ARN (arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>)`,
    );
    const auth = source.authentication?.type ?? 'iam';
    check(!source.serverless || auth === 'iam', `source.authentication: MSK Serverless supports IAM authentication only, got ${auth}`);
    if (source.subnetIds !== undefined) {
      check(source.subnetIds.length > 0, 'source.subnetIds: at least one subnet id, or leave it out');
      for (const id of source.subnetIds) {
        check(Token.isUnresolved(id) || /^subnet-[0-9a-f]+$/.test(id), `source.subnetIds: "${id}" is not a subnet id (subnet-...)`);
      }
    }
  } else if (source.kind === 'self-managed') {
    check(source.bootstrapServers.length > 0, 'source.bootstrapServers: at least one host:port');
    for (const server of source.bootstrapServers) {
      check(/^[^\s:,]+:\d{1,5}$/.test(server), `source.bootstrapServers: "${server}" is not host:port`);
    }
    const inVpc = source.vpcSubnets !== undefined || source.securityGroup !== undefined || source.vpc !== undefined;
    if (inVpc) {
      check(source.vpcSubnets !== undefined, 'source.vpcSubnets: required with a VPC (the subnets the pollers use)');
      check(source.securityGroup !== undefined, 'source.securityGroup: required with a VPC');
      check(
        source.vpcSubnets?.subnets !== undefined || source.vpc !== undefined || source.vpcSubnets === undefined,
        'source.vpc: required when vpcSubnets selects subnets by type or group rather than listing them',
      );
    } else {
      check(
        source.authentication !== undefined,
        'source.authentication: required when the brokers are reached over the internet (no vpcSubnets)',
      );
    }
  } else {
    problems.push(`source.kind: must be "msk" or "self-managed"`);
  }
  return problems;
}

function manifestProblems(props: MskS3SinkProps): string[] {
  const options = props.manifests;
  if (options === undefined || options === false) return [];
  const problems: string[] = [];
  const settings = props.sinkSettings ?? {};
  if (settings.SINK_PARTITIONER !== 'time') {
    problems.push(
      `manifests: completeness markers need the time partitioner (sinkSettings.SINK_PARTITIONER: 'time'), got ${settings.SINK_PARTITIONER === undefined ? 'the default partitioner' : `"${settings.SINK_PARTITIONER}"`}; remove manifests or set it to false`,
    );
  } else if ((settings.SINK_TIMESTAMP_EXTRACTOR ?? 'Record') !== 'Record') {
    problems.push(
      'manifests: completeness markers need Kafka record timestamps (SINK_TIMESTAMP_EXTRACTOR=Record), not a field of the value',
    );
  }
  if (options.schedule !== undefined) {
    const seconds = options.schedule.toSeconds();
    problems.push(
      ...(seconds >= 60 && seconds <= 86_400 && seconds % 60 === 0
        ? []
        : [`manifests.schedule: whole minutes from 1 minute to 1 day, got ${seconds} seconds`]),
    );
  }
  if (options.graceMs !== undefined && !(Number.isSafeInteger(options.graceMs) && options.graceMs >= 0)) {
    problems.push(`manifests.graceMs: a non-negative whole number of milliseconds, got ${options.graceMs}`);
  }
  for (const [topic, count] of Object.entries(options.partitionsPerTopic ?? {})) {
    if (!(props.topics ?? []).includes(topic)) problems.push(`manifests.partitionsPerTopic: "${topic}" is not one of topics`);
    if (!(Number.isInteger(count) && count >= 1))
      problems.push(`manifests.partitionsPerTopic: ${topic} must be a positive partition count, got ${count}`);
  }
  return problems;
}

export { collectProblems as sinkPropsProblems };
