import * as logs from 'aws-cdk-lib/aws-logs';
import { sinkKeyProblems } from '../lib/config/connect-settings.ts';
import { GROUP_KEYS, oneOf, type ParsedConnector, RESET_KEYS, startingPosition } from './connector-schema.ts';

/** The cross-key checks; `config` may lack keys (those with their own errors: see resolveConnectorConfig). */
export function semanticProblems(config: Partial<ParsedConnector>): string[] {
  const problems: string[] = [];
  oneOf(config, GROUP_KEYS, problems);
  const reset = oneOf(config, RESET_KEYS, problems);
  if (reset !== undefined) {
    const position = startingPosition(reset);
    if (typeof position === 'string') problems.push(`consumer.auto.offset.reset: ${position}`);
  }
  const msk = config['msk.cluster.arn'] !== undefined;
  const selfManaged = config['bootstrap.servers'] !== undefined;
  if (msk && selfManaged)
    problems.push('msk.cluster.arn, bootstrap.servers: conflicting sources; give an MSK cluster ARN or bootstrap servers, not both');
  if (!msk && !selfManaged) problems.push('msk.cluster.arn or bootstrap.servers: one is required (the Kafka cluster to read from)');
  const mechanism = config['sasl.mechanism'];
  const protocol = config['security.protocol'];
  if (protocol === 'PLAINTEXT' || protocol === 'SASL_PLAINTEXT') {
    problems.push(`security.protocol: ${protocol} is not supported by Lambda event source mappings; use SASL_SSL or SSL`);
  }
  if (protocol === 'SSL' && mechanism !== undefined)
    problems.push('sasl.mechanism: conflicts with security.protocol=SSL (mutual TLS); remove one');
  if (msk) {
    if (mechanism === 'SCRAM-SHA-256' || mechanism === 'PLAIN')
      problems.push(`sasl.mechanism: Amazon MSK supports AWS_MSK_IAM or SCRAM-SHA-512, not ${mechanism}`);
    const iam = (mechanism ?? 'AWS_MSK_IAM') === 'AWS_MSK_IAM' && protocol !== 'SSL';
    if (iam && config['kafka.auth.secret.arn'])
      problems.push(
        'kafka.auth.secret.arn: not used with IAM authentication (sasl.mechanism=AWS_MSK_IAM); remove it or choose SCRAM-SHA-512 / SSL',
      );
    if (!iam && !config['kafka.auth.secret.arn']) problems.push('kafka.auth.secret.arn: required for SCRAM or mutual TLS authentication');
    for (const key of ['kafka.vpc.subnet.ids', 'kafka.vpc.security.group.id', 'kafka.root.ca.secret.arn'] as const) {
      if (config[key] !== undefined)
        problems.push(`${key}: applies to self-managed Kafka only (an MSK mapping uses the cluster's own network and certificates)`);
    }
  } else if (selfManaged) {
    if (config['msk.serverless'] !== undefined) problems.push('msk.serverless: applies to Amazon MSK only');
    if (config['msk.subnet.ids'] !== undefined)
      problems.push('msk.subnet.ids: applies to Amazon MSK only; self-managed Kafka uses kafka.vpc.subnet.ids');
    if (mechanism === 'AWS_MSK_IAM') problems.push('sasl.mechanism: AWS_MSK_IAM works with Amazon MSK only');
    if (mechanism !== undefined && !config['kafka.auth.secret.arn']) problems.push('kafka.auth.secret.arn: required with sasl.mechanism');
    if (protocol === 'SSL' && !config['kafka.auth.secret.arn'] && config['kafka.vpc.subnet.ids'] === undefined) {
      problems.push('kafka.auth.secret.arn: required for mutual TLS (security.protocol=SSL)');
    }
    const subnets = config['kafka.vpc.subnet.ids'] !== undefined;
    const group = config['kafka.vpc.security.group.id'] !== undefined;
    if (subnets !== group) problems.push('kafka.vpc.subnet.ids, kafka.vpc.security.group.id: give both, or neither');
    for (const server of config['bootstrap.servers'] ?? []) {
      if (!/^[^\s:,]+:\d{1,5}$/.test(server)) problems.push(`bootstrap.servers: "${server}" is not host:port`);
    }
  }
  problems.push(...sinkKeyProblems(config));
  if (config['s3.bucket.name'] !== undefined) {
    for (const key of [
      's3.ssea.name',
      's3.bucket.versioning',
      's3.dead.letter.expiration.days',
      's3.noncurrent.version.expiration.days',
    ] as const) {
      if (config[key] !== undefined)
        problems.push(`${key}: applies only to a bucket the app creates; conflicts with s3.bucket.name (an existing bucket)`);
    }
  } else if (config['s3.sse.kms.key.id'] !== undefined && config['s3.ssea.name'] === 'AES256') {
    problems.push('s3.sse.kms.key.id: conflicts with s3.ssea.name=AES256');
  }
  const interval = config['offset.flush.interval.ms'];
  if (interval !== undefined && interval % 1000 !== 0) {
    problems.push(`offset.flush.interval.ms: the batching window is set in whole seconds; use a multiple of 1000, got ${interval}`);
  }
  const retention = config['lambda.log.retention.days'];
  if (retention !== undefined && !(Object.values(logs.RetentionDays) as unknown[]).includes(retention)) {
    problems.push(`lambda.log.retention.days: one of CloudWatch's retention periods (1, 3, 5, 7, 14, 30, 60, 90, ...), got ${retention}`);
  }
  const provisioned = ['lambda.provisioned.pollers.min', 'lambda.provisioned.pollers.max', 'lambda.provisioned.poller.group'].some(
    (key) => config[key as keyof ParsedConnector] !== undefined,
  );
  for (const key of [
    'lambda.retry.attempts',
    'lambda.bisect.batch.on.error',
    'lambda.max.record.age.seconds',
    'lambda.report.batch.item.failures',
  ] as const) {
    const value = config[key];
    if (value !== undefined && value !== false && !provisioned) {
      problems.push(`${key}: Kafka event source mappings support it only in provisioned mode; set lambda.provisioned.pollers.min/max`);
    }
  }
  const min = config['lambda.provisioned.pollers.min'];
  const max = config['lambda.provisioned.pollers.max'];
  if (min !== undefined && max !== undefined && min > max)
    problems.push(`lambda.provisioned.pollers.min (${min}) exceeds lambda.provisioned.pollers.max (${max})`);
  const discards = (config['lambda.retry.attempts'] ?? -1) !== -1 || config['lambda.max.record.age.seconds'] !== undefined;
  const destination = config['lambda.on.failure.destination'] ?? 'none';
  if (discards && destination === 'none') {
    problems.push(
      'lambda.on.failure.destination: lambda.retry.attempts / lambda.max.record.age.seconds discard records; choose s3 or sqs so that none is lost silently',
    );
  }
  if (destination !== 'none' && (config['lambda.retry.attempts'] ?? -1) === -1) {
    problems.push(
      `lambda.retry.attempts: with lambda.on.failure.destination=${destination} Lambda caps unlimited retries (-1${config['lambda.retry.attempts'] === undefined ? ', the default' : ''}) at 10, then sends the batch to the destination and moves past it; set the retries you mean (0-10000)`,
    );
  }
  if (config['s3.bucket.versioning'] === false && config['s3.noncurrent.version.expiration.days'] !== undefined) {
    problems.push('s3.noncurrent.version.expiration.days: applies to a versioned bucket; conflicts with s3.bucket.versioning=false');
  }
  const group = oneOf(config, GROUP_KEYS, []);
  if (group?.includes('*'))
    problems.push(
      `group.id: "${group}" must not contain "*": the group id is also the IAM resource the mapping may use, where "*" would grant every group`,
    );
  if (group !== undefined && (config.topics?.length ?? 0) > 1 && !group.includes('{topic}')) {
    problems.push('group.id: with several topics (one event source mapping each) the group id must contain "{topic}"');
  }
  if (config['alarms.email'] !== undefined && config['alarms.sns.topic.arn'] !== undefined) {
    problems.push(
      'alarms.email, alarms.sns.topic.arn: conflicting; subscribe the addresses to your topic yourself, or let the app create one',
    );
  }
  return problems;
}

/** Whether a problem's text names one of `keys` ("a.b.min/max" names a.b.min and a.b.max). */
export function mentionsAny(problem: string, keys: ReadonlySet<string>): boolean {
  const named = new Set<string>();
  for (const [word] of problem.matchAll(/[a-z][a-z0-9_-]*(?:\.[a-z0-9_-]+)*(?:\/[a-z0-9_-]+)*/g)) {
    const [first, ...alternatives] = word.split('/');
    named.add(first!);
    const stem = first!.slice(0, first!.lastIndexOf('.') + 1);
    for (const alternative of alternatives) named.add(stem + alternative);
  }
  return [...keys].some((key) => named.has(key));
}
