/**
 * What the Lambda bundles carry. Both functions load lib/config/config.ts at cold start and lib/sink/event.ts
 * parses every event; they check their input without zod, which cost 30 KB of each bundle and a
 * good part of module initialisation (README, Performance, "Cold start"). zod stays a dependency
 * of the CDK app, the Kafka Connect settings and the standalone worker: this keeps it out of
 * the functions, whatever imports change. esbuild bundles each entry point as the construct
 * does (ESM, node24, the `module` field first); only the list of inputs is read.
 */
import { build } from 'esbuild';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/child.ts';

async function bundledPackages(entry: string): Promise<Set<string>> {
  const result = await build({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    write: false,
    metafile: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    mainFields: ['module', 'main'],
    minify: true,
    logLevel: 'silent',
    outfile: join(ROOT, 'node_modules/.cache/msk-s3-sink/lambda-bundle-test/index.mjs'),
  });
  const packages = new Set<string>();
  for (const input of Object.keys(result.metafile.inputs)) {
    const name = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1];
    if (name) packages.add(name);
  }
  return packages;
}

describe('the Lambda bundles', () => {
  it.each([['functions/msk-sink/handler.ts'], ['functions/manifest-writer/handler.ts']])(
    '%s: the SDK clients, and no zod',
    async (entry) => {
      const packages = await bundledPackages(entry);
      expect(packages).toContain('@aws-sdk/client-s3'); // the bundle was built and read
      expect(packages).toContain('@aws-sdk/client-dynamodb');
      expect([...packages].filter((name) => name === 'zod' || name.startsWith('@zod/'))).toEqual([]);
    },
  );
});
