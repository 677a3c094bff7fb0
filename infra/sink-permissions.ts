/**
 * The sink's permissions: each function's role and log group, exactly what the sink may do on its
 * bucket prefixes and ledger, the EC2 permissions of the pollers' network interfaces, the sink
 * bucket's protective policy, and the cdk-nag acknowledgements of the wildcards these need.
 */
import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { MskS3SinkProps } from './sink-props.ts';
import type { SinkStorage } from './sink-storage.ts';

/**
 * A function's log group (retained, `logRetention`) and its role, which may write to that log
 * group only; `idPrefix` names both ('' for the sink: `Logs`, `Role`).
 */
export function functionIdentity(
  scope: Construct,
  props: MskS3SinkProps,
  idPrefix: string,
  description: string,
): { logGroup: logs.LogGroup; role: iam.Role } {
  const logGroup = new logs.LogGroup(scope, `${idPrefix}Logs`, {
    retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const role = new iam.Role(scope, `${idPrefix}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description });
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'WriteOwnLogs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }),
  );
  return { logGroup, role };
}

/** Exactly what the sink does: PutObject (If-None-Match) and GetObject/HeadObject on its two prefixes; GetItem/UpdateItem on its ledger. */
export function grantSinkAccess(
  role: iam.Role,
  storage: Pick<SinkStorage, 'bucket' | 'ledgerTable'>,
  prefix: string,
  deadLetterPrefix: string,
  key: kms.IKey | undefined,
): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'SinkObjects',
      // HeadObject (of the existing object after a 412) is authorised by s3:GetObject.
      actions: ['s3:PutObject', 's3:GetObject'],
      resources: [storage.bucket.arnForObjects(`${prefix}*`)],
    }),
  );
  acknowledgeWildcard(
    role,
    storage.bucket.arnForObjects(`${prefix}*`),
    'The sink creates one object per topic-partition range, with keys unknown in advance; scoped to the sink prefix of one bucket.',
  );
  // Dead letters are only ever created (If-None-Match; a 412 means the same record is already
  // there): nothing in the function reads them back, so no s3:GetObject.
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'SinkDeadLetters',
      actions: ['s3:PutObject'],
      resources: [storage.bucket.arnForObjects(`${deadLetterPrefix}*`)],
    }),
  );
  acknowledgeWildcard(
    role,
    storage.bucket.arnForObjects(`${deadLetterPrefix}*`),
    'The sink creates one dead letter per poison record, with keys unknown in advance; scoped to the dead-letter prefix of one bucket, create only.',
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'Ledger',
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      resources: [storage.ledgerTable.tableArn],
    }),
  );
  if (key) {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SinkBucketKey',
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [key.keyArn],
      }),
    );
  }
}

/**
 * The EC2 permissions of the pollers' network interfaces: in the listed subnets with the given
 * security group, or (MSK, whose subnets the construct may not be told) in this account's
 * subnets of this region.
 */
export function grantPollerNetworkInterfaces(
  role: iam.Role,
  subnetIds: readonly string[] | undefined,
  securityGroupId: string | undefined,
): void {
  // The mapping's pollers reach the brokers through network interfaces in the cluster's
  // subnets, created and deleted with the function's execution role.
  const stack = Stack.of(role);
  const ec2Arn = (resource: string, name: string) => stack.formatArn({ service: 'ec2', resource, resourceName: name });
  const interfaces = ec2Arn('network-interface', '*');
  // Only interfaces in the source's subnets (self-managed Kafka: listed) or, for MSK (whose
  // subnets the construct is not told), in this account's subnets of this region.
  const inSubnets = subnetIds
    ? { ArnEquals: { 'ec2:Subnet': subnetIds.map((id) => ec2Arn('subnet', id)) } }
    : { ArnLike: { 'ec2:Subnet': ec2Arn('subnet', '*') } };
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'EventPollerDescribeNetwork',
      actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeVpcs', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups'],
      resources: ['*'],
    }),
  );
  acknowledgeWildcard(
    role,
    '*',
    'EC2 Describe* actions have no resource-level permissions; the pollers describe the VPC, subnets and security groups of the source.',
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'EventPollerNetworkInterfaces',
      actions: ['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface'],
      resources: [interfaces],
      conditions: inSubnets,
    }),
  );
  acknowledgeWildcard(
    role,
    interfaces,
    "The pollers' network interfaces do not exist before they are created; scoped by the ec2:Subnet condition to the source's subnets.",
  );
  const subnets = subnetIds ? subnetIds.map((id) => ec2Arn('subnet', id)) : [ec2Arn('subnet', '*')];
  const groups = securityGroupId ? [ec2Arn('security-group', securityGroupId)] : [ec2Arn('security-group', '*')];
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ sid: 'EventPollerSubnets', actions: ['ec2:CreateNetworkInterface'], resources: [...subnets, ...groups] }),
  );
  if (!subnetIds) {
    acknowledgeWildcard(
      role,
      subnets[0]!,
      "The MSK cluster's subnets were not given (source.subnetIds); scoped to this account and region.",
    );
  }
  if (!securityGroupId) {
    acknowledgeWildcard(
      role,
      groups[0]!,
      "An MSK cluster's security groups are not known at synth time; scoped to this account and region.",
    );
  }
}

/** Lets the role read one secret: the mapping reads its source's secrets with the function's role. */
export function grantReadSecret(role: iam.Role, secretArn: string): void {
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secretArn] }));
}

/**
 * Acknowledges one cdk-nag AwsSolutions-IAM5 finding (a wildcard resource) on the role's policy,
 * with its reason. Called by hand, once per wildcard the construct writes, right where it writes it.
 */
export function acknowledgeWildcard(role: iam.IRole, resource: string, reason: string): void {
  const policy = role.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined;
  if (!policy) throw new Error(`MskS3Sink: no policy on ${role.node.path} to acknowledge ${resource} on`);
  const rendered = renderForNag(Stack.of(role).resolve(resource));
  Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${rendered}]`, reason });
}

/**
 * The sink bucket's deny statements. Any principal that could create an object under the sink
 * prefix could plant one whose metadata claims a huge last offset, which the sink would adopt and
 * commit, then drop every later record as a duplicate; any overwrite would change a committed object.
 */
export function sinkBucketPolicyStatements(input: {
  readonly bucket: s3.IBucket;
  readonly prefix: string;
  readonly deadLetterPrefix: string;
  readonly sinkRole: iam.IRole;
  readonly manifestWriterRole?: iam.IRole | undefined;
}): iam.PolicyStatement[] {
  const { bucket, prefix, deadLetterPrefix } = input;
  const sinkObjects = bucket.arnForObjects(`${prefix}*`);
  const deadLetters = bucket.arnForObjects(`${deadLetterPrefix}*`);
  const writers = [input.sinkRole.roleArn, ...(input.manifestWriterRole ? [input.manifestWriterRole.roleArn] : [])];
  return [
    new iam.PolicyStatement({
      sid: 'OnlyTheSinkWritesSinkObjects',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:PutObject'],
      resources: [sinkObjects],
      // aws:PrincipalArn is the role's ARN for its sessions (the functions' invocations).
      conditions: { ArnNotEquals: { 'aws:PrincipalArn': writers } },
    }),
    new iam.PolicyStatement({
      sid: 'OnlyTheSinkWritesDeadLetters',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:PutObject'],
      resources: [deadLetters],
      conditions: { ArnNotEquals: { 'aws:PrincipalArn': input.sinkRole.roleArn } },
    }),
    new iam.PolicyStatement({
      // AWS: "enforce conditional writes". Every object is created once, with If-None-Match: *;
      // multipart uploads and copies (which cannot carry it) are refused too: the sink uses neither.
      sid: 'SinkObjectsAreCreatedOnlyOnce',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:PutObject'],
      resources: [deadLetters],
      conditions: { Null: { 's3:if-none-match': 'true' } },
    }),
    new iam.PolicyStatement({
      // Under the sink prefix every write is conditional: data objects and manifests are created
      // with If-None-Match: *, and the manifest writer replaces its cursor (_manifest-state.json)
      // only with If-Match on the version it read. An unconditional PUT (an overwrite) is refused.
      sid: 'SinkObjectsAreWrittenConditionally',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:PutObject'],
      resources: [sinkObjects],
      conditions: { Null: { 's3:if-none-match': 'true', 's3:if-match': 'true' } },
    }),
  ];
}

/** Renders a resolved resource the way cdk-nag names it in its finding ids. */
function renderForNag(resource: unknown): string {
  if (typeof resource === 'string') return resource;
  const value = resource as Record<string, unknown>;
  if ('Fn::GetAtt' in value) {
    const [id, attribute] = value['Fn::GetAtt'] as [string, string];
    return `<${id}.${attribute}>`;
  }
  if ('Ref' in value) return `<${String(value.Ref)}>`;
  if ('Fn::Join' in value) {
    const [separator, parts] = value['Fn::Join'] as [string, unknown[]];
    return parts.map(renderForNag).join(separator);
  }
  return JSON.stringify(value);
}
