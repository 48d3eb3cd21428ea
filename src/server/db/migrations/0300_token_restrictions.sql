-- What an admin set on someone else's token (issue 13: admin restrictions stick). One entry per
-- field (enabled, scopes, expires_at, allowed_ips, rate_limit_per_minute):
--   {"<field>": {"set_by": <user id>, "set_at": "<ISO time>", "value": <the admin's value>}}
-- A non-admin may change such a field only within the admin's value.
ALTER TABLE api_tokens ADD COLUMN restrictions jsonb NOT NULL DEFAULT '{}'::jsonb;
