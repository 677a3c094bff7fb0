#!/usr/bin/env node
// The operations command line (lib/ops/cli.ts).
//
// In this repository (the TypeScript source next to this file, tsx installed) it runs the source
// through tsx, so that it is always the code you are editing. Anywhere else, e.g. the package
// installed with `npm install --omit=dev` (which ships bin/ and dist/ only, and no tsx), it runs
// dist/msk-s3-sink.mjs, the bundle that scripts/build-cli.mjs builds at `prepare` (npm ci,
// npm install, npm pack): plain JavaScript needing only the production dependencies.
import { existsSync } from 'node:fs';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `msk-s3-sink needs Node.js 24 (this is ${process.version}); run it as \`npx msk-s3-sink\` or \`npm run ops --\`, ` +
      'which use the project\'s own Node 24\n',
  );
  process.exit(2);
}

const source = new URL('../lib/ops/cli.ts', import.meta.url);
const built = new URL('../dist/msk-s3-sink.mjs', import.meta.url);

/** tsx's loader, when it is installed (a checkout with its devDependencies). */
async function tsxRegister() {
  try {
    return (await import('tsx/esm/api')).register;
  } catch {
    return undefined;
  }
}

let cli;
const register = existsSync(source) ? await tsxRegister() : undefined;
if (register) {
  register();
  cli = await import(source.href);
} else if (existsSync(built)) {
  cli = await import(built.href);
} else {
  process.stderr.write(
    'msk-s3-sink is not built: dist/msk-s3-sink.mjs is missing and tsx is not installed to run the source; ' +
      'install with devDependencies (npm ci) or run `npm run build`\n',
  );
  process.exit(2);
}
process.exitCode = await cli.runCli(process.argv.slice(2), process.env, {
  stdout: process.stdout,
  stderr: process.stderr,
  now: Date.now,
});
