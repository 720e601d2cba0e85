-- Access keys for signed requests: the secret, sealed with the instance master key (NULL for
-- bearer API keys, which are stored only as a SHA-256 digest).
ALTER TABLE api_keys ADD COLUMN sealed_secret TEXT;
