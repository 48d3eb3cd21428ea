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

/** 400 naming every bad field (`body.content.<field>`), or nothing. */
export function assertValidContent(content: ConfigContent, prefix = 'body.content'): void {
  const errors = validateContent(content);
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
