// Connector configurations live on the hub's agent; secrets in them are write-only. Shared by the
// agent (which stores them and merges a save), the manager (which hides them) and the console.
//
// Two rules, applied at every depth, in objects and in arrays (docs/fleet.md, "Connector secrets"):
// - By name: the value under a secret-looking name (SECRET_NAME), whatever its type (a string, a
//   number, an array, an object), is shown as `<name>_set: true|false` and never itself.
// - By value: inside any other string, the secret parts of URLs (`user:password@`), connection
//   strings and DSNs (`AccountKey=…`, `Password=…`, `sig=…`), authorization values (`Bearer …`),
//   JSON web tokens and PEM private keys are replaced by MASK; the rest stays readable.
// Sending back what a read showed keeps every stored secret; a string that still carries MASK but
// differs from what a read showed is refused (maskLeftovers), so a placeholder is never stored as
// a password and a kept secret is never spliced into a value the client rewrote.

/** Names treated as secrets (a key containing one of these words). */
export const SECRET_NAME = /(pass|pwd|secret|token|key|credential|authorization|signature|cookie)/i;

/** What replaces a secret found inside a value. */
export const MASK = '<masked>';

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** A value hidden by name: anything but null and booleans (which carry no secret). */
const isSecretValue = (v: unknown) => v !== null && v !== undefined && typeof v !== 'boolean';

const isEmpty = (v: unknown) =>
  v === '' || (Array.isArray(v) && v.length === 0) || (isRecord(v) && Object.keys(v).length === 0);

// Secret-looking key inside a value: `Password=`, `AccountKey=`, `api_token=`, `sig=`.
const VALUE_KEY = String.raw`[\w.-]*(?:pass|pwd|secret|token|key|credential|signature|auth)[\w.-]*|sig`;

