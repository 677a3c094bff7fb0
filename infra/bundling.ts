/**
 * The two functions' code: their entry points and how both are bundled.
 */
import { fileURLToPath } from 'node:url';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type { MskS3SinkProps } from './sink-props.ts';

/** The directory of this file, to find the handler without relying on the working directory. */
const here = fileURLToPath(new URL('.', import.meta.url));
/** The function's entry point (DESIGN.md: part of the product's interface). */
export const HANDLER_ENTRY = `${here}../functions/msk-sink/handler.ts`;
/** The scheduled manifest writer's entry point. */
export const MANIFEST_WRITER_ENTRY = `${here}../functions/manifest-writer/handler.ts`;

/**
 * How both functions are bundled: ESM, minified, external source maps, the SDK pinned. Exported
 * for the cold-start benchmark, which bundles its baseline handler the same way.
 */
export function bundlingOptions(props: MskS3SinkProps): Pick<nodejs.NodejsFunctionProps, 'bundling' | 'depsLockFilePath' | 'projectRoot'> {
  return {
    bundling: {
      format: nodejs.OutputFormat.ESM,
      target: 'node24',
      platform: 'node',
      minify: true,
      sourceMap: true,
      sourceMapMode: nodejs.SourceMapMode.EXTERNAL,
      sourcesContent: false,
      mainFields: ['module', 'main'],
      // ESM output: some CommonJS dependencies call require() for Node built-ins.
      banner:
        "import { createRequire as __msk_s3_sink_createRequire } from 'node:module';const require = __msk_s3_sink_createRequire(import.meta.url);",
      bundleAwsSDK: props.bundleAwsSdk ?? true,
      forceDockerBundling: false,
      tsconfig: `${here}../tsconfig.json`,
    },
    depsLockFilePath: `${here}../package-lock.json`,
    projectRoot: `${here}..`,
  };
}
