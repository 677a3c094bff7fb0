/**
 * Where the sink reads from: an Amazon MSK cluster or a self-managed Kafka cluster, and how it
 * authenticates. These types are plain data (plus CDK references to secrets, subnets and
 * security groups), so that the connector configuration and CDK users build them the same way.
 */
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';

/** How the event source mapping authenticates to an Amazon MSK cluster. */
export type MskAuthentication =
  /** IAM access control (SASL/IAM). The only choice for MSK Serverless. */
  | { readonly type: 'iam' }
  /** SASL/SCRAM-SHA-512 with a Secrets Manager secret (name must start with `AmazonMSK_`). */
  | { readonly type: 'sasl-scram'; readonly secret: ISecret }
  /** Mutual TLS: a secret with the client certificate chain and private key. */
  | { readonly type: 'mtls'; readonly secret: ISecret };

/** How the event source mapping authenticates to a self-managed Kafka cluster. */
export interface SelfManagedKafkaAuthentication {
  /** SASL/SCRAM-SHA-512, SASL/SCRAM-SHA-256, SASL/PLAIN (`basic`) or mutual TLS (`mtls`). */
  readonly type: 'sasl-scram-512' | 'sasl-scram-256' | 'basic' | 'mtls';
  /** The Secrets Manager secret holding the credentials (or, for mTLS, the certificate and key). */
  readonly secret: ISecret;
}

/** An Amazon MSK cluster, provisioned or serverless. */
export interface MskSource {
  readonly kind: 'msk';
  /** The cluster's ARN, `arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>`. */
  readonly clusterArn: string;
  /**
   * MSK Serverless accepts IAM authentication only; set this so that the construct checks it.
   * @default false
   */
  readonly serverless?: boolean;
  /** @default { type: 'iam' } */
  readonly authentication?: MskAuthentication;
  /**
   * The cluster's client subnets (`subnet-...`), where the mapping's pollers create their network
   * interfaces: the execution role may then create and delete interfaces in these subnets only.
   * @default - any subnet of this account in this region (the construct is not told the cluster's)
   */
  readonly subnetIds?: readonly string[];
}

/** A self-managed Apache Kafka cluster (anywhere the mapping's pollers can reach). */
export interface SelfManagedKafkaSource {
  readonly kind: 'self-managed';
  /** `host:port` of one or more brokers. */
  readonly bootstrapServers: readonly string[];
  /**
   * Required when the brokers are reached over the internet (no `vpcSubnets`).
   * @default - no authentication (allowed only inside a VPC)
   */
  readonly authentication?: SelfManagedKafkaAuthentication;
  /**
   * A secret with the root CA certificate, when the brokers' certificates are signed by a private CA.
   * @default - the brokers' certificates are publicly trusted
   */
  readonly rootCaCertificate?: ISecret;
  /**
   * The subnets in which the mapping's pollers reach the brokers. Give `subnets` explicitly, or a
   * selection (subnet type, group) together with `vpc`.
   * @default - the brokers are reached over the internet
   */
  readonly vpcSubnets?: SubnetSelection;
  /**
   * The VPC of `vpcSubnets`; needed only when `vpcSubnets` selects by type or group.
   * @default - none
   */
  readonly vpc?: IVpc;
  /**
   * The security group of the pollers' network interfaces; required with `vpcSubnets`.
   * @default - none
   */
  readonly securityGroup?: ISecurityGroup;
}

export type KafkaSource = MskSource | SelfManagedKafkaSource;
