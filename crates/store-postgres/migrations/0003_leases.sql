-- Named leases: which replica runs a background job (the sweeps) until when.
CREATE TABLE leases (
    name   TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    holder TEXT   NOT NULL,
    until  BIGINT NOT NULL
);
