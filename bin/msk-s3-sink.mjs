#!/usr/bin/env node
// The command line (lib/cli.ts: the operations commands, lib/ops/cli.ts, and `standalone`, lib/standalone/cli.ts).
//
// In a checkout of the repository (the TypeScript source next to this file) it runs the source:
// through tsx when it is installed, otherwise with Node 24's own type stripping, so that
// `npm ci --omit=dev` in a checkout runs it too, and it is always the code you are editing.
// In the installed package (package.json "files": bin/ and dist/, no source; Node refuses to
// strip types under node_modules anyway) it runs dist/msk-s3-sink.mjs, the plain JavaScript
// bundle that scripts/build-cli.mjs builds at `prepare` (npm ci, npm install, npm pack) and
// that needs only the production dependencies.
import { existsSync } from 'node:fs';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `msk-s3-sink needs Node.js 24 (this is ${process.version}); run it as \`npx msk-s3-sink\` or \`npm run ops --\`, ` +
      "which use the project's own Node 24\n",
  );
  process.exit(2);
}

const source = new URL('../lib/cli.ts', import.meta.url);
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
if (existsSync(source)) {
  const register = await tsxRegister();
  register?.();
  cli = await import(source.href);
} else if (existsSync(built)) {
  cli = await import(built.href);
} else {
  process.stderr.write(
    'msk-s3-sink is not built: neither lib/cli.ts nor dist/msk-s3-sink.mjs is here; run `npm run build` where the source is\n',
  );
  process.exit(2);
}
process.exitCode = await cli.runCli(process.argv.slice(2), process.env, {
  stdout: process.stdout,
  stderr: process.stderr,
  now: Date.now,
});
