#!/usr/bin/env node
/**
 * `npm run build` (also npm's `prepare`, so `npm ci`, `npm install` and `npm pack` run it):
 * bundles the command line (lib/cli.ts, which dispatches to lib/ops/cli.ts and lib/standalone/cli.ts, and everything they import) with esbuild
 * into dist/msk-s3-sink.mjs, which bin/msk-s3-sink.mjs runs in the installed package (which
 * ships bin/ and dist/ and no source), e.g. one installed with `npm install --omit=dev`.
 *
 * The package's production dependencies stay external (npm installs them next to the package);
 * anything else the command line imports, a devDependency included, is bundled, so that the
 * built file needs nothing npm leaves out with --omit=dev.
 *
 * Plain JavaScript, not TypeScript: `prepare` runs under whatever Node runs npm, and also in an
 * install without devDependencies (no tsx, no esbuild). There it builds nothing and says so,
 * rather than failing the install: in a checkout the bin runs the source and needs no bundle.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The built command line, relative to the package root (bin/msk-s3-sink.mjs imports it). */
export const OUTFILE = 'dist/msk-s3-sink.mjs';

/** Builds `OUTFILE` under `root` (the package root unless given). */
export async function buildCli({ root = ROOT, quiet = false } = {}) {
  const { build } = await import('esbuild');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const external = Object.keys(pkg.dependencies ?? {}).flatMap((name) => [name, `${name}/*`]);
  await build({
    absWorkingDir: root,
    entryPoints: ['lib/cli.ts'],
    outfile: OUTFILE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    external,
    // Bundled CommonJS code may call require(); an ES module has none of its own.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: quiet ? 'error' : 'warning',
  });
  if (!quiet) process.stdout.write(`built ${OUTFILE}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const quiet = process.argv.includes('--quiet');
  const built = existsSync(new URL(`../${OUTFILE}`, import.meta.url));
  if (!existsSync(new URL('../lib/cli.ts', import.meta.url))) {
    // The installed package (package.json "files": bin/, dist/, this script): no source to build
    // from, and the shipped build is the one to run.
    if (!built) process.stderr.write(`build-cli: neither lib/cli.ts nor ${OUTFILE} is here: nothing to build from\n`);
    process.exit(built ? 0 : 1);
  }
  let esbuildInstalled = true;
  try {
    await import('esbuild');
  } catch {
    esbuildInstalled = false;
  }
  if (!esbuildInstalled) {
    // An install without devDependencies (npm ci --omit=dev in a checkout): nothing to build with,
    // and nothing needs it: in a checkout the bin runs the source (bin/msk-s3-sink.mjs).
    if (!quiet || !built) {
      process.stderr.write(
        `build-cli: esbuild (a devDependency) is not installed, ${OUTFILE} not ${built ? 'rebuilt' : 'built'}; ` +
          'bin/msk-s3-sink.mjs runs the source in a checkout, and `npm pack` needs the devDependencies\n',
      );
    }
  } else {
    await buildCli({ quiet });
  }
}
