//! Keyset pagination by id: of a list of objects, and of the children of many applications
//! at once (one statement for the rows, one for the counts).

use std::collections::HashMap;

use sextant_domain::{ApplicationId, Page, PageRequest};

/// Groups rows into one page per application, in application order.
pub(crate) fn pages_by_app<T>(
    app_ids: &[ApplicationId],
    rows: Vec<(ApplicationId, T)>,
    counts: Vec<(ApplicationId, i64)>,
    page: &PageRequest,
) -> HashMap<ApplicationId, Page<T>> {
    let mut grouped: HashMap<ApplicationId, Vec<T>> = HashMap::with_capacity(app_ids.len());
    for (app, item) in rows {
        grouped.entry(app).or_default().push(item);
    }
    let counts: HashMap<ApplicationId, i64> = counts.into_iter().collect();
    app_ids
        .iter()
        .map(|app| {
            let items = grouped.remove(app).unwrap_or_default();
            let total = counts.get(app).copied().unwrap_or(0);
            (*app, Page::from_rows(items, page, total))
        })
        .collect()
}

macro_rules! page_helpers {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            /// Appends the keyset condition, order and limit (one extra row tells whether
            /// another page follows).
            fn push_page(qb: &mut sqlx::QueryBuilder<$Db>, alias: &str, page: &PageRequest) {
                Self::push_page_by(qb, &format!("{alias}.id"), page);
            }

            /// [`Self::push_page`] over the id expression `id`.
            fn push_page_by(qb: &mut sqlx::QueryBuilder<$Db>, id: &str, page: &PageRequest) {
                if let Some(after) = page.after {
                    qb.push(format!(" AND {id} > "));
                    qb.push_bind(after.0);
                }
                qb.push(format!(" ORDER BY {id} LIMIT "));
                qb.push_bind(i64::from(page.first) + 1);
            }

            /// The first `page.first + 1` children of each application (after the cursor),
            /// and each application's total, in two statements.
            async fn catalog_pages(
                &mut self,
                table: &str,
                columns: &str,
                tenant: TenantId,
                app_ids: &[sextant_domain::ApplicationId],
                group: Option<&str>,
                page: &PageRequest,
            ) -> Result<
                (
                    Vec<<$Db as sqlx::Database>::Row>,
                    Vec<(sextant_domain::ApplicationId, i64)>,
                ),
                StoreError,
            > {
                if app_ids.is_empty() {
                    return Ok((Vec::new(), Vec::new()));
                }
                let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                    "SELECT {columns} FROM (SELECT *, ROW_NUMBER() OVER \
                     (PARTITION BY app_id ORDER BY id) AS rn FROM {table} WHERE tenant_id = "
                ));
                qb.push_bind(tenant.0);
                qb.push(" AND ");
                Self::push_id_in(&mut qb, "app_id", app_ids);
                if let Some(group) = group {
                    qb.push(" AND group_name = ");
                    qb.push_bind(group.to_owned());
                }
                if let Some(after) = page.after {
                    qb.push(" AND id > ");
                    qb.push_bind(after.0);
                }
                qb.push(") t WHERE t.rn <= ");
                qb.push_bind(i64::from(page.first) + 1);
                qb.push(" ORDER BY t.app_id, t.id");
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;

                let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                    "SELECT app_id, COUNT(*) FROM {table} WHERE tenant_id = "
                ));
                qb.push_bind(tenant.0);
                qb.push(" AND ");
                Self::push_id_in(&mut qb, "app_id", app_ids);
                if let Some(group) = group {
                    qb.push(" AND group_name = ");
                    qb.push_bind(group.to_owned());
                }
                qb.push(" GROUP BY app_id");
                self.counter().inc();
                let counts = qb
                    .build()
                    .fetch_all(self.conn())
                    .await?
                    .iter()
                    .map(|r| {
                        Ok((
                            sextant_domain::ApplicationId::from_untyped(r.try_get(0)?),
                            r.try_get::<i64, _>(1)?,
                        ))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Ok((rows, counts))
            }
        }
    };
}
