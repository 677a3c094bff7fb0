import type { EventSourceMappingConfiguration } from '@aws-sdk/client-lambda';
import { OperationError } from '../core/errors.ts';

/** One IAM policy document, as IAM returns it (decoded JSON). */
export interface PolicyDocument {
  readonly Statement?: PolicyStatement | readonly PolicyStatement[];
}

interface PolicyStatement {
  readonly Effect?: string;
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  readonly Condition?: unknown;
}

/** Reads the policies attached to, or inlined in, an IAM role. */
export interface RolePolicySource {
  /** Every identity policy of the role (inline and attached managed), with a name for messages. */
  policies(roleArn: string): Promise<ReadonlyArray<{ readonly name: string; readonly document: PolicyDocument }>>;
}

/** What the function needs on a consumer group to consume with it under MSK IAM auth. */
export const GROUP_ACTIONS = ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'] as const;

/**
 * True when Lambda reaches the mapping's cluster with IAM: an MSK mapping with no SASL/SCRAM or
 * mutual-TLS secret (Lambda then authenticates with the function's execution role).
 */
export function usesIamAuth(mapping: EventSourceMappingConfiguration): boolean {
  if (!mapping.EventSourceArn?.startsWith('arn:aws:kafka:')) return false;
  const secretAuth = ['SASL_SCRAM_512_AUTH', 'SASL_SCRAM_256_AUTH', 'CLIENT_CERTIFICATE_TLS_AUTH'];
  return !(mapping.SourceAccessConfigurations ?? []).some((c) => c.Type !== undefined && secretAuth.includes(c.Type));
}

/** The ARN of consumer group `group` on the MSK cluster `clusterArn` (`…:group/<cluster>/<uuid>/<group>`). */
export function groupArn(clusterArn: string, group: string): string {
  const match = /^(arn:[^:]+:kafka:[^:]*:[^:]*:)cluster\/([^/]+\/[^/]+)$/.exec(clusterArn);
  if (!match) throw new OperationError(`${clusterArn} is not an MSK cluster ARN`);
  return `${match[1]}group/${match[2]}/${group}`;
}

/**
 * Whether identity policies allow `action` on `resource`, as IAM evaluates them: an explicit
 * Deny wins, else some Allow must match. Statements with a Condition cannot be judged here: an
 * Allow with one does not count (and is reported), a Deny with one counts (the cautious side).
 */
export function evaluate(
  documents: ReadonlyArray<{ readonly name: string; readonly document: PolicyDocument }>,
  action: string,
  resource: string,
): { readonly decision: 'allowed' | 'denied' | 'not allowed'; readonly conditional: readonly string[] } {
  let allowed = false;
  const conditional: string[] = [];
  for (const { name, document } of documents) {
    for (const statement of list(document.Statement)) {
      const actionMatches =
        statement.NotAction !== undefined
          ? !list(statement.NotAction).some((p) => matches(p, action, true))
          : list(statement.Action).some((p) => matches(p, action, true));
      const resourceMatches =
        statement.NotResource !== undefined
          ? !list(statement.NotResource).some((p) => matches(p, resource, false))
          : list(statement.Resource).some((p) => matches(p, resource, false));
      if (!actionMatches || !resourceMatches) continue;
      if (statement.Effect === 'Deny') return { decision: 'denied', conditional };
      if (statement.Effect === 'Allow') {
        if (statement.Condition !== undefined) conditional.push(name);
        else allowed = true;
      }
    }
  }
  return { decision: allowed ? 'allowed' : 'not allowed', conditional };
}

/**
 * Checks, before a replay changes anything, that the function's execution role may use the new
 * consumer group: `kafka-cluster:DescribeGroup` and `AlterGroup` on its group ARN. Throws an
 * `OperationError` saying what to add, or, when the policies cannot be read, saying so.
 */
export async function checkNewGroupAccess(input: {
  readonly source: RolePolicySource;
  readonly roleArn: string | undefined;
  readonly clusterArn: string;
  readonly group: string;
}): Promise<void> {
  const resource = groupArn(input.clusterArn, input.group);
  if (!input.roleArn) throw new PolicyUnreadableError(`Lambda did not return the function's execution role`);
  let documents;
  try {
    documents = await input.source.policies(input.roleArn);
  } catch (error) {
    throw new PolicyUnreadableError(`cannot read the policies of role ${input.roleArn}: ${(error as Error).message}`, { cause: error });
  }
  const missing = GROUP_ACTIONS.map((action) => ({ action, ...evaluate(documents, action, resource) })).filter(
    (r) => r.decision !== 'allowed',
  );
  if (missing.length === 0) return;
  const conditional = [...new Set(missing.flatMap((m) => m.conditional))];
  throw new OperationError(
    `the function's role ${input.roleArn} may not use consumer group ${input.group} (the cluster uses IAM auth): ` +
      missing.map((m) => `${m.action} is ${m.decision === 'denied' ? 'explicitly denied' : 'not allowed'}`).join(', ') +
      ` on ${resource}.` +
      (conditional.length ? ` (Allow statements with conditions in ${conditional.join(', ')} were not counted.)` : '') +
      ` Add to the role's policy: {"Effect": "Allow", "Action": ${JSON.stringify(GROUP_ACTIONS)}, "Resource": "${resource}"}` +
      ' and run the replay again (nothing was changed)',
  );
}

