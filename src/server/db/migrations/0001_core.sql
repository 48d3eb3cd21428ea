-- Core tables: key/value settings and the audit log.

CREATE TABLE settings (
  key         text PRIMARY KEY,
  value       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  integer
);

-- One row per authentication event and per mutating request. Append-only; ids are the keyset
-- for cursor pagination. Secrets never reach this table: token_id is the token's numeric id.
CREATE TABLE audit_log (
  id             bigserial PRIMARY KEY,
  at             timestamptz NOT NULL DEFAULT now(),
  action         text NOT NULL,
  outcome        text NOT NULL DEFAULT 'success',
  user_id        integer,
  username       text,
  token_id       integer,
  auth_method    text,
  ip             text,
  user_agent     text,
  method         text,
  path           text,
  status         integer,
  target_type    text,
  target_id      text,
  summary        text NOT NULL DEFAULT '',
  details        jsonb NOT NULL DEFAULT '{}'::jsonb,
  request_id     text
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_user_idx ON audit_log (user_id, id);
CREATE INDEX audit_log_token_idx ON audit_log (token_id, id);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);
