import { runCli } from '../../lib/cli.ts';

/** What one in-process run of the operations CLI printed, and its exit code. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON (for `--json`). */
  // biome-ignore lint/suspicious/noExplicitAny: tests read the CLI's JSON output field by field, as a user's script would.
  json(): any;
}

/** Runs `msk-s3-sink <argv>` in this process with `env`, capturing its output; the clock reads `now`. */
export async function runCliCaptured(argv: readonly string[], env: Record<string, string | undefined>, now: () => number): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, env, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text), isTTY: false },
    now,
  });
  return { code, stdout, stderr, json: () => JSON.parse(stdout) };
}
