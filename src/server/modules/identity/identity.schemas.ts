// Request and response schemas of the identity API (users, groups, sessions); the tokens'
// are in tokens/tokens.schemas.ts.
import { Type } from 'typebox';
import { Id, Nullable, StrictObject, StringEnum } from '../../http/schemas.js';

export const RoleSchema = StringEnum(['admin', 'operator', 'viewer'], {
  description: 'admin: everything; operator: runs the fleet, reads the rest; viewer: reads',
});

export const User = Type.Object(
  {
    id: Type.Integer(),
    username: Type.String(),
    email: Type.String(),
    first_name: Type.String(),
    last_name: Type.String(),
    directory_name: Type.String(),
    directory_type: Type.Integer(),
    last_login: Nullable(Type.String({ format: 'date-time' })),
    date_joined: Type.String({ format: 'date-time' }),
    is_superuser: Type.Boolean(),
    is_active: Type.Boolean(),
    role: RoleSchema,
    api_only: Type.Boolean({ description: 'API-only users cannot log in with a password; they use tokens' }),
    group_id: Nullable(Type.Integer()),
  },
  {
    examples: [
      {
        id: 1,
        username: 'admin',
        email: 'hello@example.com',
        first_name: '',
        last_name: '',
        directory_name: '',
        directory_type: 0,
        last_login: '2026-11-24T12:10:04.744Z',
        date_joined: '2026-11-03T03:01:30.166Z',
        is_superuser: true,
        is_active: true,
        role: 'admin',
        api_only: false,
        group_id: null,
      },
    ],
  },
);

const Username = Type.String({
  minLength: 1,
  maxLength: 150,
  pattern: '^[A-Za-z0-9@.+_-]+$',
  description: 'Letters, digits and @.+-_',
});
const Name = Type.String({ maxLength: 150 });
const Email = Type.Union([Type.String({ format: 'email', maxLength: 254 }), Type.Literal('')]);

export const CreateUserBody = StrictObject(
  {
    username: Username,
    email: Type.Optional(Email),
    first_name: Type.Optional(Name),
    last_name: Type.Optional(Name),
    password: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description: 'At least 12 characters; common passwords are refused',
      }),
    ),
    role: Type.Optional(RoleSchema),
    api_only: Type.Optional(Type.Boolean()),
    is_active: Type.Optional(Type.Boolean()),
    group_id: Type.Optional(Nullable(Id())),
  },
  {
    examples: [
      {
        username: 'alice',
        email: 'alice@example.com',
        first_name: 'Alice',
        last_name: 'Smith',
        password: 'Correct Horse Battery Staple',
        role: 'operator',
      },
    ],
  },
);

export const UpdateUserBody = StrictObject(
  {
    username: Type.Optional(Username),
    email: Type.Optional(Email),
    first_name: Type.Optional(Name),
    last_name: Type.Optional(Name),
    role: Type.Optional(RoleSchema),
    api_only: Type.Optional(Type.Boolean()),
    is_active: Type.Optional(
      Type.Boolean({ description: 'false disables the user: sessions end, tokens are suspended' }),
    ),
    group_id: Type.Optional(Nullable(Id())),
  },
  { examples: [{ role: 'viewer', is_active: false }] },
);

export const PasswordBody = StrictObject(
  {
    password: Type.String({ minLength: 1, maxLength: 1024, description: 'The new password' }),
    current_password: Type.Optional(
      Type.String({
        maxLength: 1024,
        description: 'Needed for your own password unless you logged in within 15 minutes',
      }),
    ),
  },
  { examples: [{ password: 'Correct Horse Battery Staple' }] },
);

export const LoginBody = StrictObject(
  {
    username: Type.String({ minLength: 1, maxLength: 150 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { examples: [{ username: 'admin', password: 'Correct Horse Battery Staple' }] },
);

export const LoginResponse = Type.Object(
  {
    token: Type.String({
      description: 'Session token: send as `Authorization: Token <token>` or `x-auth-token`',
    }),
    session_id: Type.String({
      description:
        'The same session token as `token`, under the name InsightCloudSec scripts read ' +
        "(`response.json().get('session_id')`, then sent as `x-auth-token`). Not the numeric id of " +
        '`GET /api/v1/auth/sessions/`.',
    }),
    expires_at: Type.String({ format: 'date-time', description: 'End of the absolute lifetime' }),
    idle_timeout_seconds: Type.Integer(),
    user_id: Type.Integer(),
  },
  {
    examples: [
      {
        token: 'stws0123456789abcdefABCDEFghijklmnop1a2B3c',
        session_id: 'stws0123456789abcdefABCDEFghijklmnop1a2B3c',
        expires_at: '2026-11-24T22:00:00.000Z',
        idle_timeout_seconds: 1800,
        user_id: 1,
      },
    ],
  },
);

export const Session = Type.Object({
  id: Type.Integer(),
  user_id: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
  last_seen_at: Type.String({ format: 'date-time' }),
  expires_at: Type.String({ format: 'date-time' }),
  ip: Nullable(Type.String()),
  user_agent: Nullable(Type.String()),
  current: Type.Boolean({ description: 'This is the session making the request' }),
});

export const Group = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  description: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
});

export const CreateGroupBody = StrictObject(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    description: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { examples: [{ name: 'soc', description: 'Security operations' }] },
);

export const WhoAmI = Type.Object({
  user: User,
  auth_method: Type.String({ description: '`session`, `api_token` or `api_key`' }),
  credential_source: Type.String({ description: 'Where the credential was found (header, cookie, query)' }),
  token_id: Nullable(Type.Integer()),
  session_id: Nullable(Type.Integer()),
  permissions: Type.Array(Type.String()),
});
