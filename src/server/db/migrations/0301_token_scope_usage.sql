-- Per token, per permission, per hour: how many requests used the permission and when last
-- (GET /api/v1/tokens/{id}/usage/, POST /api/v1/tokens/{id}/narrow/). Counted in memory on the
-- request path and written in batches with the token's activity; complete even when the
-- activity list is capped for a busy token.
CREATE TABLE token_scope_usage (
  token_id    integer NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
  permission  text NOT NULL,
  hour        timestamptz NOT NULL,
  count       bigint NOT NULL DEFAULT 0,
  last_at     timestamptz NOT NULL,
  PRIMARY KEY (token_id, permission, hour)
);