/** The secret parts inside a string, each with the group that holds the secret. */
const VALUE_PATTERNS: readonly RegExp[] = [
  // URL user information: `scheme://user:password@host`, `scheme://token@host`. Greedy up to
  // the last `@` of the word, so a password with a raw `@` is hidden whole.
  /(?<pre>[a-z][a-z0-9+.-]*:\/\/(?:[^\s:@/?#]*:)?)(?<secret>[^\s]*)(?=@[^\s@]*)/gi,
  // key=value pairs of connection strings, DSNs and query strings; quoted, braced or bare values.
  new RegExp(
    String.raw`(?<pre>(?:^|[\s;&?,({"'])(?:${VALUE_KEY})\s*=\s*)(?<secret>'[^']*'|"[^"]*"|\{[^}]*\}|[^;&\s]*)`,
    'gi',
  ),
  // HTTP authorization values.
  /(?<pre>\b(?:bearer|basic|digest|negotiate)\s+)(?<secret>[^\s,;"']+)/gi,
  // JSON web tokens.
  /(?<pre>)(?<secret>\beyJ[\w-]+\.[\w-]+\.[\w-]*)/g,
  // PEM private keys.
  /(?<pre>-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----)(?<secret>[\s\S]*?)(?=-----END [A-Z0-9 ]*PRIVATE KEY-----)/g,
];

/** A string with the secrets it carries replaced by MASK. */
export function maskValue(text: string): string {
  let out = text;
  for (const re of VALUE_PATTERNS) {
    out = out.replace(re, (...args) => {
      const groups = args[args.length - 1] as { pre: string; secret: string };
      return groups.secret === '' || groups.secret === MASK
        ? `${groups.pre}${groups.secret}`
        : `${groups.pre}${MASK}`;
    });
  }
  return out;
}

/** A configuration as the API shows it: secrets by name as `<name>_set`, secrets in values as MASK. */
export function maskSecrets(value: unknown): unknown {
  if (typeof value === 'string') return maskValue(value);
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (SECRET_NAME.test(k) && isSecretValue(v)) out[`${k}_set`] = !isEmpty(v);
      else out[k] = maskSecrets(v);
    }
    return out;
  }
  return value;
}

/** `incoming` with what a read of `stored` showed put back to the stored value. */
function restore(incoming: unknown, stored: unknown): unknown {
  if (isRecord(incoming) && isRecord(stored)) return keepStoredSecrets(incoming, stored);
  if (Array.isArray(incoming) && Array.isArray(stored)) return incoming.map((v, i) => restore(v, stored[i]));
  if (typeof incoming === 'string' && typeof stored === 'string' && incoming === maskValue(stored))
    return stored;
  return incoming;
}

const isMarker = (k: string, v: unknown) =>
  k.endsWith('_set') && typeof v === 'boolean' && SECRET_NAME.test(k.slice(0, -4));

/**
 * The configuration to store when a client saves `incoming` over `stored`. A client cannot send
 * back secrets it read, so a secret it leaves out keeps its stored value; `<name>_set: true` (what
 * a read shows) keeps it as well, `<name>_set: false` removes it; a string equal to what a read
 * showed (secrets inside it masked) keeps the stored string. At every level of nesting; array
 * items pair up by position.
 */
export function keepStoredSecrets(
  incoming: Record<string, unknown>,
  stored: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(incoming)) {
    if (isMarker(k, v)) continue;
    out[k] = restore(v, stored[k]);
  }
  for (const [k, v] of Object.entries(stored)) {
    if (!SECRET_NAME.test(k) || k in incoming || !isSecretValue(v)) continue;
    if (incoming[`${k}_set`] === false) continue;
    out[k] = v;
  }
  return out;
}

/**
 * Where `incoming` still carries MASK in a string that is not exactly what a read of `stored`
 * showed: saving it would store the placeholder as a secret, or keep a secret inside a value the
 * client changed (a new host with the old password). Paths are `prefix.key.0.key`.
 */
export function maskLeftovers(incoming: unknown, stored: unknown, prefix = 'body'): string[] {
  if (typeof incoming === 'string') {
    if (!incoming.includes(MASK)) return [];
    return typeof stored === 'string' && incoming === maskValue(stored) ? [] : [prefix];
  }
  if (Array.isArray(incoming)) {
    const before = Array.isArray(stored) ? stored : [];
    return incoming.flatMap((v, i) => maskLeftovers(v, before[i], `${prefix}.${i}`));
  }
  if (isRecord(incoming)) {
    const before = isRecord(stored) ? stored : {};
    return Object.entries(incoming).flatMap(([k, v]) => maskLeftovers(v, before[k], `${prefix}.${k}`));
  }
  return [];
}

/**
 * Words of a field name that say to whom a secret is sent (`host`, `serverUrl`, `proxy_address`).
 * A bucket, container, account or region is not among them: credentials for those go to the same
 * service whatever the name, signed rather than revealed.
 */
const DESTINATION_WORDS = new Set([
  'host',
  'hostname',
  'url',
  'uri',
  'endpoint',
  'server',
  'address',
  'addr',
  'dsn',
  'proxy',
]);

const words = (key: string) =>
  key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/);

/** A field that says where the secrets beside it are sent (and is no secret itself). */
const isDestination = (k: string) => !SECRET_NAME.test(k) && words(k).some((w) => DESTINATION_WORDS.has(w));

const same = (a: unknown, b: unknown) => JSON.stringify(maskSecrets(a)) === JSON.stringify(maskSecrets(b));

/** The names of the secrets an object holds, whether `stored` is the raw or the masked form. */
function storedSecretNames(stored: Record<string, unknown>): string[] {
  const names = new Set<string>();
  for (const [k, v] of Object.entries(stored)) {
    if (isMarker(k, v)) {
      if (v === true) names.add(k.slice(0, -4));
    } else if (SECRET_NAME.test(k) && isSecretValue(v) && !isEmpty(v)) names.add(k);
  }
  return [...names];
}

/**
 * Secrets a save would keep (left out, or sent as `<name>_set: true`) in an object whose
 * destination the client changed: a new host, URL, endpoint or proxy beside the old
 * password. Keeping it would send a secret the client cannot read to a place its owner never
 * chose, so the client must type it again. Works against the raw or the masked `stored`, at
 * every depth (array items pair up by position). Paths as maskLeftovers.
 */
export function redirectedSecrets(incoming: unknown, stored: unknown, prefix = 'body'): string[] {
  if (Array.isArray(incoming) && Array.isArray(stored)) {
    return incoming.flatMap((v, i) => redirectedSecrets(v, stored[i], `${prefix}.${i}`));
  }
  if (!isRecord(incoming) || !isRecord(stored)) return [];
  const keys = new Set([...Object.keys(incoming), ...Object.keys(stored)]);
  const moved = [...keys].some((k) => isDestination(k) && !same(incoming[k], stored[k]));
  const out: string[] = [];
  if (moved) {
    for (const name of storedSecretNames(stored)) {
      const kept = !(name in incoming) && incoming[`${name}_set`] !== false;
      if (kept) out.push(`${prefix}.${name}`);
    }
  }
  for (const [k, v] of Object.entries(incoming)) {
    if (!SECRET_NAME.test(k)) out.push(...redirectedSecrets(v, stored[k], `${prefix}.${k}`));
  }
  return out;
}
