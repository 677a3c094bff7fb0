/**
 * Placeholders: values that stand for the user's own (an example's ARN, address or `<...>`
 * template). Synth takes them; the app makes the template refuse every deployment.
 */
import type { ConnectorConfig } from './connector-schema.ts';

/** A value that stands for the user's own (an example's ARN, address or `<...>` template): synth takes it, a deploy is refused. */
export interface Placeholder {
  readonly key: string;
  readonly value: string;
  /** Why it is taken for a placeholder. */
  readonly reason: string;
}

/** The account ids AWS's documentation uses in its examples (examples/connector.example.yaml uses the first). */
export const EXAMPLE_ACCOUNTS = ['123456789012', '111122223333'] as const;

/**
 * The values of a configuration (its keys as given, before validation) that are placeholders:
 * ARNs in one of `EXAMPLE_ACCOUNTS`, e-mail addresses and host names under the domains reserved
 * for documentation (example.com, .org, .net: RFC 2606), and `<...>` or REPLACE_ME templates.
 * In key order; a list value yields one entry per placeholder item.
 */
export function findPlaceholders(config: ConnectorConfig): Placeholder[] {
  const found: Placeholder[] = [];
  for (const [key, value] of Object.entries(config)) {
    const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [];
    for (const item of items) {
      if (typeof item !== 'string') continue;
      const text = item.trim();
      const reason = placeholderReason(text);
      if (reason !== undefined) found.push({ key, value: text, reason });
    }
  }
  return found;
}

function placeholderReason(value: string): string | undefined {
  const account = /^arn:aws[a-z-]*:[^:]*:[^:]*:(\d{12}):/.exec(value)?.[1];
  if (account !== undefined && (EXAMPLE_ACCOUNTS as readonly string[]).includes(account)) {
    return `account ${account} is the example account of AWS's documentation`;
  }
  const domain = /(?:^|[@.])(example\.(?:com|org|net))(?::\d+)?$/i.exec(value)?.[1];
  if (domain !== undefined) return `${domain.toLowerCase()} is a domain reserved for examples`;
  if (/<[^<>]+>/.test(value) || /\b(?:REPLACE|CHANGE)[_-]?ME\b/i.test(value)) return 'a template to fill in';
  return undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
