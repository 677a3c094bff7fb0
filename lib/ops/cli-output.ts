/** The operations command line's text rendering: tables, ages, sizes, and errors in an operator's words. */

/** An error as the operator reads it: permission, not-found and credential errors of the SDKs named for what they mean. */
export function describe(error: unknown): string {
  const e = error as Error & { $metadata?: { httpStatusCode?: number }; Code?: string };
  if (e.name === 'AccessDeniedException' || e.name === 'AccessDenied' || e.$metadata?.httpStatusCode === 403) {
    return `permission denied: ${e.message} (the credentials in use lack a permission this command needs)`;
  }
  if (e.name === 'ResourceNotFoundException') return `not found: ${e.message}`;
  if (e.name === 'NoSuchBucket') return `no such bucket: ${e.message}`;
  if (e.name === 'CredentialsProviderError') return `no AWS credentials: ${e.message}`;
  return `${e.name}: ${e.message}`;
}

/** A plain text table: columns padded to their widest cell. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string {
  const cells = [header, ...rows.map((row) => row.map((cell) => (cell === undefined || cell === null ? '-' : String(cell))))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] as string).length)));
  return `${cells
    .map((row) =>
      row
        .map((cell, column) => (cell as string).padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

/** A duration in seconds, shortest first: `90s`, `45m`, `5h`, `3d`. */
export function age(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}

/** A size in bytes in binary units: `512 B`, `1.5 KiB`, … */
export function bytes(count: number): string {
  if (count < 1024) return `${count} B`;
  if (count < 1024 ** 2) return `${(count / 1024).toFixed(1)} KiB`;
  if (count < 1024 ** 3) return `${(count / 1024 ** 2).toFixed(1)} MiB`;
  return `${(count / 1024 ** 3).toFixed(1)} GiB`;
}
