import { describe, expect, it } from 'vitest';
import {
  checkNewGroupAccess,
  evaluate,
  groupArn,
  type PolicyDocument,
  PolicyUnreadableError,
  usesIamAuth,
} from '../../lib/aws/iam-policy.ts';

/**
 * Issue 15, item 5: `replay --new-group` on a cluster with IAM auth checks that the function's
 * role may use the new group (kafka-cluster:DescribeGroup and AlterGroup on its ARN) before
 * changing anything. The role's policies come from a fake of the IAM reading port.
 */
const CLUSTER = 'arn:aws:kafka:us-east-1:123456789012:cluster/orders/abc-1';
const ROLE = 'arn:aws:iam::123456789012:role/service/orders-sink';
const source = (documents: Record<string, PolicyDocument>) => ({
  policies: async () => Object.entries(documents).map(([name, document]) => ({ name, document })),
});

describe('the new group under IAM auth', () => {
  it('builds the group ARN from the cluster ARN', () => {
    expect(groupArn(CLUSTER, 'replay-1')).toBe('arn:aws:kafka:us-east-1:123456789012:group/orders/abc-1/replay-1');
  });

  it('evaluates like IAM: wildcards, NotAction, an explicit Deny wins, conditional Allows are not counted', () => {
    const group = groupArn(CLUSTER, 'replay-1');
    const allowAll = {
      Statement: [{ Effect: 'Allow', Action: 'kafka-cluster:*Group', Resource: 'arn:aws:kafka:us-east-1:123456789012:group/orders/*' }],
    };
    expect(evaluate([{ name: 'a', document: allowAll }], 'kafka-cluster:AlterGroup', group).decision).toBe('allowed');
    expect(
      evaluate([{ name: 'a', document: allowAll }], 'kafka-cluster:AlterGroup', groupArn(CLUSTER.replace('orders', 'payments'), 'g'))
        .decision,
    ).toBe('not allowed');
    const deny = { Statement: { Effect: 'Deny', NotAction: 'kafka-cluster:DescribeGroup', Resource: '*' } };
    expect(
      evaluate(
        [
          { name: 'a', document: allowAll },
          { name: 'd', document: deny },
        ],
        'kafka-cluster:AlterGroup',
        group,
      ).decision,
    ).toBe('denied');
    expect(
      evaluate(
        [
          { name: 'a', document: allowAll },
          { name: 'd', document: deny },
        ],
        'kafka-cluster:describegroup',
        group,
      ).decision,
    ).toBe('allowed');
    const conditional = {
      Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'true' } } }],
    };
    expect(evaluate([{ name: 'c', document: conditional }], 'kafka-cluster:AlterGroup', group)).toEqual({
      decision: 'not allowed',
      conditional: ['c'],
    });
  });

  it('passes when the role allows both actions on the group; otherwise says exactly what to add', async () => {
    const onlyOldGroup = {
      Statement: [
        {
          Effect: 'Allow',
          Action: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
          Resource: `${groupArn(CLUSTER, 'orders-sink-group')}`,
        },
      ],
    };
    await expect(
      checkNewGroupAccess({ source: source({ inline: onlyOldGroup }), roleArn: ROLE, clusterArn: CLUSTER, group: 'orders-sink-group' }),
    ).resolves.toBeUndefined();
    const refused = checkNewGroupAccess({
      source: source({ inline: onlyOldGroup }),
      roleArn: ROLE,
      clusterArn: CLUSTER,
      group: 'replay-1',
    });
    await expect(refused).rejects.toThrow(
      `the function's role ${ROLE} may not use consumer group replay-1 (the cluster uses IAM auth): kafka-cluster:DescribeGroup is not allowed, ` +
        "kafka-cluster:AlterGroup is not allowed on arn:aws:kafka:us-east-1:123456789012:group/orders/abc-1/replay-1. Add to the role's policy: " +
        '{"Effect": "Allow", "Action": ["kafka-cluster:DescribeGroup","kafka-cluster:AlterGroup"], "Resource": "arn:aws:kafka:us-east-1:123456789012:group/orders/abc-1/replay-1"}',
    );
  });

  it('a policy it cannot read is a PolicyUnreadableError naming the role', async () => {
    const failing = {
      policies: async () => {
        throw Object.assign(new Error('User is not authorized to perform: iam:ListRolePolicies'), { name: 'AccessDenied' });
      },
    };
    const error = await checkNewGroupAccess({ source: failing, roleArn: ROLE, clusterArn: CLUSTER, group: 'g' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PolicyUnreadableError);
    expect((error as Error).message).toBe(
      `cannot read the policies of role ${ROLE}: User is not authorized to perform: iam:ListRolePolicies`,
    );
  });

  it('IAM auth: an MSK mapping without a SCRAM or mTLS secret', () => {
    expect(usesIamAuth({ EventSourceArn: CLUSTER })).toBe(true);
    expect(usesIamAuth({ EventSourceArn: CLUSTER, SourceAccessConfigurations: [{ Type: 'SASL_SCRAM_512_AUTH', URI: 'arn:secret' }] })).toBe(
      false,
    );
    expect(usesIamAuth({ SelfManagedEventSource: { Endpoints: { KAFKA_BOOTSTRAP_SERVERS: ['b:9092'] } } })).toBe(false);
  });
});
