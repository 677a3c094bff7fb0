/**
 * Runs one of the project's TypeScript entry points (local/run.ts, local/ops.ts) as a child
 * process on this test's Node (24) with tsx, as `npm start` does, in the repository root.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node --import tsx <script> ...args`; the child sets the sink's environment itself. */
export function runScript(script: string, args: readonly string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  // Keep this process's sink and AWS settings from leaking into the child.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('SINK_') && name !== 'LEDGER_TABLE' && !name.startsWith('AWS_')),
  );
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', script, ...args],
      { cwd: ROOT, env: { ...env, ...extraEnv, INIT_CWD: ROOT }, timeout: 110_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
