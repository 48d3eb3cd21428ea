// Connector configurations live on the hub's agent; values under secret-looking names are
// write-only. The manager shows them as `<name>_set`, and a save keeps what it leaves out. Shared by
// the agent (which stores them), the manager (which hides them) and the console.

/** Names treated as secrets. */
export const SECRET_NAME = /(pass(word)?|secret|token|key|credential)/i;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

const isSecretValue = (v: unknown) => typeof v === 'string' || typeof v === 'number';

/** A configuration as the API shows it: each secret value replaced by `<name>_set`. */
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (SECRET_NAME.test(k) && isSecretValue(v)) out[`${k}_set`] = v !== '';
      else out[k] = maskSecrets(v);
    }
    return out;
  }
  return value;
}

/**
 * The configuration to store when a client saves `incoming` over `stored`. A client cannot send
 * back secrets it read, so a secret it leaves out keeps its stored value; `<name>_set: true` (what
 * a read shows) keeps it as well, `<name>_set: false` removes it. At every level of nesting.
 */
export function keepStoredSecrets(
  incoming: Record<string, unknown>,
  stored: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(incoming)) {
    const base = k.endsWith('_set') ? k.slice(0, -4) : undefined;
    if (base !== undefined && SECRET_NAME.test(base) && typeof v === 'boolean') continue;
    const before = stored[k];
    out[k] = isRecord(v) && isRecord(before) ? keepStoredSecrets(v, before) : v;
  }
  for (const [k, v] of Object.entries(stored)) {
    if (!SECRET_NAME.test(k) || k in incoming || !isSecretValue(v)) continue;
    if (incoming[`${k}_set`] === false) continue;
    out[k] = v;
  }
  return out;
}
