//! SQL shared by both adapters. `common_tx!` expands inside each adapter's `impl Tx` with the
//! adapter's concrete database type, so every statement is type-checked against the real
//! driver types of both backends. Both SQLite and PostgreSQL accept `$N` placeholders, `ON
//! CONFLICT ... DO UPDATE` and `RETURNING`, which is what this shared SQL relies on.
//!
//! The adapter provides, as inherent items of its transaction type:
//! - `fn conn(&mut self) -> &mut <Db as Database>::Connection`
//! - `fn counter(&self) -> &StatementCounter`
//! - `fn share_lock(&self) -> &'static str` (row lock clause for reads in write transactions)
//! - `async fn resolve_filters(&mut self, tenant, kind, &[LabelFilter]) -> Result<Vec<ResolvedFilter>>`
//! - `fn push_value_match(&mut QueryBuilder<Db>, &ResolvedFilter)` (the condition on a label's
//!   value for one filter)
//! - `fn push_id_list(&mut QueryBuilder<Db>, &[Uuid])` (an `IN (...)` operand)
//! - `fn push_text_list(&mut QueryBuilder<Db>, &[&str])` (an `IN (...)` operand)
//! - `fn sql_hex8(&str) -> String`, `fn sql_uuid_of_text() -> (&str, &str)`,
//!   `fn sql_uuid_text(&str) -> String` (ids made and written as text in SQL, for the outbox)

