/**
 * The CDK app (cdk.json: `npx tsx infra/app.ts`). It reads the connector configuration named by
 * the context key `config` (a JSON or YAML file; default: the example), merges the JSON object in
 * the context key `connector` over it (null removes a key), and synthesizes one stack checked by cdk-nag.
 * A configuration holding placeholders (the example's ARNs) synthesizes, but its template refuses
 * every deployment (see `refuseDeployment`).
 *
 *   npx cdk synth -c config=my-connector.yaml
 *   npx cdk deploy -c config=my-connector.yaml -c connector='{"flush.size": 500}'
 */
import { relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Annotations, App, type AppProps, CfnParameter, CfnRule, Fn, type Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  ConnectorConfigError,
  findPlaceholders,
  type Placeholder,
  readConnectorConfigFile,
  resolveConnectorConfig,
} from './connector-config.ts';
import { MskS3SinkStack } from './stack.ts';

export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const EXAMPLE_CONFIG = resolve(PROJECT_ROOT, 'examples/connector.example.yaml');

/** Builds the app; the CLI passes its context through the environment, tests pass `props.context`. */
export function buildApp(props: AppProps = {}): { app: App; stack: MskS3SinkStack } {
  const app = new App(props);
  const path = app.node.tryGetContext('config') as string | undefined;
  const file = readConnectorConfigFile(path ? resolve(path) : EXAMPLE_CONFIG);
  const overrides = parseOverrides(app.node.tryGetContext('connector'));
  // A key set to null in the overrides removes that key of the file.
  const merged = Object.fromEntries(Object.entries({ ...file, ...overrides }).filter(([, value]) => value !== null));
  const connector = resolveConnectorConfig(merged);
  const placeholders = findPlaceholders(merged);

  const account = (app.node.tryGetContext('account') as string | undefined) ?? process.env.CDK_DEFAULT_ACCOUNT;
  const region = connector.region ?? (app.node.tryGetContext('region') as string | undefined) ?? process.env.CDK_DEFAULT_REGION;
  const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? connector.stackName;
  const stack = new MskS3SinkStack(app, stackName, {
    connector,
    // Environment-agnostic unless an account/region is known: synth never needs credentials.
    env: account || region ? { account, region } : undefined,
  });
  if (placeholders.length > 0) {
    const file = path ?? relative(PROJECT_ROOT, EXAMPLE_CONFIG);
    const fromContext = placeholders.some(({ key }) => key in overrides);
    refuseDeployment(stack, placeholders, fromContext ? `the configuration (${file} and -c connector)` : file);
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

/**
 * Makes the stack's template undeployable while it holds placeholders, and says why.
 *
 * The app cannot tell `cdk synth` from `cdk deploy`: the CDK CLI runs it the same way for both
 * (same context, same environment), and a template synthesized once can be deployed later
 * without the app (`cdk deploy --app cdk.out`, a pipeline, the console). So the refusal travels
 * in the template: a CloudFormation rule whose assertion is false for every value its marker
 * parameter may take (the pattern of CDK's own CheckBootstrapVersion rule). CloudFormation
 * evaluates rules before it creates or changes any resource, and fails the deployment with the
 * rule's AssertDescription. Synth is unaffected, and prints the same text as a warning, which
 * `cdk deploy` also shows before it starts.
 */
function refuseDeployment(stack: Stack, placeholders: readonly Placeholder[], configName: string): void {
  const marker = new CfnParameter(stack, 'PlaceholderConfiguration', {
    type: 'String',
    default: 'placeholders',
    allowedValues: ['placeholders'],
    description: 'Marks a template synthesized from placeholder values; the rule RefusePlaceholderConfiguration refuses to deploy it',
  });
  new CfnRule(stack, 'RefusePlaceholderConfiguration', {
    assertions: [
      {
        assert: Fn.conditionNot(Fn.conditionContains(['placeholders'], marker.valueAsString)),
        assertDescription: placeholderMessage(placeholders, configName),
      },
    ],
  });
  Annotations.of(stack).addWarningV2('msk-s3-sink:placeholders', placeholderMessage(placeholders, configName));
}

/** What the refusal says: each placeholder, why, and what to do. */
export function placeholderMessage(placeholders: readonly Placeholder[], configName: string): string {
  const listed = placeholders.map(({ key, value, reason }) => `${key}=${value} (${reason})`).join('; ');
  return (
    `Not deployable: ${configName} holds placeholder values: ${listed}. ` +
    'Put your own values in your configuration file and deploy with -c config=YOUR-FILE (synth works with the placeholders).'
  );
}

function parseOverrides(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(String(value));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new ConnectorConfigError(['context "connector": must be a JSON object of connector keys']);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    buildApp().app.synth();
  } catch (error) {
    if (error instanceof ConnectorConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}
