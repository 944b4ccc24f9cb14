-- Every client certificate the CA issued: serial (as in the certificate and in CRLs), the
-- client id (system auth) and tenant it was issued to, its validity, and when it was revoked.
-- Rows outlive their system auth, so a deleted client's certificates stay listed as revoked.

CREATE TABLE issued_certificates (
    serial BYTEA PRIMARY KEY,
    client_id UUID NOT NULL,
    tenant_id UUID NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    issued_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX issued_certificates_client ON issued_certificates (client_id);
