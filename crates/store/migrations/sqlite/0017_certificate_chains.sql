-- Renewal chains: a certificate issued to a certificate (renewal through the
-- certificate-secured Connector, or with a CSR token that certificate obtained) records the
-- serial it was renewed from, so revoking a certificate revokes every certificate renewed
-- from it, however many renewals deep. Older rows have no parent: NULL.

ALTER TABLE issued_certificates ADD COLUMN parent_serial BLOB;
CREATE INDEX issued_certificates_parent ON issued_certificates (parent_serial);
ALTER TABLE one_time_tokens ADD COLUMN parent_serial BLOB;
