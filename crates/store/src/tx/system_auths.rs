//! System auths in a transaction: [`SystemAuthTx`] is a supertrait of [`crate::Tx`],
//! implemented once for both backends by `system_auth_tx!`.

use sextant_domain::{
    ApplicationId, IntegrationSystemId, OneTimeToken, RuntimeId, SystemAuth, SystemAuthId,
    SystemAuthOwner, TenantId,
};
use uuid::Uuid;

use crate::error::StoreError;

/// Which kind of owner a listing is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OwnerKind {
    Application,
    Runtime,
    IntegrationSystem,
}

impl OwnerKind {
    /// The kind of an owner.
    pub fn of(owner: SystemAuthOwner) -> OwnerKind {
        match owner {
            SystemAuthOwner::Application(_) => OwnerKind::Application,
            SystemAuthOwner::Runtime(_) => OwnerKind::Runtime,
            SystemAuthOwner::IntegrationSystem(_) => OwnerKind::IntegrationSystem,
        }
    }

    pub(crate) fn column(self) -> &'static str {
        match self {
            OwnerKind::Application => "app_id",
            OwnerKind::Runtime => "runtime_id",
            OwnerKind::IntegrationSystem => "integration_system_id",
        }
    }
}

/// Whose certificates [`SystemAuthTx::revoke_certificates_of`] revokes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificatesOf {
    Client(SystemAuthId),
    Owner(SystemAuthOwner),
}

/// What the store knows of an issued certificate: whom it was issued to, and whether it (or
/// a certificate it was renewed from) is revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IssuedCertificate {
    pub client: SystemAuthId,
    pub revoked: bool,
}

/// A certificate issued to one of an application's clients, as listed for the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationCertificate {
    pub application: ApplicationId,
    pub client: SystemAuthId,
    pub serial: Vec<u8>,
    pub not_before: time::OffsetDateTime,
    pub not_after: time::OffsetDateTime,
    pub issued_at: time::OffsetDateTime,
    pub revoked_at: Option<time::OffsetDateTime>,
}

/// What the store knows of a client's pairing token, for `oneTimeTokenStatus`: whose it is,
/// when it was made, when it expires (while its row is kept: until it is used, or purged
/// after expiring) and when it was used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairingTokenState {
    pub client: SystemAuthId,
    pub owner: SystemAuthOwner,
    pub created_at: time::OffsetDateTime,
    pub expires_at: Option<time::OffsetDateTime>,
    pub used_at: Option<time::OffsetDateTime>,
}

