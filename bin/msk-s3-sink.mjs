#!/usr/bin/env node
// The operations command line (lib/ops/cli.ts), run from its TypeScript source through tsx.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `msk-s3-sink needs Node.js 24 (this is ${process.version}); run it as \`npx msk-s3-sink\` or \`npm run ops --\`, ` +
      'which use the project\'s own Node 24\n',
  );
  process.exit(2);
}
const { register } = await import('tsx/esm/api');
register();
const { runCli } = await import('../lib/ops/cli.ts');
process.exitCode = await runCli(process.argv.slice(2), process.env, {
  stdout: process.stdout,
  stderr: process.stderr,
  now: Date.now,
});
