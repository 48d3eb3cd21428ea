-- The retention job deletes a token's request log and scope counts by age, with the audit
-- log's retention period: index the columns it filters on.
CREATE INDEX token_activity_at_idx ON token_activity (at);
CREATE INDEX token_scope_usage_last_at_idx ON token_scope_usage (last_at);