/// The system-auth operations of a transaction.
#[async_trait::async_trait]
pub trait SystemAuthTx: Send {
    /// Inserts; [`StoreError::ForeignKey`] if the owner does not exist (in the tenant). An
    /// application's is announced at commit (`Announcement::SystemAuths`).
    async fn insert_system_auth(&mut self, auth: &SystemAuth) -> Result<(), StoreError>;
    /// Looks an auth up by id alone: a credential names its tenant through its owner.
    async fn system_auth(&mut self, id: SystemAuthId) -> Result<Option<SystemAuth>, StoreError>;
    /// Removes an auth and returns it, if it was there (announcing
    /// `Announcement::Credentials` at commit, and `SystemAuths` for an application's).
    async fn delete_system_auth(
        &mut self,
        id: SystemAuthId,
    ) -> Result<Option<SystemAuth>, StoreError>;
    /// Removes every auth of an owner in the tenant (their one-time tokens go with them);
    /// returns how many. Announces `Announcement::Credentials` at commit if any (and
    /// `SystemAuths` for an application's).
    async fn delete_system_auths_of(
        &mut self,
        tenant: TenantId,
        owner: SystemAuthOwner,
    ) -> Result<u64, StoreError>;
    /// Stores a one-time token (its hash); [`StoreError::ForeignKey`] if its system auth is gone.
    async fn insert_one_time_token(&mut self, token: &OneTimeToken) -> Result<(), StoreError>;
    /// Redeems a token of one of `kinds`: removes it and returns it if it existed and had not
    /// expired at `now`. A token of another kind is left alone. One statement, so of any
    /// number of concurrent redemptions exactly one gets the token.
    async fn redeem_one_time_token(
        &mut self,
        hash: &[u8],
        kinds: &[sextant_domain::OneTimeTokenKind],
        now: time::OffsetDateTime,
    ) -> Result<Option<OneTimeToken>, StoreError>;
    /// Records that the pairing token of `client` was used at `at` (in the transaction that
    /// redeemed it); the first use is kept.
    async fn record_token_used(
        &mut self,
        client: SystemAuthId,
        at: time::OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The pairing token of a client of the tenant (a secretless system auth of an
    /// application or runtime), whether or not it was used; `None` for any other id.
    async fn pairing_token_state(
        &mut self,
        tenant: TenantId,
        client: SystemAuthId,
    ) -> Result<Option<PairingTokenState>, StoreError>;
    /// Whether a token of any kind with this hash exists and has not expired at `now`. Only
    /// reads: it lets a caller be turned away before its request is parsed; the operation
    /// still redeems the token with [`SystemAuthTx::redeem_one_time_token`].
    async fn one_time_token_live(
        &mut self,
        hash: &[u8],
        now: time::OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// An issued certificate, by serial.
    async fn issued_certificate(
        &mut self,
        serial: &[u8],
    ) -> Result<Option<IssuedCertificate>, StoreError>;
    /// Marks a certificate revoked (if it was not already) and with it every certificate
    /// renewed from it, at any depth; true if it was recorded (and then announced at commit:
    /// `Announcement::Credentials`, which other replicas hear on PostgreSQL).
    async fn revoke_certificate(
        &mut self,
        serial: &[u8],
        now: time::OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Marks revoked every certificate issued to the clients (system auths) of an owner, or to
    /// one client; returns how many were newly revoked (announced like
    /// [`SystemAuthTx::revoke_certificate`]). Run before deleting them.
    async fn revoke_certificates_of(
        &mut self,
        tenant: TenantId,
        of: CertificatesOf,
        now: time::OffsetDateTime,
    ) -> Result<u64, StoreError>;
    /// Serials and revocation times of the revoked certificates that have not expired at `now`
    /// (what a CRL lists), oldest revocation first.
    async fn revoked_certificates(
        &mut self,
        now: time::OffsetDateTime,
    ) -> Result<Vec<(Vec<u8>, time::OffsetDateTime)>, StoreError>;
    /// The newest `limit` certificates issued to the clients of each of the applications (of
    /// the tenant; clients that still exist), newest first per application, in one
    /// statement.
    async fn application_certificates(
        &mut self,
        tenant: TenantId,
        applications: &[ApplicationId],
        limit: i64,
    ) -> Result<Vec<ApplicationCertificate>, StoreError>;
    /// The certificate with this serial if the CA issued it to a client of one of the
    /// tenant's applications (a client that still exists); `None` otherwise.
    async fn application_certificate(
        &mut self,
        tenant: TenantId,
        serial: &[u8],
    ) -> Result<Option<ApplicationCertificate>, StoreError>;
    /// Records a certificate the CA issued.
    async fn insert_issued_certificate(
        &mut self,
        certificate: &sextant_domain::IssuedCertificateRecord,
    ) -> Result<(), StoreError>;
    /// How many clients hold a certificate, neither revoked nor expired at `now`, of another
    /// CA than the one whose fingerprint is `issuer` (or from before issuers were recorded),
    /// and none of that CA: the clients that still depend on a previous CA.
    async fn clients_depending_on_other_cas(
        &mut self,
        issuer: &[u8],
        now: time::OffsetDateTime,
    ) -> Result<u64, StoreError>;
    /// Removes tokens that expired before `now`; returns how many.
    async fn purge_expired_tokens(&mut self, now: time::OffsetDateTime) -> Result<u64, StoreError>;
    /// The auths of several owners of one kind (tenant `None` for integration systems),
    /// ordered by owner and creation.
    async fn system_auths_of(
        &mut self,
        tenant: Option<TenantId>,
        kind: OwnerKind,
        owners: &[Uuid],
    ) -> Result<Vec<SystemAuth>, StoreError>;
}

pub(crate) fn owner_from_columns(
    app: Option<Uuid>,
    runtime: Option<Uuid>,
    system: Option<Uuid>,
) -> Result<SystemAuthOwner, StoreError> {
    match (app, runtime, system) {
        (Some(id), None, None) => Ok(SystemAuthOwner::Application(ApplicationId::from_untyped(
            id,
        ))),
        (None, Some(id), None) => Ok(SystemAuthOwner::Runtime(RuntimeId::from_untyped(id))),
        (None, None, Some(id)) => Ok(SystemAuthOwner::IntegrationSystem(
            IntegrationSystemId::from_untyped(id),
        )),
        _ => Err(StoreError::Corrupt(
            "system auth without exactly one owner".into(),
        )),
    }
}

pub(crate) const SYSTEM_AUTH_COLUMNS: &str =
    "id, tenant_id, app_id, runtime_id, integration_system_id, secret_hash, created_at";

macro_rules! system_auth_tx {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            fn application_certificate_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<$crate::tx::system_auths::ApplicationCertificate, StoreError> {
                let revoked_at: Option<i64> = row.try_get(6)?;
                Ok($crate::tx::system_auths::ApplicationCertificate {
                    application: sextant_domain::ApplicationId::from_untyped(row.try_get(0)?),
                    client: sextant_domain::SystemAuthId::from_untyped(row.try_get(1)?),
                    serial: row.try_get(2)?,
                    not_before: from_micros(row.try_get(3)?)?,
                    not_after: from_micros(row.try_get(4)?)?,
                    issued_at: from_micros(row.try_get(5)?)?,
                    revoked_at: revoked_at.map(from_micros).transpose()?,
                })
            }

            fn system_auth_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<sextant_domain::SystemAuth, StoreError> {
                let tenant: Option<Uuid> = row.try_get(1)?;
                Ok(sextant_domain::SystemAuth {
                    id: sextant_domain::SystemAuthId::from_untyped(row.try_get(0)?),
                    tenant: tenant.map(TenantId),
                    owner: $crate::tx::system_auths::owner_from_columns(
                        row.try_get(2)?,
                        row.try_get(3)?,
                        row.try_get(4)?,
                    )?,
                    secret_hash: row.try_get(5)?,
                    created_at: from_micros(row.try_get(6)?)?,
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::tx::system_auths::SystemAuthTx for $Tx {
            async fn insert_system_auth(
                &mut self,
                auth: &sextant_domain::SystemAuth,
            ) -> Result<(), StoreError> {
                use sextant_domain::SystemAuthOwner as O;
                let (app, runtime, system) = match auth.owner {
                    O::Application(id) => (Some(id.into_untyped()), None, None),
                    O::Runtime(id) => (None, Some(id.into_untyped()), None),
                    O::IntegrationSystem(id) => (None, None, Some(id.into_untyped())),
                };
                self.counter().inc();
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO system_auths ({}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    $crate::tx::system_auths::SYSTEM_AUTH_COLUMNS
                )))
                .bind(auth.id.into_untyped())
                .bind(auth.tenant.map(|t| t.0))
                .bind(app)
                .bind(runtime)
                .bind(system)
                .bind(auth.secret_hash.as_deref())
                .bind(to_micros(auth.created_at))
                .execute(self.conn())
                .await?;
                // An application's clients are listed (`Application.auths`).
                if app.is_some() {
                    self.announced.note($crate::epochs::Announcement::SystemAuths);
                }
                Ok(())
            }

            async fn system_auth(
                &mut self,
                id: sextant_domain::SystemAuthId,
            ) -> Result<Option<sextant_domain::SystemAuth>, StoreError> {
                self.counter().inc();
                let row = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {} FROM system_auths WHERE id = $1",
                    $crate::tx::system_auths::SYSTEM_AUTH_COLUMNS
                )))
                .bind(id.into_untyped())
                .fetch_optional(self.conn())
                .await?;
                row.as_ref().map(Self::system_auth_from_row).transpose()
            }

            async fn delete_system_auth(
                &mut self,
                id: sextant_domain::SystemAuthId,
            ) -> Result<Option<sextant_domain::SystemAuth>, StoreError> {
                self.counter().inc();
                let row = sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM system_auths WHERE id = $1 RETURNING {}",
                    $crate::tx::system_auths::SYSTEM_AUTH_COLUMNS
                )))
                .bind(id.into_untyped())
                .fetch_optional(self.conn())
                .await?;
                let deleted = row.as_ref().map(Self::system_auth_from_row).transpose()?;
                if let Some(deleted) = &deleted {
                    self.announced.note($crate::epochs::Announcement::Credentials);
                    if matches!(deleted.owner, sextant_domain::SystemAuthOwner::Application(_)) {
                        self.announced.note($crate::epochs::Announcement::SystemAuths);
                    }
                }
                Ok(deleted)
            }