/** The role's policies could not be read: the check cannot be made (`--force` goes on without it). */
export class PolicyUnreadableError extends OperationError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PolicyUnreadableError';
  }
}

function list<T>(value: T | readonly T[] | undefined): readonly T[] {
  return value === undefined ? [] : Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

/** IAM's wildcard match: `*` any run of characters, `?` one; actions ignore case. */
function matches(pattern: string, value: string, ignoreCase: boolean): boolean {
  const regex = new RegExp(
    `^${pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('')}$`,
    ignoreCase ? 'i' : '',
  );
  return regex.test(value);
}

/** The methods of `@aws-sdk/client-iam`'s client the adapter calls. */
interface IamClient {
  // biome-ignore lint/suspicious/noExplicitAny: the five commands' responses, read field by field below, would each need their own type.
  send(command: unknown): Promise<any>;
  destroy(): void;
}

/** The part of `@aws-sdk/client-iam` the adapter uses (loaded when first needed: see `IamRolePolicies`). */
interface IamModule {
  IAMClient: new (config: { region?: string; endpoint?: string }) => IamClient;
  ListRolePoliciesCommand: new (input: { RoleName: string; Marker?: string }) => unknown;
  GetRolePolicyCommand: new (input: { RoleName: string; PolicyName: string }) => unknown;
  ListAttachedRolePoliciesCommand: new (input: { RoleName: string; Marker?: string }) => unknown;
  GetPolicyCommand: new (input: { PolicyArn: string }) => unknown;
  GetPolicyVersionCommand: new (input: { PolicyArn: string; VersionId: string }) => unknown;
}

/**
 * The role's policies through the IAM API: inline (`ListRolePolicies`, `GetRolePolicy`) and
 * attached managed ones (`ListAttachedRolePolicies`, `GetPolicy`, `GetPolicyVersion`). The IAM
 * client package is loaded when first needed; without it, the policies cannot be read (and the
 * caller says so).
 */
export class IamRolePolicies implements RolePolicySource {
  readonly #config: { region?: string; endpoint?: string };

  constructor(config: { readonly region?: string; readonly endpoint?: string }) {
    this.#config = { ...config };
  }

  async policies(roleArn: string): Promise<Array<{ name: string; document: PolicyDocument }>> {
    const moduleName = '@aws-sdk/client-iam';
    let iam: IamModule;
    try {
      // A literal specifier, so that the import test (test/unit/layout-imports.test.ts) sees it.
      iam = (await import('@aws-sdk/client-iam')) as unknown as IamModule;
    } catch (error) {
      throw new Error(`the IAM client package ${moduleName} is not installed`, { cause: error });
    }
    const client = new iam.IAMClient(this.#config);
    const roleName = roleArn.slice(roleArn.lastIndexOf('/') + 1);
    const decode = (text: string): PolicyDocument => JSON.parse(decodeURIComponent(text)) as PolicyDocument;
    const found: Array<{ name: string; document: PolicyDocument }> = [];
    try {
      let marker: string | undefined;
      do {
        const page = await client.send(new iam.ListRolePoliciesCommand({ RoleName: roleName, ...(marker ? { Marker: marker } : {}) }));
        for (const name of (page.PolicyNames ?? []) as string[]) {
          const got = await client.send(new iam.GetRolePolicyCommand({ RoleName: roleName, PolicyName: name }));
          found.push({ name, document: decode(got.PolicyDocument) });
        }
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker);
      do {
        const page = await client.send(
          new iam.ListAttachedRolePoliciesCommand({ RoleName: roleName, ...(marker ? { Marker: marker } : {}) }),
        );
        for (const attached of (page.AttachedPolicies ?? []) as Array<{ PolicyName: string; PolicyArn: string }>) {
          const { Policy } = await client.send(new iam.GetPolicyCommand({ PolicyArn: attached.PolicyArn }));
          const { PolicyVersion } = await client.send(
            new iam.GetPolicyVersionCommand({ PolicyArn: attached.PolicyArn, VersionId: Policy.DefaultVersionId }),
          );
          found.push({ name: attached.PolicyName, document: decode(PolicyVersion.Document) });
        }
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker);
    } finally {
      client.destroy();
    }
    return found;
  }
}
