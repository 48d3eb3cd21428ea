-- Users, groups, login sessions, API tokens, login attempts.

CREATE TABLE user_groups (
  id           serial PRIMARY KEY,
  name         text NOT NULL,
  description  text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX user_groups_name_idx ON user_groups (lower(name));

CREATE TABLE users (
  id                   serial PRIMARY KEY,
  username             text NOT NULL,
  email                text NOT NULL DEFAULT '',
  first_name           text NOT NULL DEFAULT '',
  last_name            text NOT NULL DEFAULT '',
  directory_name       text NOT NULL DEFAULT '',
  directory_type       integer NOT NULL DEFAULT 0,
  password_hash        text,
  password_changed_at  timestamptz,
  role                 text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
  api_only             boolean NOT NULL DEFAULT false,
  is_active            boolean NOT NULL DEFAULT true,
  group_id             integer REFERENCES user_groups (id) ON DELETE SET NULL,
  last_login           timestamptz,
  date_joined          timestamptz NOT NULL DEFAULT now(),
  deleted_at           timestamptz
);
CREATE UNIQUE INDEX users_username_idx ON users (lower(username)) WHERE deleted_at IS NULL;

CREATE TABLE sessions (
  id             serial PRIMARY KEY,
  user_id        integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  digest         text NOT NULL UNIQUE,
  prefix         text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_seen_at   timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,
  ip             text,
  user_agent     text,
  ended_at       timestamptz,
  end_reason     text
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE ended_at IS NULL;

CREATE TABLE api_tokens (
  id                     serial PRIMARY KEY,
  kind                   text NOT NULL CHECK (kind IN ('api_token', 'api_key')),
  name                   text NOT NULL,
  description            text NOT NULL DEFAULT '',
  owner_id               integer NOT NULL REFERENCES users (id),
  group_id               integer REFERENCES user_groups (id) ON DELETE SET NULL,
  created_by             integer REFERENCES users (id),
  scopes                 jsonb NOT NULL,
  enabled                boolean NOT NULL DEFAULT true,
  expires_at             timestamptz,
  revoked_at             timestamptz,
  revoked_reason         text,
  requires_login         boolean NOT NULL DEFAULT false,
  allow_in_url           boolean NOT NULL DEFAULT false,
  allowed_ips            jsonb NOT NULL DEFAULT '[]'::jsonb,
  rate_limit_per_minute  integer,
  default_tags           jsonb NOT NULL DEFAULT '[]'::jsonb,
  default_profile        text,
  prefix                 text NOT NULL,
  last4                  text NOT NULL,
  digest                 text NOT NULL UNIQUE,
  -- During a rotation's grace period the previous secret still works until previous_expires_at.
  previous_digest        text UNIQUE,
  previous_expires_at    timestamptz,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  refreshed_at           timestamptz,
  last_used_at           timestamptz,
  last_used_ip           text,
  use_count              bigint NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_owner_idx ON api_tokens (owner_id);
CREATE UNIQUE INDEX api_tokens_name_idx ON api_tokens (owner_id, lower(name)) WHERE revoked_at IS NULL;

CREATE TABLE login_attempts (
  id          bigserial PRIMARY KEY,
  username    text NOT NULL,
  ip          text,
  at          timestamptz NOT NULL DEFAULT now(),
  success     boolean NOT NULL
);
CREATE INDEX login_attempts_user_idx ON login_attempts (username, at);

-- A token's recent requests, reads included (GET /api/v1/tokens/{id}/activity/). Written in
-- batches by the authenticator; trimmed by retention.
CREATE TABLE token_activity (
  id          bigserial PRIMARY KEY,
  token_id    integer NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
  at          timestamptz NOT NULL,
  method      text NOT NULL,
  path        text NOT NULL,
  status      integer NOT NULL,
  ip          text,
  request_id  text
);
CREATE INDEX token_activity_token_idx ON token_activity (token_id, id);
