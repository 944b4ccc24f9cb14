-- Every client certificate the CA issued: serial (as in the certificate and in CRLs), the
-- client id (system auth) and tenant it was issued to, its validity, and when it was revoked.
-- Rows outlive their system auth, so a deleted client's certificates stay listed as revoked.

CREATE TABLE issued_certificates (
    serial BLOB PRIMARY KEY NOT NULL,
    client_id BLOB NOT NULL,
    tenant_id BLOB NOT NULL,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    issued_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX issued_certificates_client ON issued_certificates (client_id);
