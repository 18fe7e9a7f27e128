/**
 * `WWW-Authenticate` challenges (RFC 7235 §4.1, RFC 6750 §3) as registries send them on a 401:
 *
 *   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"
 *   Basic realm="kapsel"
 *
 * Several challenges may share one header, separated by commas; a parameter value is a token or
 * a quoted string with backslash escapes. Scheme names are case-insensitive (lowercased here),
 * parameter names too. Pure.
 */

export interface AuthChallenge {
  /** `bearer`, `basic`, ... (lowercase). */
  readonly scheme: string;
  /** Parameter names lowercased: `realm`, `service`, `scope`, `error`. */
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z/:=]/;

/** Every challenge in `header` (one or more `WWW-Authenticate` values joined by commas). */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const out: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const skipSpace = (): void => {
    while (i < header.length && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const readToken = (allowEquals: boolean): string => {
    const start = i;
    while (i < header.length && TOKEN_CHAR.test(header[i] ?? '') && (allowEquals || header[i] !== '=')) i++;
    return header.slice(start, i);
  };
  while (i < header.length) {
    skipSpace();
    if (header[i] === ',') { i++; continue; }
    const word = readToken(false);
    if (word === '') { i++; continue; }
    skipSpace();
    const current = out[out.length - 1];
    if (header[i] === '=' && current !== undefined) {
      // a parameter of the current challenge
      i++;
      skipSpace();
      let value: string;
      if (header[i] === '"') {
        i++;
        value = '';
        while (i < header.length && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < header.length) i++;
          value += header[i];
          i++;
        }
        i++;
      } else {
        value = readToken(true);
      }
      current.params[word.toLowerCase()] = value;
    } else {
      // a new challenge: `Scheme` followed by its parameters (token68 forms are not used by registries)
      out.push({ scheme: word.toLowerCase(), params: Object.create(null) as Record<string, string> });
    }
  }
  return out;
}
