// fast-check arbitraries from the JSON Schemas of the manager's OpenAPI document: values that
// fit a schema (so requests get past validation and reach the services) and hostile values
// (boundaries, huge numbers, wrong types, NUL, long and odd Unicode, extra and missing fields).
// Every choice is drawn from fast-check, so a run is replayed exactly from its seed and path.
import fc from 'fast-check';

export type Schema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  pattern?: string;
  format?: string;
};

/** Strings a careless server trips on. */
const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\u202e\u0644\u0627', // right-to-left override, Arabic
  '\ufeff',
  'ǅ̸̡̛̖̤̘̀͂ͅ',
  '🔑💥👩‍👩‍👧‍👦',
  '../../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  "' OR '1'='1' --",
  '"; DROP TABLE users; --',
  '%00',
  '%s%s%s%n',
  `\${jndi:ldap://127.0.0.1/x}`,
  '{{7*7}}',
  '<script>alert(1)</script>',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-1',
  '0',
  '1e309',
  '99999999999999999999',
  'true',
  '[]',
  '{}',
  'a'.repeat(201),
  'é'.repeat(5000),
  'x'.repeat(70_000),
];

const NASTY_NUMBERS = [
  0,
  -1,
  -0,
  1,
  0.5,
  -2147483648,
  2147483647,
  2147483648,
  4294967296,
  9007199254740991,
  9007199254740992,
  1e20,
  1e308,
  -1e308,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
];

/** Loopback-only network values: the fuzz never points the manager anywhere else. */
const LOOPBACK_URL = fc
  .tuple(
    fc.constantFrom('http', 'https'),
    fc.constantFrom('127.0.0.1', 'localhost', '[::1]'),
    fc.integer({ min: 1, max: 65535 }),
  )
  .map(([s, h, p]) => `${s}://${h}:${p}/`);

function typesOf(s: Schema): string[] {
  if (Array.isArray(s.type)) return s.type;
  if (typeof s.type === 'string') return [s.type];
  if (s.properties) return ['object'];
  if (s.items) return ['array'];
  return [];
}

function validString(s: Schema): fc.Arbitrary<string> {
  const min = s.minLength ?? 0;
  const max = Math.min(s.maxLength ?? 40, Math.max(min, 40));
  const fits = (v: string) => v.length >= min && (s.maxLength === undefined || v.length <= s.maxLength);
  if (s.format === 'date-time') {
    return fc
      .date({
        min: new Date('2000-01-01T00:00:00Z'),
        max: new Date('2099-12-31T00:00:00Z'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString());
  }
  if (s.format === 'email') return fc.emailAddress().filter(fits);
  if (s.format === 'uri') return LOOPBACK_URL;
  if (s.pattern) {
    // Patterns in this API are anchored; stringMatching draws strings that match them.
    return fc.stringMatching(new RegExp(s.pattern)).filter(fits);
  }
  return fc.oneof(
    { weight: 3, arbitrary: fc.string({ minLength: min, maxLength: max }) },
    { weight: 1, arbitrary: fc.string({ minLength: min, maxLength: max, unit: 'grapheme' }) },
  );
}

function validInteger(s: Schema, isInt: boolean): fc.Arbitrary<number> {
  const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -1000);
  const max =
    s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : Math.max(min, 0) + 1000);
  if (!isInt) return fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
  // Small values hit the objects that exist (ids 1, 2, 3...); the rest spread over the range.
  return fc.oneof(
    { weight: 2, arbitrary: fc.integer({ min, max: Math.min(max, min + 10) }) },
    { weight: 1, arbitrary: fc.integer({ min, max }) },
  );
}

/** Values that fit the schema. */
export function valid(s: Schema, depth = 0): fc.Arbitrary<unknown> {
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((a) => valid(a, depth + 1)));
  if (s.allOf) return valid(Object.assign({}, ...s.allOf) as Schema, depth + 1);
  const types = typesOf(s);
  if (types.length === 0) return fc.jsonValue({ maxDepth: 2 });
  return fc.oneof(...types.map((t) => validOfType(s, t, depth)));
}