            async fn delete_system_auths_of(
                &mut self,
                tenant: TenantId,
                owner: sextant_domain::SystemAuthOwner,
            ) -> Result<u64, StoreError> {
                self.counter().inc();
                let done = sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM system_auths WHERE tenant_id = $1 AND {} = $2",
                    $crate::tx::system_auths::OwnerKind::of(owner).column()
                )))
                .bind(tenant.0)
                .bind(owner.id())
                .execute(self.conn())
                .await?;
                if done.rows_affected() > 0 {
                    self.announced.note($crate::epochs::Announcement::Credentials);
                    if matches!(owner, sextant_domain::SystemAuthOwner::Application(_)) {
                        self.announced.note($crate::epochs::Announcement::SystemAuths);
                    }
                }
                Ok(done.rows_affected())
            }

            async fn insert_one_time_token(
                &mut self,
                token: &sextant_domain::OneTimeToken,
            ) -> Result<(), StoreError> {
                self.counter().inc();
                sqlx::query(
                    "INSERT INTO one_time_tokens (token_hash, kind, client_id, tenant_id, \
                     created_at, expires_at, parent_serial) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(token.hash.as_slice())
                .bind(token.kind.as_str())
                .bind(token.client_id.into_untyped())
                .bind(token.tenant.0)
                .bind(to_micros(token.created_at))
                .bind(to_micros(token.expires_at))
                .bind(token.parent_serial.as_deref())
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn redeem_one_time_token(
                &mut self,
                hash: &[u8],
                kinds: &[sextant_domain::OneTimeTokenKind],
                now: time::OffsetDateTime,
            ) -> Result<Option<sextant_domain::OneTimeToken>, StoreError> {
                if kinds.is_empty() {
                    return Ok(None);
                }
                let mut qb = sqlx::QueryBuilder::<$Db>::new(
                    "DELETE FROM one_time_tokens WHERE token_hash = ",
                );
                qb.push_bind(hash.to_vec());
                qb.push(" AND kind IN (");
                let mut separated = qb.separated(", ");
                for kind in kinds {
                    separated.push_bind(kind.as_str());
                }
                qb.push(
                    ") RETURNING token_hash, kind, client_id, tenant_id, created_at, expires_at, \
                     parent_serial",
                );
                self.counter().inc();
                let row = qb.build().fetch_optional(self.conn()).await?;
                let Some(row) = row else { return Ok(None) };
                let kind: String = row.try_get(1)?;
                let token = sextant_domain::OneTimeToken {
                    hash: row.try_get(0)?,
                    kind: sextant_domain::OneTimeTokenKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("token kind {kind:?}")))?,
                    client_id: sextant_domain::SystemAuthId::from_untyped(row.try_get(2)?),
                    tenant: TenantId(row.try_get(3)?),
                    created_at: from_micros(row.try_get(4)?)?,
                    expires_at: from_micros(row.try_get(5)?)?,
                    parent_serial: row.try_get(6)?,
                };
                // An expired token is removed all the same, and redeems nothing.
                Ok((token.expires_at > now).then_some(token))
            }

            async fn record_token_used(
                &mut self,
                client: sextant_domain::SystemAuthId,
                at: time::OffsetDateTime,
            ) -> Result<(), StoreError> {
                self.counter().inc();
                sqlx::query(
                    "UPDATE system_auths SET token_used_at = $2 \
                     WHERE id = $1 AND token_used_at IS NULL",
                )
                .bind(client.into_untyped())
                .bind(to_micros(at))
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn pairing_token_state(
                &mut self,
                tenant: TenantId,
                client: sextant_domain::SystemAuthId,
            ) -> Result<Option<$crate::tx::system_auths::PairingTokenState>, StoreError> {
                self.counter().inc();
                // Integration systems' clients have no tenant and OAuth2 clients a secret:
                // neither is paired with a token.
                let row = sqlx::query(
                    "SELECT s.app_id, s.runtime_id, s.created_at, s.token_used_at, \
                       (SELECT MAX(t.expires_at) FROM one_time_tokens t \
                        WHERE t.client_id = s.id AND t.kind IN ('application', 'runtime')) \
                     FROM system_auths s \
                     WHERE s.id = $1 AND s.tenant_id = $2 AND s.secret_hash IS NULL",
                )
                .bind(client.into_untyped())
                .bind(tenant.0)
                .fetch_optional(self.conn())
                .await?;
                let Some(row) = row else { return Ok(None) };
                let used_at: Option<i64> = row.try_get(3)?;
                let expires_at: Option<i64> = row.try_get(4)?;
                Ok(Some($crate::tx::system_auths::PairingTokenState {
                    client,
                    owner: $crate::tx::system_auths::owner_from_columns(
                        row.try_get(0)?,
                        row.try_get(1)?,
                        None,
                    )?,
                    created_at: from_micros(row.try_get(2)?)?,
                    expires_at: expires_at.map(from_micros).transpose()?,
                    used_at: used_at.map(from_micros).transpose()?,
                }))
            }

            async fn one_time_token_live(
                &mut self,
                hash: &[u8],
                now: time::OffsetDateTime,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let row = sqlx::query(
                    "SELECT 1 FROM one_time_tokens WHERE token_hash = $1 AND expires_at > $2",
                )
                .bind(hash.to_vec())
                .bind(to_micros(now))
                .fetch_optional(self.conn())
                .await?;
                Ok(row.is_some())
            }

            async fn issued_certificate(
                &mut self,
                serial: &[u8],
            ) -> Result<Option<$crate::tx::system_auths::IssuedCertificate>, StoreError> {
                self.counter().inc();
                // Revoked too when a certificate it was renewed from is: a renewal that
                // committed while its parent was being revoked is refused all the same.
                let row = sqlx::query(
                    "WITH RECURSIVE up (serial, parent_serial, revoked_at) AS ( \
                       SELECT serial, parent_serial, revoked_at FROM issued_certificates \
                       WHERE serial = $1 \
                       UNION SELECT p.serial, p.parent_serial, p.revoked_at \
                       FROM issued_certificates p JOIN up ON p.serial = up.parent_serial) \
                     SELECT c.client_id, \
                       (SELECT COUNT(*) FROM up WHERE up.revoked_at IS NOT NULL) \
                     FROM issued_certificates c WHERE c.serial = $1",
                )
                .bind(serial)
                .fetch_optional(self.conn())
                .await?;
                row.map(|r| {
                    let revoked: i64 = r.try_get(1)?;
                    Ok($crate::tx::system_auths::IssuedCertificate {
                        client: sextant_domain::SystemAuthId::from_untyped(r.try_get(0)?),
                        revoked: revoked > 0,
                    })
                })
                .transpose()
            }

            async fn revoke_certificate(
                &mut self,
                serial: &[u8],
                now: time::OffsetDateTime,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                // The certificate and every certificate renewed from it, at any depth.
                let done = sqlx::query(
                    "WITH RECURSIVE chain (serial) AS ( \
                       SELECT serial FROM issued_certificates WHERE serial = $1 \
                       UNION SELECT c.serial FROM issued_certificates c \
                         JOIN chain ON c.parent_serial = chain.serial) \
                     UPDATE issued_certificates SET revoked_at = COALESCE(revoked_at, $2) \
                     WHERE serial IN (SELECT serial FROM chain)",
                )
                .bind(serial)
                .bind(to_micros(now))
                .execute(self.conn())
                .await?;
                if done.rows_affected() > 0 {
                    self.announced.note($crate::epochs::Announcement::Credentials);
                }
                Ok(done.rows_affected() >= 1)
            }

            async fn revoke_certificates_of(
                &mut self,
                tenant: TenantId,
                of: $crate::tx::system_auths::CertificatesOf,
                now: time::OffsetDateTime,
            ) -> Result<u64, StoreError> {
                use $crate::tx::system_auths::CertificatesOf;
                self.counter().inc();
                let done = match of {
                    CertificatesOf::Client(client) => sqlx::query(
                        "UPDATE issued_certificates SET revoked_at = $3 \
                         WHERE tenant_id = $1 AND client_id = $2 AND revoked_at IS NULL",
                    )
                    .bind(tenant.0)
                    .bind(client.into_untyped())
                    .bind(to_micros(now))
                    .execute(self.conn())
                    .await?,
                    CertificatesOf::Owner(owner) => sqlx::query(AssertSqlSafe(format!(
                        "UPDATE issued_certificates SET revoked_at = $3 \
                         WHERE tenant_id = $1 AND revoked_at IS NULL AND client_id IN \
                         (SELECT id FROM system_auths WHERE tenant_id = $1 AND {} = $2)",
                        $crate::tx::system_auths::OwnerKind::of(owner).column()
                    )))
                    .bind(tenant.0)
                    .bind(owner.id())
                    .bind(to_micros(now))
                    .execute(self.conn())
                    .await?,
                };
                if done.rows_affected() > 0 {
                    self.announced.note($crate::epochs::Announcement::Credentials);
                }
                Ok(done.rows_affected())
            }

            async fn revoked_certificates(
                &mut self,
                now: time::OffsetDateTime,
            ) -> Result<Vec<(Vec<u8>, time::OffsetDateTime)>, StoreError> {
                self.counter().inc();
                let rows = sqlx::query(
                    "SELECT serial, revoked_at FROM issued_certificates \
                     WHERE revoked_at IS NOT NULL AND not_after > $1 ORDER BY revoked_at, serial",
                )
                .bind(to_micros(now))
                .fetch_all(self.conn())
                .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get::<Vec<u8>, _>(0)?, from_micros(r.try_get(1)?)?)))
                    .collect()
            }

            async fn application_certificates(
                &mut self,
                tenant: TenantId,
                applications: &[sextant_domain::ApplicationId],
                limit: i64,
            ) -> Result<Vec<$crate::tx::system_auths::ApplicationCertificate>, StoreError> {
                if applications.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<$Db>::new(
                    "SELECT app_id, client_id, serial, not_before, not_after, issued_at, \
                     revoked_at FROM (SELECT a.app_id, c.client_id, c.serial, c.not_before, \
                     c.not_after, c.issued_at, c.revoked_at, ROW_NUMBER() OVER \
                     (PARTITION BY a.app_id ORDER BY c.issued_at DESC, c.serial) AS rn \
                     FROM system_auths a JOIN issued_certificates c ON c.client_id = a.id \
                     AND c.tenant_id = a.tenant_id WHERE a.tenant_id = ",
                );
                qb.push_bind(tenant.0);
                qb.push(" AND ");
                Self::push_id_in(&mut qb, "a.app_id", applications);
                qb.push(") l WHERE rn <= ");
                qb.push_bind(limit);
                qb.push(" ORDER BY app_id, issued_at DESC, serial");
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter().map(Self::application_certificate_from_row).collect()
            }

            async fn application_certificate(
                &mut self,
                tenant: TenantId,
                serial: &[u8],
            ) -> Result<Option<$crate::tx::system_auths::ApplicationCertificate>, StoreError> {
                self.counter().inc();
                let row = sqlx::query(
                    "SELECT a.app_id, c.client_id, c.serial, c.not_before, c.not_after, \
                     c.issued_at, c.revoked_at FROM issued_certificates c \
                     JOIN system_auths a ON a.id = c.client_id AND a.tenant_id = c.tenant_id \
                     WHERE c.serial = $1 AND c.tenant_id = $2 AND a.app_id IS NOT NULL",
                )
                .bind(serial)
                .bind(tenant.0)
                .fetch_optional(self.conn())
                .await?;
                row.as_ref()
                    .map(Self::application_certificate_from_row)
                    .transpose()
            }

            async fn insert_issued_certificate(
                &mut self,
                certificate: &sextant_domain::IssuedCertificateRecord,
            ) -> Result<(), StoreError> {
                self.counter().inc();
                sqlx::query(
                    "INSERT INTO issued_certificates (serial, client_id, tenant_id, not_before, \
                     not_after, issued_at, revoked_at, issuer, parent_serial) \
                     VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8)",
                )
                .bind(certificate.serial.as_slice())
                .bind(certificate.client_id.into_untyped())
                .bind(certificate.tenant.0)
                .bind(to_micros(certificate.not_before))
                .bind(to_micros(certificate.not_after))
                .bind(to_micros(certificate.issued_at))
                .bind(certificate.issuer.as_slice())
                .bind(certificate.parent_serial.as_deref())
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn clients_depending_on_other_cas(
                &mut self,
                issuer: &[u8],
                now: time::OffsetDateTime,
            ) -> Result<u64, StoreError> {
                self.counter().inc();
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(DISTINCT client_id) FROM issued_certificates o \
                     WHERE revoked_at IS NULL AND not_after > $1 \
                     AND (issuer IS NULL OR issuer <> $2) \
                     AND NOT EXISTS (SELECT 1 FROM issued_certificates n \
                       WHERE n.client_id = o.client_id AND n.revoked_at IS NULL \
                       AND n.not_after > $1 AND n.issuer = $2)",
                )
                .bind(to_micros(now))
                .bind(issuer)
                .fetch_one(self.conn())
                .await?;
                Ok(u64::try_from(n).unwrap_or(0))
            }

            async fn purge_expired_tokens(
                &mut self,
                now: time::OffsetDateTime,
            ) -> Result<u64, StoreError> {
                self.counter().inc();
                let done = sqlx::query("DELETE FROM one_time_tokens WHERE expires_at <= $1")
                    .bind(to_micros(now))
                    .execute(self.conn())
                    .await?;
                Ok(done.rows_affected())
            }

            async fn system_auths_of(
                &mut self,
                tenant: Option<TenantId>,
                kind: $crate::tx::system_auths::OwnerKind,
                owners: &[Uuid],
            ) -> Result<Vec<sextant_domain::SystemAuth>, StoreError> {
                if owners.is_empty() {
                    return Ok(Vec::new());
                }
                let column = kind.column();
                let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                    "SELECT {} FROM system_auths WHERE ",
                    $crate::tx::system_auths::SYSTEM_AUTH_COLUMNS
                ));
                match tenant {
                    Some(tenant) => {
                        qb.push("tenant_id = ");
                        qb.push_bind(tenant.0);
                    }
                    None => {
                        qb.push("tenant_id IS NULL");
                    }
                }
                qb.push(" AND ");
                Self::push_id_in(&mut qb, column, owners);
                qb.push(format!(" ORDER BY {column}, created_at, id"));
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter().map(Self::system_auth_from_row).collect()
            }
        }
    };
}
