/**
 * The CDK app (cdk.json: `npx tsx infra/app.ts`). It reads the connector configuration named by
 * the context key `config` (a JSON or YAML file; default: the example), merges the JSON object in
 * the context key `connector` over it (null removes a key), and synthesizes one stack checked by cdk-nag.
 *
 *   npx cdk synth -c config=my-connector.yaml
 *   npx cdk deploy -c config=my-connector.yaml -c connector='{"flush.size": 500}'
 */
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConnectorConfigError, readConnectorConfigFile, resolveConnectorConfig } from './connector-config.ts';
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

  const account = (app.node.tryGetContext('account') as string | undefined) ?? process.env.CDK_DEFAULT_ACCOUNT;
  const region = connector.region ?? (app.node.tryGetContext('region') as string | undefined) ?? process.env.CDK_DEFAULT_REGION;
  const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? connector.stackName;
  const stack = new MskS3SinkStack(app, stackName, {
    connector,
    // Environment-agnostic unless an account/region is known: synth never needs credentials.
    env: account || region ? { account, region } : undefined,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
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
