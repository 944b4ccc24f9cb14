-- System auths: the credentials an application, runtime or integration system authenticates
-- with. The id is the OAuth2 client id (and, with the Connector, the certificate's CN). Client
-- secrets are stored only as SHA-256 hashes. Integration systems are global: their auths have
-- no tenant. Deleting the owner deletes its auths, which invalidates their tokens at once.

CREATE TABLE system_auths (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB,
    app_id BLOB,
    runtime_id BLOB,
    integration_system_id BLOB REFERENCES integration_systems (id) ON DELETE CASCADE,
    secret_hash BLOB,
    created_at INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, runtime_id) REFERENCES runtimes (tenant_id, id) ON DELETE CASCADE,
    CHECK ((app_id IS NOT NULL) + (runtime_id IS NOT NULL)
           + (integration_system_id IS NOT NULL) = 1),
    CHECK ((integration_system_id IS NULL) = (tenant_id IS NOT NULL))
);
CREATE INDEX system_auths_app ON system_auths (tenant_id, app_id);
CREATE INDEX system_auths_runtime ON system_auths (tenant_id, runtime_id);
CREATE INDEX system_auths_integration_system ON system_auths (integration_system_id);
