-- Which CA issued each certificate (SHA-256 of the CA certificate's DER), so that after a CA
-- rotation the certificates still depending on the previous CA can be counted before it is
-- retired. Rows recorded before this column existed were issued by the first CA: NULL.

ALTER TABLE issued_certificates ADD COLUMN issuer BLOB;
