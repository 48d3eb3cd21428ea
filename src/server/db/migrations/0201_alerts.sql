-- Token expiry warnings already sent: one row per token and expiry time, so the daily job warns
-- once per token (a token whose expiry is moved later is warned again before the new date).
CREATE TABLE token_expiry_alerts (
  token_id    integer NOT NULL,
  expires_at  timestamptz NOT NULL,
  sent_at     timestamptz NOT NULL DEFAULT now(),
  recipients  text NOT NULL DEFAULT '',
  PRIMARY KEY (token_id, expires_at)
);
