/**
 * The binding of a self-managed Kafka source: the mapping's source access configurations (the
 * credentials' secret, the root CA, the VPC's subnets and security group) and what the execution
 * role needs to read those secrets and create the pollers' network interfaces.
 */
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { SelfManagedKafkaSource } from './kafka-source.ts';
import { grantPollerNetworkInterfaces, grantReadSecret } from './sink-permissions.ts';

/** Grants `role` what the mappings need to reach the brokers; returns their source access configurations. */
export function bindSelfManagedSource(source: SelfManagedKafkaSource, role: iam.Role): lambda.SourceAccessConfiguration[] {
  const access: lambda.SourceAccessConfiguration[] = [];
  const type = lambda.SourceAccessConfigurationType;
  const auth = source.authentication;
  if (auth) {
    const authType = {
      'sasl-scram-512': type.SASL_SCRAM_512_AUTH,
      'sasl-scram-256': type.SASL_SCRAM_256_AUTH,
      basic: type.BASIC_AUTH,
      mtls: type.CLIENT_CERTIFICATE_TLS_AUTH,
    }[auth.type];
    access.push({ type: authType, uri: auth.secret.secretArn });
    grantReadSecret(role, auth.secret.secretArn);
    if (auth.secret.encryptionKey) auth.secret.encryptionKey.grantDecrypt(role);
  }
  if (source.rootCaCertificate) {
    access.push({ type: type.SERVER_ROOT_CA_CERTIFICATE, uri: source.rootCaCertificate.secretArn });
    grantReadSecret(role, source.rootCaCertificate.secretArn);
  }
  if (source.vpcSubnets && source.securityGroup) {
    access.push({ type: type.VPC_SECURITY_GROUP, uri: source.securityGroup.securityGroupId });
    const subnetIds = subnetIdsOf(source);
    for (const subnetId of subnetIds) access.push({ type: type.VPC_SUBNET, uri: `subnet:${subnetId}` });
    grantPollerNetworkInterfaces(role, subnetIds, source.securityGroup.securityGroupId);
  }
  return access;
}

function subnetIdsOf(source: SelfManagedKafkaSource): string[] {
  const selection = source.vpcSubnets!;
  if (selection.subnets) return selection.subnets.map((subnet) => subnet.subnetId);
  return source.vpc!.selectSubnets(selection).subnetIds;
}
