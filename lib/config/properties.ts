/**
 * Java `.properties` files as Kafka Connect reads them (java.util.Properties): `key=value`,
 * `key: value` or `key value`; `#` and `!` comment lines; a trailing backslash continues the
 * line; `\t`, `\n`, `\r`, `\f`, `\uXXXX` and `\<char>` escapes. Returns every key with the line
 * it was (last) defined on, so that errors can point at it.
 */
export interface PropertiesEntry {
  readonly value: string;
  readonly line: number;
}

export function parseProperties(text: string): Map<string, PropertiesEntry> {
  const entries = new Map<string, PropertiesEntry>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  for (let index = 0; index < lines.length; index++) {
    const startLine = index + 1;
    let logical = lines[index]!.replace(/^[ \t\f]+/, '');
    if (logical === '' || logical.startsWith('#') || logical.startsWith('!')) continue;
    // Continuation: an odd number of trailing backslashes joins the next line (its leading blanks dropped).
    while (endsWithContinuation(logical) && index + 1 < lines.length) {
      logical = logical.slice(0, -1) + lines[++index]!.replace(/^[ \t\f]+/, '');
    }
    if (endsWithContinuation(logical)) logical = logical.slice(0, -1);
    // The key ends at the first unescaped '=', ':' or blank.
    let at = 0;
    while (at < logical.length) {
      const char = logical[at]!;
      if (char === '\\') {
        at += 2;
        continue;
      }
      if (char === '=' || char === ':' || char === ' ' || char === '\t' || char === '\f') break;
      at++;
    }
    const rawKey = logical.slice(0, Math.min(at, logical.length));
    let rest = logical.slice(Math.min(at, logical.length));
    rest = rest.replace(/^[ \t\f]*/, '');
    if (rest.startsWith('=') || rest.startsWith(':')) rest = rest.slice(1).replace(/^[ \t\f]*/, '');
    entries.set(unescapeProperty(rawKey), { value: unescapeProperty(rest), line: startLine });
  }
  return entries;
}

function endsWithContinuation(line: string): boolean {
  let count = 0;
  for (let i = line.length - 1; i >= 0 && line[i] === '\\'; i--) count++;
  return count % 2 === 1;
}

function unescapeProperty(text: string): string {
  return text.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, escaped: string) => {
    if (escaped.length === 5) return String.fromCharCode(parseInt(escaped.slice(1), 16));
    switch (escaped) {
      case 't':
        return '\t';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 'f':
        return '\f';
      default:
        return escaped;
    }
  });
}
