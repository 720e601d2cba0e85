-- Sessions remember where they were opened: the client's address and user agent, shown to the
-- user and to administrators in the session inventory (never the token). Sessions opened before
-- this migration have neither.
ALTER TABLE sessions ADD COLUMN client_ip TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;

-- An administrator expired the user's password at this time: the next login is limited to a
-- password change. Setting a new password clears it.
ALTER TABLE users ADD COLUMN password_expired_at INTEGER;
