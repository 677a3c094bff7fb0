/**
 * The binding of an Amazon MSK source: the mapping's source access configurations (none with IAM
 * access control, the secret with SASL/SCRAM or mTLS) and what the execution role needs on the
 * cluster, its topics and groups, and the pollers' network interfaces.
 */
import { Fn } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { MskSource } from './kafka-source.ts';
import { acknowledgeWildcard, grantPollerNetworkInterfaces, grantReadSecret } from './sink-permissions.ts';
import { consumerGroupFor, type MskS3SinkProps } from './sink-props.ts';

/** Grants `role` what the mappings need to read `props.topics` from the cluster; returns their source access configurations. */
export function bindMskSource(
  source: MskSource,
  props: Pick<MskS3SinkProps, 'topics' | 'consumerGroupId'>,
  role: iam.Role,
): lambda.SourceAccessConfiguration[] {
  const access: lambda.SourceAccessConfiguration[] = [];
  const type = lambda.SourceAccessConfigurationType;
  const auth = source.authentication ?? { type: 'iam' };
  const clusterArn = source.clusterArn;
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'MskCluster',
      actions: [
        'kafka:DescribeCluster',
        'kafka:DescribeClusterV2',
        'kafka:GetBootstrapBrokers',
        ...(auth.type === 'sasl-scram' ? ['kafka:ListScramSecrets'] : []),
      ],
      resources: [clusterArn],
    }),
  );
  grantPollerNetworkInterfaces(role, source.subnetIds, undefined);
  if (auth.type === 'iam') {
    const [head, tail] = [Fn.select(0, Fn.split(':cluster/', clusterArn)), Fn.select(1, Fn.split(':cluster/', clusterArn))];
    const resource = (kind: string, name: string) => Fn.join('', [head, `:${kind}/`, tail, `/${name}`]);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'MskIamConnect',
        actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeClusterDynamicConfiguration'],
        resources: [clusterArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'MskIamTopics',
        actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
        resources: props.topics.map((topic) => resource('topic', topic)),
      }),
    );
    const groups = groupsForPolicy(props).map((group) => resource('group', group));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'MskIamGroups',
        actions: ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'],
        resources: groups,
      }),
    );
    if (props.consumerGroupId === undefined) {
      acknowledgeWildcard(
        role,
        groups[0]!,
        'Without an explicit consumer group id, Lambda names the group after the mapping UUID, which is unknown at synth time; scoped to groups of this one cluster. Set consumerGroupId to remove it.',
      );
    }
  } else {
    access.push({
      type: auth.type === 'sasl-scram' ? type.SASL_SCRAM_512_AUTH : type.CLIENT_CERTIFICATE_TLS_AUTH,
      uri: auth.secret.secretArn,
    });
    grantReadSecret(role, auth.secret.secretArn);
    if (auth.secret.encryptionKey) auth.secret.encryptionKey.grantDecrypt(role);
  }
  return access;
}

function groupsForPolicy(props: Pick<MskS3SinkProps, 'topics' | 'consumerGroupId'>): string[] {
  // Without an explicit group id, Lambda names the group after the mapping's UUID, unknown at synth time.
  const template = props.consumerGroupId;
  if (template === undefined) return ['*'];
  return props.topics.map((topic) => consumerGroupFor(template, topic)!);
}
