-- The address a user proved with its verification mail, in its compared form (trimmed and
-- lower-cased): at most one user of an organization holds a verified address. It is cleared
-- when the user's address changes.
ALTER TABLE users ADD COLUMN verified_email TEXT;

CREATE UNIQUE INDEX users_verified_email ON users (org_id, verified_email)
    WHERE verified_email IS NOT NULL;
