-- Health polling reads only what changed: every change to a column the poll depends on (and that
-- the health job does not write itself) gives the row a new poll_version, so a round asks for
-- max(poll_version) and fetches the changed rows instead of every appliance.

CREATE SEQUENCE appliances_poll_version_seq;
ALTER TABLE appliances ADD COLUMN poll_version bigint NOT NULL DEFAULT nextval('appliances_poll_version_seq');

CREATE FUNCTION appliances_bump_poll_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.poll_version := nextval('appliances_poll_version_seq');
  RETURN NEW;
END
$$;

CREATE TRIGGER appliances_poll_version BEFORE UPDATE ON appliances FOR EACH ROW
  WHEN (
    OLD.name IS DISTINCT FROM NEW.name OR OLD.type IS DISTINCT FROM NEW.type OR
    OLD.url IS DISTINCT FROM NEW.url OR OLD.uuid IS DISTINCT FROM NEW.uuid OR
    OLD.authorized IS DISTINCT FROM NEW.authorized OR OLD.maintenance IS DISTINCT FROM NEW.maintenance OR
    OLD.agent_token_sealed IS DISTINCT FROM NEW.agent_token_sealed OR
    OLD.tls_cert_pem IS DISTINCT FROM NEW.tls_cert_pem OR
    OLD.configuration_status IS DISTINCT FROM NEW.configuration_status OR
    OLD.applied_hash IS DISTINCT FROM NEW.applied_hash OR
    OLD.applied_revision IS DISTINCT FROM NEW.applied_revision OR
    OLD.release IS DISTINCT FROM NEW.release
  )
  EXECUTE FUNCTION appliances_bump_poll_version();