macro_rules! common_tx {
    ($Tx:ident, $Db:ty) => {
        #[async_trait::async_trait]
        impl Tx for $Tx {
        async fn commit(self: Box<Self>) -> Result<(), StoreError> {
            let mut this = *self;
            let bumped = std::mem::take(&mut this.bumped);
            let filled_outbox = this.filled_outbox;
            let epochs = this.epochs.clone();
            this.tx.commit().await.map_err(StoreError::from)?;
            for (tenant, epoch) in bumped {
                epochs.advance(tenant, epoch);
            }
            if filled_outbox {
                epochs.fill_outbox();
            }
            Ok(())
        }

        async fn bump_config_epoch(&mut self, tenant: TenantId) -> Result<u64, StoreError> {
            self.counter().inc();
            let epoch: i64 = sqlx::query_scalar(
                "INSERT INTO config_epochs (tenant_id, epoch) VALUES ($1, 1) \
                 ON CONFLICT (tenant_id) DO UPDATE SET epoch = config_epochs.epoch + 1 \
                 RETURNING epoch",
            )
            .bind(tenant.0)
            .fetch_one(self.conn())
            .await?;
            let epoch = u64::try_from(epoch).unwrap_or(0);
            self.notify_epoch(tenant, epoch).await?;
            self.bumped.push((tenant, epoch));
            Ok(epoch)
        }

        // --- applications ---

        async fn insert_application(&mut self, app: &Application) -> Result<(), StoreError> {
            self.counter().inc();
            sqlx::query(
                "INSERT INTO applications (id, tenant_id, name, provider_name, description, \
                 health_check_url, integration_system_id, status_condition, status_timestamp, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(app.id)
            .bind(app.tenant.0)
            .bind(&app.name)
            .bind(&app.provider_name)
            .bind(&app.description)
            .bind(&app.health_check_url)
            .bind(app.integration_system_id)
            .bind(app.status_condition.as_str())
            .bind(to_micros(app.status_timestamp))
            .bind(to_micros(app.created_at))
            .execute(self.conn())
            .await?;
            Ok(())
        }

        async fn update_application(&mut self, app: &Application) -> Result<bool, StoreError> {
            self.counter().inc();
            let done = sqlx::query(
                "UPDATE applications SET name = $3, provider_name = $4, description = $5, \
                 health_check_url = $6, integration_system_id = $7, status_condition = $8, \
                 status_timestamp = $9 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(app.tenant.0)
            .bind(app.id)
            .bind(&app.name)
            .bind(&app.provider_name)
            .bind(&app.description)
            .bind(&app.health_check_url)
            .bind(app.integration_system_id)
            .bind(app.status_condition.as_str())
            .bind(to_micros(app.status_timestamp))
            .execute(self.conn())
            .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn application(
            &mut self,
            tenant: TenantId,
            id: Uuid,
        ) -> Result<Option<Application>, StoreError> {
            self.counter().inc();
            let row = sqlx::query(
                "SELECT id, tenant_id, name, provider_name, description, health_check_url, \
                 integration_system_id, status_condition, status_timestamp, created_at \
                 FROM applications WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
            row.as_ref().map(Self::application_from_row).transpose()
        }

        async fn delete_application(
            &mut self,
            tenant: TenantId,
            id: Uuid,
        ) -> Result<bool, StoreError> {
            self.counter().inc();
            let done = sqlx::query("DELETE FROM applications WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(id)
                .execute(self.conn())
                .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn applications(
            &mut self,
            tenant: TenantId,
            filters: &[LabelFilter],
            page: &PageRequest,
        ) -> Result<Page<Application>, StoreError> {
            let resolved = self
                .resolve_filters(tenant, ObjectKind::Application, filters)
                .await?;
            self.applications_resolved(tenant, resolved, page).await
        }

        async fn applications_among(
            &mut self,
            tenant: TenantId,
            among: &[Uuid],
            filters: &[LabelFilter],
            page: &PageRequest,
        ) -> Result<Page<Application>, StoreError> {
            let mut resolved = self
                .resolve_filters(tenant, ObjectKind::Application, filters)
                .await?;
            resolved.push(ResolvedFilter::Ids(among.to_vec()));
            self.applications_resolved(tenant, resolved, page).await
        }

        async fn application_ids_of_integration_system(
            &mut self,
            tenant: TenantId,
            integration_system: Uuid,
        ) -> Result<Vec<Uuid>, StoreError> {
            self.counter().inc();
            Ok(sqlx::query_scalar(
                "SELECT id FROM applications WHERE tenant_id = $1 AND integration_system_id = $2",
            )
            .bind(tenant.0)
            .bind(integration_system)
            .fetch_all(self.conn())
            .await?)
        }

        async fn count_applications_of_integration_system(
            &mut self,
            integration_system: Uuid,
        ) -> Result<i64, StoreError> {
            self.counter().inc();
            let count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM applications WHERE integration_system_id = $1",
            )
            .bind(integration_system)
            .fetch_one(self.conn())
            .await?;
            Ok(count)
        }

        // --- runtimes ---

        async fn insert_runtime(&mut self, runtime: &Runtime) -> Result<(), StoreError> {
            self.counter().inc();
            sqlx::query(
                "INSERT INTO runtimes (id, tenant_id, name, description, status_condition, \
                 status_timestamp, created_at, status_message) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(runtime.id)
            .bind(runtime.tenant.0)
            .bind(&runtime.name)
            .bind(&runtime.description)
            .bind(runtime.status_condition.as_str())
            .bind(to_micros(runtime.status_timestamp))
            .bind(to_micros(runtime.created_at))
            .bind(&runtime.status_message)
            .execute(self.conn())
            .await?;
            Ok(())
        }

        async fn update_runtime(&mut self, runtime: &Runtime) -> Result<bool, StoreError> {
            self.counter().inc();
            let done = sqlx::query(
                "UPDATE runtimes SET name = $3, description = $4, status_condition = $5, \
                 status_timestamp = $6, status_message = $7 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(runtime.tenant.0)
            .bind(runtime.id)
            .bind(&runtime.name)
            .bind(&runtime.description)
            .bind(runtime.status_condition.as_str())
            .bind(to_micros(runtime.status_timestamp))
            .bind(&runtime.status_message)
            .execute(self.conn())
            .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn runtime(
            &mut self,
            tenant: TenantId,
            id: Uuid,
        ) -> Result<Option<Runtime>, StoreError> {
            self.counter().inc();
            let row = sqlx::query(
                "SELECT id, tenant_id, name, description, status_condition, status_timestamp, \
                 created_at, status_message FROM runtimes WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
            row.as_ref().map(Self::runtime_from_row).transpose()
        }

        async fn delete_runtime(&mut self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError> {
            self.counter().inc();
            let done = sqlx::query("DELETE FROM runtimes WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(id)
                .execute(self.conn())
                .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn runtimes(
            &mut self,
            tenant: TenantId,
            filters: &[LabelFilter],
            page: &PageRequest,
        ) -> Result<Page<Runtime>, StoreError> {
            let resolved = self
                .resolve_filters(tenant, ObjectKind::Runtime, filters)
                .await?;
            self.runtimes_resolved(tenant, resolved, page).await
        }

        async fn runtimes_among(
            &mut self,
            tenant: TenantId,
            among: &[Uuid],
            filters: &[LabelFilter],
            page: &PageRequest,
        ) -> Result<Page<Runtime>, StoreError> {
            let mut resolved = self
                .resolve_filters(tenant, ObjectKind::Runtime, filters)
                .await?;
            resolved.push(ResolvedFilter::Ids(among.to_vec()));
            self.runtimes_resolved(tenant, resolved, page).await
        }

        // --- labels ---

        async fn labels(
            &mut self,
            tenant: TenantId,
            kind: ObjectKind,
            ids: &[Uuid],
        ) -> Result<Vec<(Uuid, String, Value)>, StoreError> {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let (table, column) = label_table(kind);
            let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                "SELECT {column}, key, value FROM {table} WHERE tenant_id = "
            ));
            qb.push_bind(tenant.0);
            qb.push(format!(" AND {column} IN "));
            Self::push_id_list(&mut qb, ids);
            qb.push(format!(" ORDER BY {column}, key"));
            self.counter().inc();
            let rows = qb.build().fetch_all(self.conn()).await?;
            rows.iter()
                .map(|row| {
                    let id: Uuid = row.try_get(0)?;
                    let key: String = row.try_get(1)?;
                    let value: Json<Value> = row.try_get(2)?;
                    Ok((id, key, value.0))
                })
                .collect()
        }

        async fn set_label(
            &mut self,
            tenant: TenantId,
            object: ObjectRef,
            key: &str,
            value: &Value,
        ) -> Result<(), StoreError> {
            let (table, column) = label_table(object.kind);
            self.counter().inc();
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {table} (tenant_id, {column}, key, value) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (tenant_id, {column}, key) DO UPDATE SET value = excluded.value"
            )))
            .bind(tenant.0)
            .bind(object.id)
            .bind(key)
            .bind(Json(value))
            .execute(self.conn())
            .await?;
            Ok(())
        }

        async fn set_labels(
            &mut self,
            tenant: TenantId,
            object: ObjectRef,
            labels: &[(&str, &Value)],
        ) -> Result<(), StoreError> {
            let (table, column) = label_table(object.kind);
            for chunk in $crate::catalog::statement_chunks(labels, 4, |_| 0) {
                let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                    "INSERT INTO {table} (tenant_id, {column}, key, value) "
                ));
                qb.push_values(chunk, |mut row, (key, value)| {
                    row.push_bind(tenant.0)
                        .push_bind(object.id)
                        .push_bind(*key)
                        .push_bind(Json(*value));
                });
                qb.push(format!(
                    " ON CONFLICT (tenant_id, {column}, key) DO UPDATE SET value = excluded.value"
                ));
                self.counter().inc();
                qb.build().execute(self.conn()).await?;
            }
            Ok(())
        }

        async fn delete_label(
            &mut self,
            tenant: TenantId,
            object: ObjectRef,
            key: &str,
        ) -> Result<Option<Value>, StoreError> {
            let (table, column) = label_table(object.kind);
            self.counter().inc();
            let value: Option<Json<Value>> = sqlx::query_scalar(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE tenant_id = $1 AND {column} = $2 AND key = $3 \
                 RETURNING value"
            )))
            .bind(tenant.0)
            .bind(object.id)
            .bind(key)
            .fetch_optional(self.conn())
            .await?;
            Ok(value.map(|v| v.0))
        }

        async fn delete_all_labels(
            &mut self,
            tenant: TenantId,
            object: ObjectRef,
        ) -> Result<(), StoreError> {
            let (table, column) = label_table(object.kind);
            self.counter().inc();
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE tenant_id = $1 AND {column} = $2"
            )))
            .bind(tenant.0)
            .bind(object.id)
            .execute(self.conn())
            .await?;
            Ok(())
        }

        async fn labels_with_key(
            &mut self,
            tenant: TenantId,
            key: &str,
        ) -> Result<Vec<(ObjectRef, Value)>, StoreError> {
            let mut out = Vec::new();
            for kind in [ObjectKind::Application, ObjectKind::Runtime] {
                let (table, column) = label_table(kind);
                self.counter().inc();
                let rows = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {column}, value FROM {table} WHERE tenant_id = $1 AND key = $2 \
                     ORDER BY {column}"
                )))
                .bind(tenant.0)
                .bind(key)
                .fetch_all(self.conn())
                .await?;
                for row in &rows {
                    let id: Uuid = row.try_get(0)?;
                    let value: Json<Value> = row.try_get(1)?;
                    out.push((ObjectRef { kind, id }, value.0));
                }
            }
            Ok(out)
        }

        async fn delete_labels_with_key(
            &mut self,
            tenant: TenantId,
            key: &str,
        ) -> Result<u64, StoreError> {
            let mut deleted = 0;
            for kind in [ObjectKind::Application, ObjectKind::Runtime] {
                let (table, _) = label_table(kind);
                self.counter().inc();
                deleted += sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE tenant_id = $1 AND key = $2"
                )))
                .bind(tenant.0)
                .bind(key)
                .execute(self.conn())
                .await?
                .rows_affected();
            }
            Ok(deleted)
        }

        // --- label definitions ---

        async fn label_definition(
            &mut self,
            tenant: TenantId,
            key: &str,
        ) -> Result<Option<LabelDefinition>, StoreError> {
            self.counter().inc();
            let row = sqlx::query(AssertSqlSafe(format!(
                "SELECT key, schema FROM label_definitions WHERE tenant_id = $1 AND key = $2{}",
                self.share_lock()
            )))
            .bind(tenant.0)
            .bind(key)
            .fetch_optional(self.conn())
            .await?;
            row.as_ref().map(Self::label_definition_from_row).transpose()
        }

        async fn label_definitions_of(
            &mut self,
            tenant: TenantId,
            keys: &[&str],
        ) -> Result<Vec<LabelDefinition>, StoreError> {
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            let mut qb = sqlx::QueryBuilder::<$Db>::new(
                "SELECT key, schema FROM label_definitions WHERE tenant_id = ",
            );
            qb.push_bind(tenant.0);
            qb.push(" AND key IN ");
            Self::push_text_list(&mut qb, keys);
            qb.push(self.share_lock());
            self.counter().inc();
            let rows = qb.build().fetch_all(self.conn()).await?;
            rows.iter().map(Self::label_definition_from_row).collect()
        }

        async fn label_definitions(
            &mut self,
            tenant: TenantId,
        ) -> Result<Vec<LabelDefinition>, StoreError> {
            self.counter().inc();
            let rows = sqlx::query(
                "SELECT key, schema FROM label_definitions WHERE tenant_id = $1 ORDER BY key",
            )
            .bind(tenant.0)
            .fetch_all(self.conn())
            .await?;
            rows.iter().map(Self::label_definition_from_row).collect()
        }

        async fn insert_label_definition(
            &mut self,
            tenant: TenantId,
            definition: &LabelDefinition,
        ) -> Result<(), StoreError> {
            self.counter().inc();
            sqlx::query("INSERT INTO label_definitions (tenant_id, key, schema) VALUES ($1, $2, $3)")
                .bind(tenant.0)
                .bind(&definition.key)
                .bind(definition.schema.as_ref().map(Json))
                .execute(self.conn())
                .await?;
            Ok(())
        }

        async fn ensure_label_definition(
            &mut self,
            tenant: TenantId,
            definition: &LabelDefinition,
        ) -> Result<bool, StoreError> {
            self.counter().inc();
            let done = sqlx::query(
                "INSERT INTO label_definitions (tenant_id, key, schema) VALUES ($1, $2, $3) \
                 ON CONFLICT (tenant_id, key) DO NOTHING",
            )
            .bind(tenant.0)
            .bind(&definition.key)
            .bind(definition.schema.as_ref().map(Json))
            .execute(self.conn())
            .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn update_label_definition(
            &mut self,
            tenant: TenantId,
            definition: &LabelDefinition,
        ) -> Result<bool, StoreError> {
            self.counter().inc();
            let done = sqlx::query(
                "UPDATE label_definitions SET schema = $3 WHERE tenant_id = $1 AND key = $2",
            )
            .bind(tenant.0)
            .bind(&definition.key)
            .bind(definition.schema.as_ref().map(Json))
            .execute(self.conn())
            .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn delete_label_definition(
            &mut self,
            tenant: TenantId,
            key: &str,
        ) -> Result<Option<LabelDefinition>, StoreError> {
            self.counter().inc();
            let row = sqlx::query(
                "DELETE FROM label_definitions WHERE tenant_id = $1 AND key = $2 \
                 RETURNING key, schema",
            )
            .bind(tenant.0)
            .bind(key)
            .fetch_optional(self.conn())
            .await?;
            row.as_ref().map(Self::label_definition_from_row).transpose()
        }

        // --- integration systems ---

        async fn insert_integration_system(
            &mut self,
            system: &IntegrationSystem,
        ) -> Result<(), StoreError> {
            self.counter().inc();
            sqlx::query(
                "INSERT INTO integration_systems (id, name, description, owner_tenant_id, \
                 created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(system.id)
            .bind(&system.name)
            .bind(&system.description)
            .bind(system.owner.0)
            .bind(to_micros(time::OffsetDateTime::now_utc()))
            .execute(self.conn())
            .await?;
            Ok(())
        }

        async fn update_integration_system(
            &mut self,
            system: &IntegrationSystem,
        ) -> Result<bool, StoreError> {
            self.counter().inc();
            let done = sqlx::query(
                "UPDATE integration_systems SET name = $2, description = $3 WHERE id = $1",
            )
            .bind(system.id)
            .bind(&system.name)
            .bind(&system.description)
            .execute(self.conn())
            .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn integration_system(
            &mut self,
            id: Uuid,
        ) -> Result<Option<IntegrationSystem>, StoreError> {
            self.counter().inc();
            let row = sqlx::query(
                "SELECT id, name, description, owner_tenant_id FROM integration_systems \
                 WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
            row.as_ref().map(Self::integration_system_from_row).transpose()
        }

        async fn visible_integration_system(
            &mut self,
            tenant: TenantId,
            id: Uuid,
        ) -> Result<Option<IntegrationSystem>, StoreError> {
            self.counter().inc();
            let row = sqlx::query(
                "SELECT s.id, s.name, s.description, s.owner_tenant_id FROM integration_systems s \
                 WHERE s.id = $1 AND (s.owner_tenant_id = $2 OR EXISTS (SELECT 1 FROM \
                 integration_system_grants g WHERE g.tenant_id = $2 \
                 AND g.integration_system_id = s.id))",
            )
            .bind(id)
            .bind(tenant.0)
            .fetch_optional(self.conn())
            .await?;
            row.as_ref().map(Self::integration_system_from_row).transpose()
        }

        async fn delete_integration_system(&mut self, id: Uuid) -> Result<bool, StoreError> {
            self.counter().inc();
            let done = sqlx::query("DELETE FROM integration_systems WHERE id = $1")
                .bind(id)
                .execute(self.conn())
                .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn integration_systems(
            &mut self,
            tenant: TenantId,
            page: &PageRequest,
        ) -> Result<Page<IntegrationSystem>, StoreError> {
            let mut qb = sqlx::QueryBuilder::<$Db>::new(
                "SELECT s.id, s.name, s.description, s.owner_tenant_id \
                 FROM integration_systems s WHERE (s.owner_tenant_id = ",
            );
            qb.push_bind(tenant.0);
            qb.push(
                " OR s.id IN (SELECT g.integration_system_id FROM integration_system_grants g \
                 WHERE g.tenant_id = ",
            );
            qb.push_bind(tenant.0);
            qb.push("))");
            Self::push_page(&mut qb, "s", page);
            self.counter().inc();
            let rows = qb.build().fetch_all(self.conn()).await?;
            self.counter().inc();
            let total: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM integration_systems s WHERE (s.owner_tenant_id = $1 \
                 OR s.id IN (SELECT g.integration_system_id FROM integration_system_grants g \
                 WHERE g.tenant_id = $1))",
            )
            .bind(tenant.0)
            .fetch_one(self.conn())
            .await?;
            let items = rows
                .iter()
                .map(Self::integration_system_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Page::from_rows(items, page, total))
        }

        async fn grant_integration_system(
            &mut self,
            tenant: TenantId,
            id: Uuid,
            now: time::OffsetDateTime,
        ) -> Result<bool, StoreError> {
            self.counter().inc();
            let done = sqlx::query(
                "INSERT INTO integration_system_grants (tenant_id, integration_system_id, \
                 granted_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (tenant_id, integration_system_id) DO NOTHING",
            )
            .bind(tenant.0)
            .bind(id)
            .bind(to_micros(now))
            .execute(self.conn())
            .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn revoke_integration_system(
            &mut self,
            tenant: TenantId,
            id: Uuid,
        ) -> Result<bool, StoreError> {
            self.counter().inc();
            let done = sqlx::query(
                "DELETE FROM integration_system_grants \
                 WHERE tenant_id = $1 AND integration_system_id = $2",
            )
            .bind(tenant.0)
            .bind(id)
            .execute(self.conn())
            .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn integration_system_granted(
            &mut self,
            tenant: TenantId,
            id: Uuid,
        ) -> Result<bool, StoreError> {
            self.counter().inc();
            let row = sqlx::query(
                "SELECT 1 FROM integration_system_grants \
                 WHERE tenant_id = $1 AND integration_system_id = $2",
            )
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
            Ok(row.is_some())
        }

        // --- application templates ---

        async fn insert_application_template(
            &mut self,
            template: &ApplicationTemplate,
        ) -> Result<(), StoreError> {
            self.counter().inc();
            sqlx::query(
                "INSERT INTO app_templates (id, tenant_id, name, description, \
                 application_input, placeholders, access_level, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(template.id)
            .bind(template.tenant.map(|t| t.0))
            .bind(&template.name)
            .bind(&template.description)
            .bind(&template.application_input)
            .bind(Json(&template.placeholders))
            .bind($crate::access_level(template.tenant))
            .bind(to_micros(time::OffsetDateTime::now_utc()))
            .execute(self.conn())
            .await?;
            Ok(())
        }

        async fn update_application_template(
            &mut self,
            template: &ApplicationTemplate,
        ) -> Result<bool, StoreError> {
            self.counter().inc();
            let done = sqlx::query(
                "UPDATE app_templates SET name = $2, description = $3, application_input = $4, \
                 placeholders = $5, tenant_id = $6, access_level = $7 WHERE id = $1",
            )
            .bind(template.id)
            .bind(&template.name)
            .bind(&template.description)
            .bind(&template.application_input)
            .bind(Json(&template.placeholders))
            .bind(template.tenant.map(|t| t.0))
            .bind($crate::access_level(template.tenant))
            .execute(self.conn())
            .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn application_template(
            &mut self,
            tenant: TenantId,
            id: Uuid,
        ) -> Result<Option<ApplicationTemplate>, StoreError> {
            self.counter().inc();
            let row = sqlx::query(
                "SELECT id, name, description, application_input, placeholders, tenant_id \
                 FROM app_templates WHERE id = $1 AND (tenant_id = $2 OR tenant_id IS NULL)",
            )
            .bind(id)
            .bind(tenant.0)
            .fetch_optional(self.conn())
            .await?;
            row.as_ref().map(Self::template_from_row).transpose()
        }

        async fn application_template_by_name(
            &mut self,
            tenant: TenantId,
            name: &str,
        ) -> Result<Option<ApplicationTemplate>, StoreError> {
            self.counter().inc();
            // The tenant's own template of that name comes before the global one.
            let row = sqlx::query(
                "SELECT id, name, description, application_input, placeholders, tenant_id \
                 FROM app_templates WHERE name = $1 AND (tenant_id = $2 OR tenant_id IS NULL) \
                 ORDER BY CASE WHEN tenant_id IS NULL THEN 1 ELSE 0 END LIMIT 1",
            )
            .bind(name)
            .bind(tenant.0)
            .fetch_optional(self.conn())
            .await?;
            row.as_ref().map(Self::template_from_row).transpose()
        }

        async fn delete_application_template(&mut self, id: Uuid) -> Result<bool, StoreError> {
            self.counter().inc();
            let done = sqlx::query("DELETE FROM app_templates WHERE id = $1")
                .bind(id)
                .execute(self.conn())
                .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn application_templates(
            &mut self,
            tenant: TenantId,
            page: &PageRequest,
        ) -> Result<Page<ApplicationTemplate>, StoreError> {
            let mut qb = sqlx::QueryBuilder::<$Db>::new(
                "SELECT t.id, t.name, t.description, t.application_input, t.placeholders, \
                 t.tenant_id FROM app_templates t WHERE (t.tenant_id IS NULL OR t.tenant_id = ",
            );
            qb.push_bind(tenant.0);
            qb.push(")");
            Self::push_page(&mut qb, "t", page);
            self.counter().inc();
            let rows = qb.build().fetch_all(self.conn()).await?;
            self.counter().inc();
            let total: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM app_templates WHERE tenant_id IS NULL OR tenant_id = $1",
            )
            .bind(tenant.0)
            .fetch_one(self.conn())
            .await?;
            let items = rows
                .iter()
                .map(Self::template_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Page::from_rows(items, page, total))
        }
        }
    };
}

/// Helpers shared by both adapters, expanded as inherent items of the transaction type.
macro_rules! common_helpers {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            /// Appends one condition per filter: an id list, or the set of objects with a
            /// label of the filter's key (and the backend's condition on its value). The set is
            /// an uncorrelated `IN (SELECT ...)` over the label table's `(tenant_id, key)`
            /// index, computed once per statement rather than probed once per object.
            fn push_filters(
                qb: &mut sqlx::QueryBuilder<$Db>,
                alias: &str,
                kind: ObjectKind,
                tenant: TenantId,
                filters: &[ResolvedFilter],
            ) {
                let (table, column) = label_table(kind);
                for filter in filters {
                    match filter {
                        ResolvedFilter::Ids(ids) => {
                            qb.push(format!(" AND {alias}.id IN "));
                            Self::push_id_list(qb, ids);
                        }
                        ResolvedFilter::Exists(key)
                        | ResolvedFilter::AnyOf(key, _)
                        | ResolvedFilter::Contains(key, _) => {
                            qb.push(format!(
                                " AND {alias}.id IN (SELECT l.{column} FROM {table} l \
                                 WHERE l.tenant_id = "
                            ));
                            qb.push_bind(tenant.0);
                            qb.push(" AND l.key = ");
                            qb.push_bind(key.clone());
                            Self::push_value_match(qb, filter);
                            qb.push(")");
                        }
                    }
                }
            }

            async fn applications_resolved(
                &mut self,
                tenant: TenantId,
                resolved: Vec<ResolvedFilter>,
                page: &PageRequest,
            ) -> Result<Page<Application>, StoreError> {
                let rows = {
                    let mut qb = sqlx::QueryBuilder::<$Db>::new(
                        "SELECT a.id, a.tenant_id, a.name, a.provider_name, a.description, \
                         a.health_check_url, a.integration_system_id, a.status_condition, \
                         a.status_timestamp, a.created_at FROM applications a WHERE a.tenant_id = ",
                    );
                    qb.push_bind(tenant.0);
                    Self::push_filters(&mut qb, "a", ObjectKind::Application, tenant, &resolved);
                    Self::push_page(&mut qb, "a", page);
                    self.counter().inc();
                    qb.build().fetch_all(self.conn()).await?
                };
                let total = self
                    .count_filtered("applications", ObjectKind::Application, tenant, &resolved)
                    .await?;
                let items = rows
                    .iter()
                    .map(Self::application_from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Page::from_rows(items, page, total))
            }

            async fn runtimes_resolved(
                &mut self,
                tenant: TenantId,
                resolved: Vec<ResolvedFilter>,
                page: &PageRequest,
            ) -> Result<Page<Runtime>, StoreError> {
                let rows = {
                    let mut qb = sqlx::QueryBuilder::<$Db>::new(
                        "SELECT r.id, r.tenant_id, r.name, r.description, r.status_condition, \
                         r.status_timestamp, r.created_at, r.status_message FROM runtimes r \
                         WHERE r.tenant_id = ",
                    );
                    qb.push_bind(tenant.0);
                    Self::push_filters(&mut qb, "r", ObjectKind::Runtime, tenant, &resolved);
                    Self::push_page(&mut qb, "r", page);
                    self.counter().inc();
                    qb.build().fetch_all(self.conn()).await?
                };
                let total = self
                    .count_filtered("runtimes", ObjectKind::Runtime, tenant, &resolved)
                    .await?;
                let items = rows
                    .iter()
                    .map(Self::runtime_from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Page::from_rows(items, page, total))
            }

            /// Appends the keyset condition, order and limit (one extra row tells whether
            /// another page follows).
            fn push_page(qb: &mut sqlx::QueryBuilder<$Db>, alias: &str, page: &PageRequest) {
                if let Some(after) = page.after {
                    qb.push(format!(" AND {alias}.id > "));
                    qb.push_bind(after.0);
                }
                qb.push(format!(" ORDER BY {alias}.id LIMIT "));
                qb.push_bind(i64::from(page.first) + 1);
            }

            async fn count_filtered(
                &mut self,
                table: &str,
                kind: ObjectKind,
                tenant: TenantId,
                resolved: &[ResolvedFilter],
            ) -> Result<i64, StoreError> {
                let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                    "SELECT COUNT(*) FROM {table} o WHERE o.tenant_id = "
                ));
                qb.push_bind(tenant.0);
                Self::push_filters(&mut qb, "o", kind, tenant, resolved);
                self.counter().inc();
                let count: i64 = qb.build_query_scalar().fetch_one(self.conn()).await?;
                Ok(count)
            }

            fn application_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<Application, StoreError> {
                let condition: String = row.try_get(7)?;
                Ok(Application {
                    id: row.try_get(0)?,
                    tenant: TenantId(row.try_get(1)?),
                    name: row.try_get(2)?,
                    provider_name: row.try_get(3)?,
                    description: row.try_get(4)?,
                    health_check_url: row.try_get(5)?,
                    integration_system_id: row.try_get(6)?,
                    status_condition: ApplicationStatusCondition::parse(&condition).ok_or_else(
                        || StoreError::Corrupt(format!("application status {condition:?}")),
                    )?,
                    status_timestamp: from_micros(row.try_get(8)?)?,
                    created_at: from_micros(row.try_get(9)?)?,
                })
            }

            fn runtime_from_row(row: &<$Db as sqlx::Database>::Row) -> Result<Runtime, StoreError> {
                let condition: String = row.try_get(4)?;
                Ok(Runtime {
                    id: row.try_get(0)?,
                    tenant: TenantId(row.try_get(1)?),
                    name: row.try_get(2)?,
                    description: row.try_get(3)?,
                    status_condition: RuntimeStatusCondition::parse(&condition).ok_or_else(
                        || StoreError::Corrupt(format!("runtime status {condition:?}")),
                    )?,
                    status_timestamp: from_micros(row.try_get(5)?)?,
                    created_at: from_micros(row.try_get(6)?)?,
                    status_message: row.try_get(7)?,
                })
            }

            fn label_definition_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<LabelDefinition, StoreError> {
                let schema: Option<Json<Value>> = row.try_get(1)?;
                Ok(LabelDefinition {
                    key: row.try_get(0)?,
                    schema: schema.map(|s| s.0),
                })
            }

            fn integration_system_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<IntegrationSystem, StoreError> {
                let owner: Option<Uuid> = row.try_get(3)?;
                Ok(IntegrationSystem {
                    id: row.try_get(0)?,
                    name: row.try_get(1)?,
                    description: row.try_get(2)?,
                    owner: TenantId(owner.ok_or_else(|| {
                        StoreError::Corrupt("integration system without an owner".into())
                    })?),
                })
            }

            fn template_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<ApplicationTemplate, StoreError> {
                let placeholders: Json<Vec<Placeholder>> = row.try_get(4)?;
                let tenant: Option<Uuid> = row.try_get(5)?;
                Ok(ApplicationTemplate {
                    id: row.try_get(0)?,
                    tenant: tenant.map(TenantId),
                    name: row.try_get(1)?,
                    description: row.try_get(2)?,
                    application_input: row.try_get(3)?,
                    placeholders: placeholders.0,
                })
            }
        }
    };
}
