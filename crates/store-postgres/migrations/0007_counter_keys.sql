-- Lockout counter keys escape the login part: `%` becomes `%25` and `|` becomes `%7C`, so no
-- login name can produce another login's key or fall inside its key range. Keys whose login
-- part holds neither character are unchanged; the others are rewritten here. The login part is
-- everything between the first and the last `|` (the address part holds no `|`).
UPDATE counters
SET key = split_part(key, '|', 1) || '|'
    || replace(replace(substring(key FROM '^[^|]*\|(.*)\|[^|]*$'), '%', '%25'), '|', '%7C')
    || '|' || substring(key FROM '\|([^|]*)$')
WHERE (key LIKE 'password|%' OR key LIKE 'otp|%')
  AND substring(key FROM '^[^|]*\|(.*)\|[^|]*$') ~ '[%|]';
