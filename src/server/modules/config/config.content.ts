// Configuration content as stored, shown and sent. Secret field values are sealed at rest
// ({"$sealed": "..."}), shown only as `<field>_set`, and opened only to be sent to an agent.

import {
  type ConfigContent,
  canonicalJson,
  fieldDef,
  validateContent,
} from '../../../contract/fleet-fields.js';
import { AppError } from '../../shared/app-error.js';
import type { SecretBox } from '../../shared/secret-box.js';

type Sealed = { $sealed: string };
const isSealed = (v: unknown): v is Sealed =>
  !!v && typeof v === 'object' && typeof (v as Sealed).$sealed === 'string';

/**
 * The reference to destination lists: `"destinations__lists": ["office-egress", "partners"]`.
 * The manager resolves it when a revision is saved (the revision keeps the lists' entries) and
 * sends the appliance the entries merged into `destinations__allowed_ips` (addresses) and
 * `destinations__allowed_cidrs` (networks), after any given there directly; the reference itself
 * never reaches an appliance.
 */
export const DESTINATION_LISTS_FIELD = 'destinations__lists';
export const MAX_LIST_REFERENCES = 50;
const LIST_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$/;

/** The destination list names a content references. */
export function listReferences(content: ConfigContent): string[] {
  const v = content[DESTINATION_LISTS_FIELD];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function checkListReferences(value: unknown): string | undefined {
  if (value === null) return undefined;
  if (!Array.isArray(value)) return 'must be a list of destination list names';
  if (value.length > MAX_LIST_REFERENCES) return `must name at most ${MAX_LIST_REFERENCES} lists`;
  const seen = new Set<string>();
  for (const v of value) {
    if (typeof v !== 'string' || !LIST_NAME.test(v)) return 'items must be destination list names';
    if (seen.has(v)) return `names "${v}" twice`;
    seen.add(v);
  }
  return undefined;
}

/** What an appliance receives: references replaced by the entries of the lists (`lists`). */
export function resolveContent(
  content: ConfigContent,
  lists: Record<string, string[]> | null,
): ConfigContent {
  if (!(DESTINATION_LISTS_FIELD in content)) return content;
  const { [DESTINATION_LISTS_FIELD]: _refs, ...out } = content;
  const names = listReferences(content);
  if (names.length === 0) return out;
  const ips = new Set<string>(
    Array.isArray(out.destinations__allowed_ips) ? (out.destinations__allowed_ips as string[]) : [],
  );
  const cidrs = new Set<string>(
    Array.isArray(out.destinations__allowed_cidrs) ? (out.destinations__allowed_cidrs as string[]) : [],
  );
  for (const name of names) {
    for (const entry of lists?.[name] ?? []) (entry.includes('/') ? cidrs : ips).add(entry);
  }
  out.destinations__allowed_ips = [...ips];
  out.destinations__allowed_cidrs = [...cidrs];
  return out;
}

/** Resolved content the agent would refuse (a list pushed a field past its item limit). */
export function resolvedErrors(resolved: ConfigContent): { field: string; message: string }[] {
  return validateContent(resolved).filter((e) => e.field.startsWith('destinations__'));
}

/** 400 naming every bad field (`body.content.<field>`), or nothing. */
export function assertValidContent(content: ConfigContent, prefix = 'body.content'): void {
  const { [DESTINATION_LISTS_FIELD]: refs, ...rest } = content;
  const errors = validateContent(rest);
  if (DESTINATION_LISTS_FIELD in content) {
    const bad = checkListReferences(refs);
    if (bad) errors.push({ field: DESTINATION_LISTS_FIELD, message: bad });
  }
  if (errors.length > 0) {
    throw new AppError({
      code: 'validation_failed',
      message: `invalid configuration: ${errors.map((e) => `${e.field} (${e.message})`).join(', ')}`,
      errors: errors.map((e) => ({ field: `${prefix}.${e.field}`, message: e.message })),
    });
  }
}

/**
 * Merges `input` into `current` (PATCH) or replaces it (PUT). Null removes a field. A secret
 * field left out of a PUT while `<field>_set: true` is sent keeps its stored value, so a GET
 * followed by a PUT of the same document does not wipe secrets.
 */
export function mergeContent(
  current: ConfigContent,
  input: ConfigContent,
  mode: 'put' | 'patch',
  secrets: SecretBox,
): ConfigContent {
  const out: ConfigContent = mode === 'patch' ? { ...current } : {};
  for (const [key, value] of Object.entries(input)) {
    if (key.endsWith('_set') && fieldDef(key.slice(0, -4))?.secret) {
      const base = key.slice(0, -4);
      if (mode === 'put' && value === true && !(base in input) && current[base] !== undefined)
        out[base] = current[base];
      if (value === false && !(base in input)) delete out[base];
      continue;
    }
    if (value === null) {
      delete out[key];
      continue;
    }
    const def = fieldDef(key);
    out[key] =
      def?.secret && typeof value === 'string' && value !== '' ? { $sealed: secrets.seal(value) } : value;
  }
  return out;
}

/** What GET shows: secrets as `<field>_set`. */
export function publicContent(stored: ConfigContent): ConfigContent {
  const out: ConfigContent = {};
  for (const [key, value] of Object.entries(stored)) {
    if (fieldDef(key)?.secret)
      out[`${key}_set`] = isSealed(value) || (typeof value === 'string' && value !== '');
    else out[key] = value;
  }
  return out;
}

/** The plain content to send to an agent. */
export function openContent(stored: ConfigContent, secrets: SecretBox): ConfigContent {
  const out: ConfigContent = {};
  for (const [key, value] of Object.entries(stored))
    out[key] = isSealed(value) ? secrets.open(value.$sealed) : value;
  return out;
}

export interface FieldChange {
  field: string;
  action: 'added' | 'changed' | 'removed';
  from?: unknown;
  to?: unknown;
}

/** What applying `to` over `from` changes; secret values are compared but never shown. */
export function diffContent(from: ConfigContent, to: ConfigContent, secrets: SecretBox): FieldChange[] {
  const a = openContent(from, secrets);
  const b = openContent(to, secrets);
  const show = (k: string, v: unknown) => (fieldDef(k)?.secret ? '********' : v);
  const changes: FieldChange[] = [];
  for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (!(key in a)) changes.push({ field: key, action: 'added', to: show(key, b[key]) });
    else if (!(key in b)) changes.push({ field: key, action: 'removed', from: show(key, a[key]) });
    else if (canonicalJson(a[key]) !== canonicalJson(b[key])) {
      changes.push({ field: key, action: 'changed', from: show(key, a[key]), to: show(key, b[key]) });
    }
  }
  return changes;
}
