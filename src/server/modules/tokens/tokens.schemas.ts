// Request and response schemas of the API tokens and per-user API keys.
import { Type } from 'typebox';
import { AREAS } from '../../../contract/permissions.js';
import { Id, Nullable, StrictObject, StringEnum } from '../../http/schemas.js';

const PermissionSchema = Type.String({
  pattern: `^(${AREAS.join('|')}):(read|write)$`,
  description: 'A permission, `<area>:read` or `<area>:write`',
});

const TokenStatus = StringEnum(['active', 'disabled', 'expired', 'revoked', 'suspended'], {
  description:
    '`suspended`: the token itself is valid but its owner is disabled, so every request with it is refused',
});

const Restriction = Type.Object({
  set_by: Type.Integer({ description: 'The admin who set it' }),
  set_by_username: Nullable(Type.String()),
  set_at: Type.String({ format: 'date-time' }),
});

const tokenExample = {
  id: 7,
  kind: 'api_token',
  name: 'siem-export',
  description: 'Nightly export to the SIEM',
  owner_id: 3,
  owner_username: 'svc-siem',
  group_id: null,
  created_by: 1,
  scopes: ['audit:read', 'appliances:read'],
  enabled: true,
  status: 'active',
  expires_at: '2027-02-22T00:00:00.000Z',
  requires_login: false,
  allow_in_url: false,
  allowed_ips: ['192.0.2.0/24'],
  rate_limit_per_minute: 120,
  default_tags: [],
  default_profile: null,
  prefix: 'stwt',
  last4: 'x9Qa',
  token_hint: 'stwt…x9Qa',
  created_at: '2026-11-24T10:00:00.000Z',
  updated_at: '2026-11-24T10:00:00.000Z',
  refreshed_at: null,
  previous_token_expires_at: null,
  revoked_at: null,
  last_used_at: '2026-11-24T11:00:00.000Z',
  last_used_ip: '192.0.2.15',
  use_count: 412,
  restrictions: {
    allowed_ips: { set_by: 1, set_by_username: 'admin', set_at: '2026-11-24T10:00:00.000Z' },
  },
};

const tokenProps = {
  id: Type.Integer(),
  kind: StringEnum(['api_token', 'api_key']),
  name: Type.String(),
  description: Type.String(),
  owner_id: Type.Integer(),
  owner_username: Nullable(Type.String()),
  group_id: Nullable(Type.Integer()),
  created_by: Nullable(Type.Integer()),
  scopes: Type.Array(Type.String(), { description: "Permissions of the token (`*`: all of the owner's)" }),
  enabled: Type.Boolean(),
  status: TokenStatus,
  expires_at: Nullable(Type.String({ format: 'date-time' })),
  requires_login: Type.Boolean(),
  allow_in_url: Type.Boolean(),
  allowed_ips: Type.Array(Type.String()),
  rate_limit_per_minute: Nullable(Type.Integer()),
  default_tags: Type.Array(Type.String()),
  default_profile: Nullable(Type.String()),
  prefix: Type.String(),
  last4: Type.String(),
  token_hint: Type.String({
    description: 'Prefix and last four characters; the secret itself is never shown again',
  }),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  refreshed_at: Nullable(Type.String({ format: 'date-time' })),
  previous_token_expires_at: Nullable(Type.String({ format: 'date-time' })),
  revoked_at: Nullable(Type.String({ format: 'date-time' })),
  last_used_at: Nullable(Type.String({ format: 'date-time' })),
  last_used_ip: Nullable(Type.String()),
  use_count: Type.Integer(),
  restrictions: Type.Object(
    {
      enabled: Type.Optional(Restriction),
      scopes: Type.Optional(Restriction),
      expires_at: Type.Optional(Restriction),
      allowed_ips: Type.Optional(Restriction),
      rate_limit_per_minute: Type.Optional(Restriction),
    },
    {
      description:
        "What an admin set on this token (someone else's): only an admin may loosen these fields; the owner may tighten them. " +
        'Each entry names the admin who set it and when.',
    },
  ),
};

export const Token = Type.Object(tokenProps, { examples: [tokenExample] });
export const TokenWithSecret = Type.Object(
  { ...tokenProps, token: Type.String({ description: 'The secret. Shown once: store it now.' }) },
  { examples: [{ ...tokenExample, token: 'stwtQ2x8Rk3mZ0pLw7Yb4VnT6cJf9sHd1GaE5uKx9Qa' }] },
);

const tokenWritable = {
  name: Type.String({
    minLength: 1,
    maxLength: 100,
    description: 'One token per application, named after it',
  }),
  description: Type.Optional(Type.String({ maxLength: 500 })),
  group_id: Type.Optional(Nullable(Id())),
  scopes: Type.Optional(
    Type.Array(PermissionSchema, {
      maxItems: 64,
      description: "Subset of the owner's permissions; default: the owner's read permissions",
    }),
  ),
  enabled: Type.Optional(Type.Boolean()),
  expires_at: Type.Optional(
    Nullable(Type.String({ format: 'date-time', description: 'null: never (if the settings allow)' })),
  ),
  requires_login: Type.Optional(
    Type.Boolean({ description: 'Works only while the owner has a live login session' }),
  ),
  allow_in_url: Type.Optional(
    Type.Boolean({ description: 'May be sent as `?token=` (needs allow_tokens_in_url)' }),
  ),
  allowed_ips: Type.Optional(
    Type.Array(Type.String({ maxLength: 50 }), { maxItems: 100, description: 'IP addresses or CIDR blocks' }),
  ),
  rate_limit_per_minute: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 1_000_000 }))),
  default_tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 50 })),
  default_profile: Type.Optional(Nullable(Type.String({ maxLength: 100 }))),
};

