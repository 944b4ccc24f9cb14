-- System auths: the credentials an application, runtime or integration system authenticates
-- with. The id is the OAuth2 client id (and, with the Connector, the certificate's CN). Client
-- secrets are stored only as SHA-256 hashes. Integration systems are global: their auths have
-- no tenant. Deleting the owner deletes its auths, which invalidates their tokens at once.

CREATE TABLE system_auths (
    id UUID PRIMARY KEY,
    tenant_id UUID,
    app_id UUID,
    runtime_id UUID,
    integration_system_id UUID REFERENCES integration_systems (id) ON DELETE CASCADE,
    secret_hash BYTEA,
    created_at BIGINT NOT NULL,
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, runtime_id) REFERENCES runtimes (tenant_id, id) ON DELETE CASCADE,
    CHECK ((app_id IS NOT NULL)::int + (runtime_id IS NOT NULL)::int
           + (integration_system_id IS NOT NULL)::int = 1),
    CHECK ((integration_system_id IS NULL) = (tenant_id IS NOT NULL)),
    CHECK (id <> '00000000-0000-0000-0000-000000000000')
);
CREATE INDEX system_auths_app ON system_auths (tenant_id, app_id);
CREATE INDEX system_auths_runtime ON system_auths (tenant_id, runtime_id);
CREATE INDEX system_auths_integration_system ON system_auths (integration_system_id);
