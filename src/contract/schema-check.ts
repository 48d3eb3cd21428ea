// Checking a value against a TypeBox schema with the compiled checker, and reporting what is
// wrong field by field, in words safe to show someone other than the sender: the agent protocol's
// two sides use it (src/agent/validate.ts, server/modules/fleet/agent-client.ts).

import type { TSchema } from 'typebox';
import { Compile, type Validator } from 'typebox/compile';

const validators = new WeakMap<TSchema, Validator>();

/** The compiled check of a schema, made on first use. */
export function validatorOf(schema: TSchema): Validator {
  let v = validators.get(schema);
  if (!v) {
    v = Compile(schema) as unknown as Validator;
    validators.set(schema, v);
  }
  return v;
}

export interface ProtocolError {
  /** `<where>.<path>`; a path segment that is not a plain name (letters, digits, `_`) shows as `*`. */
  field: string;
  message: string;
}

const MAX_ERRORS = 10;
const plain = (segment: string) => (/^[A-Za-z0-9_]{1,64}$/.test(segment) ? segment : '*');

/**
 * What is wrong with `value` for `schema`, field by field (empty: nothing). Messages come from the
 * schema, never from the value; names that are not plain are starred, so that a caller may show
 * them to someone other than the sender.
 */
export function protocolErrors(schema: TSchema, value: unknown, where: string): ProtocolError[] {
  const v = validatorOf(schema);
  if (v.Check(value)) return [];
  const out: ProtocolError[] = [];
  const seen = new Set<string>();
  for (const e of v.Errors(value)) {
    const path = e.instancePath
      .split('/')
      .slice(1)
      .map((s) => plain(s.replace(/~1/g, '/').replace(/~0/g, '~')));
    const field = [where, ...path].join('.');
    const params = e.params as { requiredProperties?: unknown };
    const items: ProtocolError[] = Array.isArray(params.requiredProperties)
      ? params.requiredProperties.map((p) => ({
          field: `${field}.${plain(String(p))}`,
          message: 'is required',
        }))
      : [{ field, message: e.message }];
    for (const item of items) {
      const key = `${item.field} ${item.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(item);
      if (out.length === MAX_ERRORS) return out;
    }
  }
  // The compiled check and the error walk agree; should they not, the value is still refused.
  return out.length > 0 ? out : [{ field: where, message: 'does not match its schema' }];
}

/** One line for a list of protocol errors: `body.revision must be integer; body.content is required`. */
export const protocolErrorText = (errors: ProtocolError[]) =>
  errors.map((e) => `${e.field} ${e.message}`).join('; ');
