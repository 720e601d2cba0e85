-- Access keys for signed requests: the secret, sealed with the instance master key (NULL for
-- bearer API keys, which are stored only as a SHA-256 digest).
ALTER TABLE api_keys ADD COLUMN sealed_secret TEXT;
-- A key issued by the client-credentials exchange names the key it was issued for; it works
-- only while that key does.
ALTER TABLE api_keys ADD COLUMN parent_id TEXT;