function validOfType(s: Schema, type: string, depth: number): fc.Arbitrary<unknown> {
  switch (type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return validInteger(s, true);
    case 'number':
      return validInteger(s, false);
    case 'string':
      return validString(s);
    case 'array':
      return fc.array(s.items ? valid(s.items, depth + 1) : fc.jsonValue({ maxDepth: 1 }), {
        minLength: s.minItems ?? 0,
        maxLength: Math.min(s.maxItems ?? 4, Math.max(s.minItems ?? 0, 4)),
      });
    case 'object': {
      if (depth > 6) return fc.constant({});
      const props = s.properties ?? {};
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props)) model[k] = valid(v, depth + 1);
      const required = (s.required ?? []).filter((k) => k in props);
      const record = fc.record(model, { requiredKeys: required });
      if (Object.keys(props).length === 0 && s.additionalProperties !== false) {
        return fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), fc.jsonValue({ maxDepth: 1 }), {
          maxKeys: 3,
        });
      }
      return record;
    }
    default:
      return fc.jsonValue({ maxDepth: 1 });
  }
}

/** A value of the wrong kind for the schema, or at and past its edges. */
export function hostile(s: Schema, depth = 0): fc.Arbitrary<unknown> {
  const edges: unknown[] = [];
  for (const n of [s.minimum, s.maximum, s.exclusiveMinimum, s.exclusiveMaximum]) {
    if (typeof n === 'number') edges.push(n, n - 1, n + 1);
  }
  for (const n of [s.minLength, s.maxLength]) {
    if (typeof n === 'number')
      edges.push('x'.repeat(n + 1), 'x'.repeat(Math.max(0, n - 1)), '\u0000'.repeat(n));
  }
  if (typeof s.maxItems === 'number') edges.push(new Array(s.maxItems + 1).fill(0));
  const options: fc.Arbitrary<unknown>[] = [
    fc.constantFrom(...NASTY_STRINGS),
    fc.constantFrom(...NASTY_NUMBERS),
    fc.constantFrom(
      null,
      true,
      false,
      [],
      {},
      [null],
      { $ne: 1 },
      JSON.parse('{"__proto__": {"is_superuser": true}}'),
    ),
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.string({ unit: 'grapheme', minLength: 300, maxLength: 2000 }),
    fc.jsonValue({ maxDepth: 3 }),
  ];
  if (edges.length > 0) options.push(fc.constantFrom(...edges));
  const types = typesOf(s);
  if (types.includes('object') && depth < 4) options.push(hostileObject(s, depth));
  if (types.includes('array') && s.items && depth < 4) {
    options.push(fc.array(mixed(s.items, depth + 1), { minLength: 1, maxLength: 5 }));
  }
  return fc.oneof(...options);
}

/** Mostly valid, sometimes hostile: requests get deep into the services with odd values. */
export function mixed(s: Schema, depth = 0): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 4, arbitrary: valid(s, depth) }, { weight: 1, arbitrary: hostile(s, depth) });
}

/** An object with hostile members, unknown extra fields, and required fields left out. */
export function hostileObject(s: Schema, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const props = s.properties ?? {};
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [k, v] of Object.entries(props)) model[k] = mixed(v, depth + 1);
  return fc
    .tuple(
      fc.record(model, { requiredKeys: [] }),
      fc.dictionary(
        fc.oneof(
          fc.constantFrom('__proto__', 'constructor', 'id', 'role', 'is_superuser', 'a\u0000b'),
          fc.string(),
        ),
        fc.jsonValue({ maxDepth: 2 }),
        { maxKeys: 2 },
      ),
      fc.boolean(),
    )
    .map(([known, extra, addExtra]) => (addExtra ? { ...known, ...extra } : known));
}

/**
 * Only the required members, each valid: the body most likely to get through, so the fuzz also
 * reaches what an operation does after validation (and what it changes).
 */
export function minimal(s: Schema): fc.Arbitrary<unknown> {
  if (!s.properties) return valid(s);
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const k of s.required ?? []) {
    const prop = s.properties[k];
    if (prop) model[k] = valid(prop, 1);
  }
  return fc.record(model);
}