export const CreateTokenBody = StrictObject(
  {
    ...tokenWritable,
    owner_id: Type.Optional(Id({ description: 'Admins only: create for this user' })),
  },
  {
    examples: [
      {
        name: 'siem-export',
        scopes: ['audit:read', 'appliances:read'],
        expires_at: '2027-02-22T00:00:00Z',
        allowed_ips: ['192.0.2.0/24'],
        rate_limit_per_minute: 120,
      },
    ],
  },
);

export const UpdateTokenBody = StrictObject(
  {
    ...tokenWritable,
    name: Type.Optional(tokenWritable.name),
    owner_id: Type.Optional(Id()),
  },
  { examples: [{ enabled: false }] },
);

export const RefreshBody = StrictObject(
  {
    grace_period_seconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 86400,
        default: 0,
        description: 'How long the previous secret keeps working',
      }),
    ),
    expires_at: Type.Optional(Nullable(Type.String({ format: 'date-time' }))),
  },
  { examples: [{ grace_period_seconds: 3600 }] },
);

export const TokenSettingsSchema = StrictObject(
  {
    user_defined_tokens: Type.Boolean({
      description: 'Let every user manage their own tokens (off: admins only)',
    }),
    max_lifetime_days: Nullable(Type.Integer({ minimum: 1, maximum: 3650, description: 'null: no cap' })),
    default_lifetime_days: Nullable(
      Type.Integer({ minimum: 1, maximum: 3650, description: 'null: tokens do not expire by default' }),
    ),
    default_rate_limit_per_minute: Nullable(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    allow_tokens_in_url: Type.Boolean({ description: 'Allow tokens that permit it to be sent as ?token=' }),
  },
  {
    examples: [
      {
        user_defined_tokens: false,
        max_lifetime_days: 365,
        default_lifetime_days: 90,
        default_rate_limit_per_minute: 600,
        allow_tokens_in_url: false,
      },
    ],
  },
);

export const Activity = Type.Object({
  id: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  method: Type.String(),
  path: Type.String(),
  status: Type.Integer(),
  ip: Nullable(Type.String()),
  request_id: Nullable(Type.String()),
});

export const TokenUsage = Type.Object(
  {
    token_id: Type.Integer(),
    window: Type.String({ description: 'The window asked for, such as `30d`' }),
    since: Type.String({ format: 'date-time' }),
    observed_since: Type.String({
      format: 'date-time',
      description: 'Requests are known from here on (the later of `since` and the token’s creation)',
    }),
    scopes: Type.Array(
      Type.Object({
        permission: Type.String(),
        count: Type.Integer({ description: 'Requests in the window that needed this permission' }),
        last_used_at: Nullable(Type.String({ format: 'date-time' })),
      }),
    ),
    unused: Type.Array(Type.String(), { description: 'Scopes no request needed in the window' }),
  },
  {
    examples: [
      {
        token_id: 7,
        window: '30d',
        since: '2026-11-04T16:00:00.000Z',
        observed_since: '2026-11-04T16:00:00.000Z',
        scopes: [
          { permission: 'appliances:read', count: 4210, last_used_at: '2026-12-04T15:59:00.000Z' },
          { permission: 'audit:read', count: 30, last_used_at: '2026-12-04T02:00:00.000Z' },
          { permission: 'files:write', count: 0, last_used_at: null },
        ],
        unused: ['files:write'],
      },
    ],
  },
);

export const UsageQuery = StrictObject({
  window: Type.Optional(
    Type.String({
      maxLength: 10,
      default: '30d',
      description: 'How far back: hours or days, such as `24h`, `7d`, `90d` (at most `3650d`)',
    }),
  ),
});

export const NarrowBody = StrictObject(
  {
    window: Type.Optional(
      Type.String({ maxLength: 10, default: '30d', description: 'Keep the scopes used in this window' }),
    ),
    keep: Type.Optional(
      Type.Array(PermissionSchema, {
        maxItems: 64,
        description: 'Scopes to keep even if unused (must be scopes the token has)',
      }),
    ),
  },
  { examples: [{ window: '90d' }, { window: '30d', keep: ['backup:read'] }] },
);

export const NarrowResult = Type.Object(
  {
    token: Token,
    kept: Type.Array(Type.String()),
    removed: Type.Array(Type.String()),
    window: Type.String(),
  },
  {
    examples: [
      {
        token: { ...tokenExample, scopes: ['appliances:read', 'audit:read'] },
        kept: ['appliances:read', 'audit:read'],
        removed: ['files:write'],
        window: '30d',
      },
    ],
  },
);
