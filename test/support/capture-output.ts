import { vi } from 'vitest';

/**
 * Captures what a handler prints (Powertools logs and EMF metrics go to stdout or the console)
 * instead of letting it reach the test output; returns the growing list of what was printed.
 * Undone by `vi.restoreAllMocks()`.
 */
export function captureOutput(): string[] {
  const output: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    output.push(String(chunk));
    return true;
  });
  for (const level of ['log', 'info', 'warn', 'error'] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void output.push(args.map(String).join(' ')));
  }
  return output;
}
