-- Files uploaded to the manager (CloudShark-style captures and samples), with their tags.
-- The bytes live under <dataDir>/files/<stored_name>; this table is the index over them.
CREATE TABLE files (
  id           serial PRIMARY KEY,
  name         text NOT NULL,
  stored_name  text NOT NULL UNIQUE,
  size         bigint NOT NULL,
  sha256       text NOT NULL,
  file_type    text NOT NULL,
  mime_type    text NOT NULL,
  tags         jsonb NOT NULL DEFAULT '[]'::jsonb,
  profile      text,
  owner_id     integer,
  group_id     integer,
  visibility   text NOT NULL DEFAULT 'private',
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX files_owner_idx ON files (owner_id, id);
CREATE INDEX files_created_idx ON files (created_at);
CREATE INDEX files_tags_idx ON files USING gin (tags);
