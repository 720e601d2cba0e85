-- Lockout counter keys escape the login part: `%` becomes `%25` and `|` becomes `%7C`, so no
-- login name can produce another login's key or fall inside its key range. Keys whose login
-- part holds neither character are unchanged; the others are rewritten here. The login part is
-- everything between the first and the last `|` (the address part holds no `|`);
-- rtrim(key, <every other character of key>) cuts the key after its last `|`.
UPDATE counters
SET key = substr(key, 1, instr(key, '|'))
    || replace(replace(
         substr(key, instr(key, '|') + 1,
                length(rtrim(key, replace(key, '|', ''))) - instr(key, '|') - 1),
         '%', '%25'), '|', '%7C')
    || substr(key, length(rtrim(key, replace(key, '|', ''))))
WHERE (substr(key, 1, 9) = 'password|' OR substr(key, 1, 4) = 'otp|')
  AND (instr(substr(key, instr(key, '|') + 1,
                    length(rtrim(key, replace(key, '|', ''))) - instr(key, '|') - 1), '%') > 0
    OR instr(substr(key, instr(key, '|') + 1,
                    length(rtrim(key, replace(key, '|', ''))) - instr(key, '|') - 1), '|') > 0);
