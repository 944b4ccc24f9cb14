//! Labels of applications and runtimes (one table per kind of object), and label filters:
//! how a list of objects is narrowed to those whose labels match, in SQL shared by both
//! backends around each adapter's condition on a label's value.
//!
//! Beside each label table, a table of label values (migration 0022) holds one row per scalar
//! label value and per scalar element of an array label, keyed so that the objects of a
//! tenant with a key and a value are one index range in id order. A filter that asks for such
//! a value ([`ResolvedFilter::Values`]) or only for the key ([`ResolvedFilter::Exists`], over
//! the label table's `(tenant_id, key, object)` index) drives the list: a page reads its rows
//! from that range. The values are written by [`LabelsTx::set_label`] and
//! [`LabelsTx::set_labels`] in the label's transaction and go with the label (a foreign key
//! with `ON DELETE CASCADE`), so they are exact whenever a transaction reads them.

use serde_json::Value;
use sextant_domain::label::{LabelFilter, LabelQuery};
use sextant_domain::{ObjectKind, ObjectRef, TenantId};
use uuid::Uuid;

use crate::error::StoreError;

/// A label as [`LabelsTx::labels`] reads it: the object (of the kind asked for), key, value.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredLabel {
    pub object: Uuid,
    pub key: String,
    pub value: Value,
}

/// A label as [`LabelsTx::labels_with_key`] reads it: its object and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyedLabel {
    pub object: ObjectRef,
    pub value: Value,
}

/// How many objects hold a string in an array label ([`LabelsTx::array_string_counts`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StringCount {
    pub string: String,
    pub objects: i64,
}

/// An object's label as [`LabelsTx::label_of_locked_object`] reads it.
#[derive(Clone, Debug, PartialEq)]
pub enum LockedLabel {
    /// The object does not exist in the tenant.
    NoObject,
    /// The object exists and has no label with the key.
    NoLabel,
    /// The label's value.
    Value(Value),
}

/// The label operations of a transaction.
#[async_trait::async_trait]
pub trait LabelsTx: Send {
    /// An object's label `key`, read with the object's row locked to the end of the
    /// transaction (two statements), so that a read-modify-write of the object's labels
    /// cannot lose another transaction's write, whether the label exists yet or not. (On
    /// SQLite the write transaction already holds the database.)
    async fn label_of_locked_object(
        &mut self,
        tenant: TenantId,
        object: ObjectRef,
        key: &str,
    ) -> Result<LockedLabel, StoreError>;
    /// The labels of several objects of one kind in one statement, by object and key.
    async fn labels(
        &mut self,
        tenant: TenantId,
        kind: ObjectKind,
        ids: &[Uuid],
    ) -> Result<Vec<StoredLabel>, StoreError>;
    /// Inserts or replaces a label (and its indexed values). The object must exist (else
    /// [`StoreError::ForeignKey`]).
    async fn set_label(
        &mut self,
        tenant: TenantId,
        object: ObjectRef,
        key: &str,
        value: &Value,
    ) -> Result<(), StoreError>;
    /// Inserts or replaces several labels of one object (distinct keys), and their indexed
    /// values, in three statements. The object must exist (else [`StoreError::ForeignKey`]).
    async fn set_labels(
        &mut self,
        tenant: TenantId,
        object: ObjectRef,
        labels: &[(&str, &Value)],
    ) -> Result<(), StoreError>;
    /// Removes a label and returns its value, if it was there.
    async fn delete_label(
        &mut self,
        tenant: TenantId,
        object: ObjectRef,
        key: &str,
    ) -> Result<Option<Value>, StoreError>;
    async fn delete_all_labels(
        &mut self,
        tenant: TenantId,
        object: ObjectRef,
    ) -> Result<(), StoreError>;
    /// Every label of a tenant with this key, on objects of either kind.
    async fn labels_with_key(
        &mut self,
        tenant: TenantId,
        key: &str,
    ) -> Result<Vec<KeyedLabel>, StoreError>;
    async fn delete_labels_with_key(
        &mut self,
        tenant: TenantId,
        key: &str,
    ) -> Result<u64, StoreError>;
    /// For each string held by the `key` labels of the tenant's `kind` objects that are
    /// arrays, how many objects hold it, in string order. One statement
    /// over the label value table's `(tenant, key, value)` range, however many objects and
    /// strings (strings longer than `MAX_INDEXED_STRING_BYTES` have no row there and are
    /// not counted; scenario names are at most 128 characters). Strings in byte order.
    async fn array_string_counts(
        &mut self,
        tenant: TenantId,
        kind: ObjectKind,
        key: &str,
    ) -> Result<Vec<StringCount>, StoreError>;
}

/// The label table and object column of a kind.
pub(crate) fn label_table(kind: ObjectKind) -> (&'static str, &'static str) {
    match kind {
        ObjectKind::Application => ("application_labels", "app_id"),
        ObjectKind::Runtime => ("runtime_labels", "runtime_id"),
    }
}

/// The label value table of a kind (its object column is the label table's).
pub(crate) fn label_values_table(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Application => "application_label_values",
        ObjectKind::Runtime => "runtime_label_values",
    }
}

/// Longer strings get no row in the label value tables (a PostgreSQL B-tree entry is at most
/// about 2.7 KB, and a key may take 1 KB); a filter naming one matches the labels' JSON.
/// The migration (0022) writes the same bound.
pub(crate) const MAX_INDEXED_STRING_BYTES: usize = 1024;

/// A label filter made ready for SQL by a backend.
pub(crate) enum ResolvedFilter {
    /// Objects with a label of the key (the label table's key index).
    Exists(String),
    /// Objects with a value in the label value table (its primary key).
    Values(String, ValueMatch),
    /// Objects whose label is an array holding one of the strings, tested on the label's JSON.
    AnyOf(String, Vec<String>),
    /// Objects whose label contains the value, tested on the label's JSON.
    Contains(String, Value),
    /// Objects already found by the adapter (SQLite evaluates `@>` in Rust).
    Ids(Vec<Uuid>),
    /// Objects whose name starts with the text, compared byte by byte (names are lower-case
    /// ASCII): a range of the `(tenant_id, name)` index (on PostgreSQL, the `C` collation
    /// indexes of migrations 0026 and 0028).
    NamePrefix(String),
    /// Objects in this status condition: a range of the `(tenant_id, status_condition, id)`
    /// index (migrations 0026 and 0028), in id order.
    Status(String),
}

impl ResolvedFilter {
    /// Whether the filter is on the object's own columns rather than on its labels.
    pub(crate) fn is_column(&self) -> bool {
        matches!(
            self,
            ResolvedFilter::NamePrefix(_) | ResolvedFilter::Status(_)
        )
    }
}

/// The table of a kind of object.
pub(crate) fn object_table(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Application => "applications",
        ObjectKind::Runtime => "runtimes",
    }
}

/// Adds what a search narrows a list by besides its label filters: the objects it is
/// confined to, a status condition, a name prefix.
pub(crate) fn narrow(
    resolved: &mut Vec<ResolvedFilter>,
    among: Option<Vec<Uuid>>,
    status: Option<&str>,
    name_prefix: Option<&str>,
) {
    resolved.extend(among.map(ResolvedFilter::Ids));
    resolved.extend(status.map(|s| ResolvedFilter::Status(s.to_owned())));
    resolved.extend(name_prefix.map(|p| ResolvedFilter::NamePrefix(p.to_owned())));
}

/// The upper bound (exclusive) of the names starting with `prefix`: stored names hold only
/// ASCII characters below DEL, so every name with the prefix sorts before `prefix` + DEL
/// and every other name at or above `prefix` sorts after it.
pub(crate) fn name_prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{7f}")
}

/// What a [`ResolvedFilter::Values`] asks of the label value rows.
pub(crate) enum ValueMatch {
    /// An element of an array label equal to one of these strings: a scenarios query.
    ArrayString(Vec<String>),
    /// The label's value, or an element of an array label, equal to this string, number or
    /// boolean: containment (`@>`) of a scalar.
    Scalar(Value),
}

impl ValueMatch {
    /// Whether the matching rows are one index range (one value), in object order.
    pub(crate) fn is_one_range(&self) -> bool {
        match self {
            ValueMatch::ArrayString(values) => values.len() == 1,
            ValueMatch::Scalar(_) => true,
        }
    }
}

/// The filter as the label tables' indexes answer it, if they can: a key alone, a scenarios
/// query, or containment of a string (up to [`MAX_INDEXED_STRING_BYTES`]), number or boolean.
/// Containment of `null`, an array or an object, and queries naming longer strings, are left
/// to the adapter (matched on the labels' JSON).
pub(crate) fn indexed_filter(filter: &LabelFilter) -> Option<ResolvedFilter> {
    let short = |s: &str| s.len() <= MAX_INDEXED_STRING_BYTES;
    let key = filter.key.clone();
    match &filter.query {
        LabelQuery::Exists => Some(ResolvedFilter::Exists(key)),
        LabelQuery::AnyOf(values) if values.iter().all(|v| short(v)) => Some(
            ResolvedFilter::Values(key, ValueMatch::ArrayString(values.clone())),
        ),
        LabelQuery::Contains(value @ Value::String(s)) if short(s) => Some(ResolvedFilter::Values(
            key,
            ValueMatch::Scalar(value.clone()),
        )),
        LabelQuery::Contains(value @ (Value::Number(_) | Value::Bool(_))) => Some(
            ResolvedFilter::Values(key, ValueMatch::Scalar(value.clone())),
        ),
        LabelQuery::AnyOf(_) | LabelQuery::Contains(_) => None,
    }
}

macro_rules! labels_tx {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            /// Appends one condition per filter on the object id expression `id`: an id
            /// list, or the set of objects with a label of the filter's key (and a value
            /// row, or the backend's condition on the label's value). The set is an
            /// uncorrelated `IN (SELECT ...)`, computed once per statement rather than
            /// probed once per object.
            fn push_filters(
                qb: &mut sqlx::QueryBuilder<$Db>,
                id: &str,
                kind: ObjectKind,
                tenant: TenantId,
                filters: &[ResolvedFilter],
            ) {
                for filter in filters {
                    Self::push_filter(qb, id, kind, tenant, filter);
                }
            }

            fn push_filter(
                qb: &mut sqlx::QueryBuilder<$Db>,
                id: &str,
                kind: ObjectKind,
                tenant: TenantId,
                filter: &ResolvedFilter,
            ) {
                let (table, column) = label_table(kind);
                match filter {
                    ResolvedFilter::Ids(ids) => {
                        qb.push(" AND ");
                        Self::push_id_in(qb, id, ids);
                    }
                    ResolvedFilter::NamePrefix(_) | ResolvedFilter::Status(_) => {
                        qb.push(format!(
                            " AND {id} IN (SELECT c.id FROM {} c WHERE c.tenant_id = ",
                            $crate::tx::labels::object_table(kind)
                        ));
                        qb.push_bind(tenant.0);
                        Self::push_column_condition(qb, "c", filter);
                        qb.push(")");
                    }
                    ResolvedFilter::Values(key, wanted) => {
                        qb.push(format!(
                            " AND {id} IN (SELECT v.{column} FROM {} v WHERE v.tenant_id = ",
                            label_values_table(kind)
                        ));
                        qb.push_bind(tenant.0);
                        qb.push(" AND v.key = ");
                        qb.push_bind(key.clone());
                        Self::push_values_match(qb, "v", wanted);
                        qb.push(")");
                    }
                    ResolvedFilter::Exists(key)
                    | ResolvedFilter::AnyOf(key, _)
                    | ResolvedFilter::Contains(key, _) => {
                        qb.push(format!(
                            " AND {id} IN (SELECT l.{column} FROM {table} l WHERE l.tenant_id = "
                        ));
                        qb.push_bind(tenant.0);
                        qb.push(" AND l.key = ");
                        qb.push_bind(key.clone());
                        Self::push_value_match(qb, filter);
                        qb.push(")");
                    }
                }
            }

            /// The condition of a filter on the object's own columns, on the object `alias`.
            fn push_column_condition(
                qb: &mut sqlx::QueryBuilder<$Db>,
                alias: &str,
                filter: &ResolvedFilter,
            ) {
                match filter {
                    ResolvedFilter::NamePrefix(prefix) => {
                        let name = Self::byte_ordered(&format!("{alias}.name"));
                        qb.push(format!(" AND {name} >= "));
                        qb.push_bind(prefix.clone());
                        qb.push(format!(" AND {name} < "));
                        qb.push_bind($crate::tx::labels::name_prefix_end(prefix));
                    }
                    ResolvedFilter::Status(condition) => {
                        qb.push(format!(" AND {alias}.status_condition = "));
                        qb.push_bind(condition.clone());
                    }
                    _ => {}
                }
            }

            /// The condition on the label value rows `alias` (after their key matched).
            fn push_values_match(
                qb: &mut sqlx::QueryBuilder<$Db>,
                alias: &str,
                wanted: &ValueMatch,
            ) {
                match wanted {
                    ValueMatch::Scalar(value) => Self::push_value_eq(qb, alias, value),
                    ValueMatch::ArrayString(values) => {
                        qb.push(format!(" AND {alias}.in_array = "));
                        qb.push_bind(true);
                        match values.as_slice() {
                            [] => {
                                qb.push(" AND 1 = 0");
                            }
                            [one] => Self::push_value_eq(qb, alias, &Value::from(one.as_str())),
                            many => Self::push_string_in(qb, alias, many),
                        }
                    }
                }
            }

            /// Which filter drives a list (its index range read in object order): the first
            /// that is one range (a key, or one value). A count (`rows` false) may also be
            /// driven by several values of one key, counted once per object.
            fn driver(filters: &[ResolvedFilter], rows: bool) -> Option<usize> {
                let one_range = filters.iter().position(|f| match f {
                    ResolvedFilter::Exists(_) => true,
                    ResolvedFilter::Values(_, wanted) => wanted.is_one_range(),
                    _ => false,
                });
                one_range.or_else(|| {
                    filters
                        .iter()
                        .position(|f| !rows && matches!(f, ResolvedFilter::Values(..)))
                })
            }

            /// Appends ` FROM ... WHERE ...` for the objects of `table` (as `alias`) of the
            /// tenant that pass the filters, and answers the expression of their id, by which
            /// a page is ordered and bounded. A driving filter ([`Self::driver`]) is read
            /// from its index (`d`) in object order, and the objects joined by id, so a page
            /// is a range of the index, not a scan of the tenant's labels; `CROSS JOIN` keeps
            /// SQLite's planner to that order. Without `rows` (a count), no object is joined:
            /// a label row exists only with its object (foreign keys), in the object's
            /// tenant.
            fn push_filtered_source(
                qb: &mut sqlx::QueryBuilder<$Db>,
                table: &str,
                alias: &str,
                rows: bool,
                kind: ObjectKind,
                tenant: TenantId,
                filters: &[ResolvedFilter],
            ) -> String {
                let (labels, column) = label_table(kind);
                let driver = Self::driver(filters, rows).and_then(|i| match &filters[i] {
                    ResolvedFilter::Exists(key) => Some((i, labels, key, None)),
                    ResolvedFilter::Values(key, wanted) => {
                        Some((i, label_values_table(kind), key, Some(wanted)))
                    }
                    _ => None,
                });
                let Some((driver, source, key, wanted)) = driver else {
                    qb.push(format!(" FROM {table} {alias} WHERE {alias}.tenant_id = "));
                    qb.push_bind(tenant.0);
                    let id = format!("{alias}.id");
                    // The object's own columns are conditions on its row, so that their
                    // indexes can drive the statement; label filters are sets of ids.
                    for filter in filters {
                        if filter.is_column() {
                            Self::push_column_condition(qb, alias, filter);
                        } else {
                            Self::push_filter(qb, &id, kind, tenant, filter);
                        }
                    }
                    return id;
                };
                qb.push(format!(" FROM {source} d"));
                if rows {
                    qb.push(format!(" CROSS JOIN {table} {alias}"));
                }
                qb.push(" WHERE d.tenant_id = ");
                qb.push_bind(tenant.0);
                qb.push(" AND d.key = ");
                qb.push_bind(key.clone());
                if let Some(wanted) = wanted {
                    Self::push_values_match(qb, "d", wanted);
                }
                if rows {
                    qb.push(format!(
                        " AND {alias}.tenant_id = d.tenant_id AND {alias}.id = d.{column}"
                    ));
                }
                let id = format!("d.{column}");
                for (i, filter) in filters.iter().enumerate() {
                    if i != driver {
                        Self::push_filter(qb, &id, kind, tenant, filter);
                    }
                }
                id
            }

            /// `SELECT COUNT(...)` of the objects that pass the filters: the rows of a driving
            /// range, distinct objects when several values drive.
            fn push_filtered_count(
                qb: &mut sqlx::QueryBuilder<$Db>,
                table: &str,
                kind: ObjectKind,
                tenant: TenantId,
                filters: &[ResolvedFilter],
            ) {
                let several = Self::driver(filters, false)
                    .is_some_and(|i| Self::driver(filters, true) != Some(i));
                if several {
                    qb.push(format!("SELECT COUNT(DISTINCT d.{})", label_table(kind).1));
                } else {
                    qb.push("SELECT COUNT(*)");
                }
                Self::push_filtered_source(qb, table, "o", false, kind, tenant, filters);
            }

            async fn count_filtered(
                &mut self,
                table: &str,
                kind: ObjectKind,
                tenant: TenantId,
                resolved: &[ResolvedFilter],
            ) -> Result<i64, StoreError> {
                let mut qb = sqlx::QueryBuilder::<$Db>::new("");
                Self::push_filtered_count(&mut qb, table, kind, tenant, resolved);
                self.counter().inc();
                let count: i64 = qb.build_query_scalar().fetch_one(self.conn()).await?;
                Ok(count)
            }

            /// Appends the statement of a page of objects of `table` (as `alias`) that pass
            /// the filters: `SELECT {columns}`, ordered by id after the page's cursor.
            #[allow(clippy::too_many_arguments)]
            fn push_filtered_page(
                qb: &mut sqlx::QueryBuilder<$Db>,
                columns: &str,
                table: &str,
                alias: &str,
                kind: ObjectKind,
                tenant: TenantId,
                filters: &[ResolvedFilter],
                page: &sextant_domain::PageRequest,
            ) {
                qb.push(format!("SELECT {columns}"));
                let id = Self::push_filtered_source(qb, table, alias, true, kind, tenant, filters);
                Self::push_page_by(qb, &id, page);
            }

            /// The backend's plans of the two statements of a filtered list (its page, its
            /// count), one line per plan node: for the query-plan tests.
            #[cfg(test)]
            pub(crate) async fn list_plans(
                &mut self,
                kind: ObjectKind,
                tenant: TenantId,
                filters: &[sextant_domain::label::LabelFilter],
                page: &sextant_domain::PageRequest,
            ) -> Result<(Vec<String>, Vec<String>), StoreError> {
                self.search_plans(kind, tenant, filters, Vec::new(), page)
                    .await
            }

            /// [`Self::list_plans`] with filters on the objects' own columns.
            #[cfg(test)]
            pub(crate) async fn search_plans(
                &mut self,
                kind: ObjectKind,
                tenant: TenantId,
                filters: &[sextant_domain::label::LabelFilter],
                columns: Vec<ResolvedFilter>,
                page: &sextant_domain::PageRequest,
            ) -> Result<(Vec<String>, Vec<String>), StoreError> {
                let mut resolved = self.resolve_filters(tenant, kind, filters).await?;
                resolved.extend(columns);
                let (table, alias, columns) = match kind {
                    ObjectKind::Application => (
                        "applications",
                        "a",
                        $crate::tx::applications::APPLICATION_COLUMNS,
                    ),
                    ObjectKind::Runtime => ("runtimes", "r", $crate::tx::runtimes::RUNTIME_COLUMNS),
                };
                let mut qb = sqlx::QueryBuilder::<$Db>::new(Self::explain());
                Self::push_filtered_page(
                    &mut qb, columns, table, alias, kind, tenant, &resolved, page,
                );
                let rows = qb.build().fetch_all(self.conn()).await?;
                let page_plan = rows.iter().map(Self::plan_line).collect::<Result<_, _>>()?;
                let mut qb = sqlx::QueryBuilder::<$Db>::new(Self::explain());
                Self::push_filtered_count(&mut qb, table, kind, tenant, &resolved);
                let rows = qb.build().fetch_all(self.conn()).await?;
                let count_plan = rows.iter().map(Self::plan_line).collect::<Result<_, _>>()?;
                Ok((page_plan, count_plan))
            }

            /// Rewrites the value rows of the labels `keys` of an object from the labels as
            /// they are now (two statements; a deleted label's rows go by cascade).
            async fn refresh_label_values(
                &mut self,
                tenant: TenantId,
                object: ObjectRef,
                keys: &[&str],
            ) -> Result<(), StoreError> {
                let mut qb = sqlx::QueryBuilder::<$Db>::new("");
                Self::push_label_values_delete(&mut qb, tenant, object, keys);
                self.counter().inc();
                qb.build().execute(self.conn()).await?;

                let mut qb = sqlx::QueryBuilder::<$Db>::new("");
                Self::push_label_values_insert(&mut qb, tenant, object, keys);
                self.counter().inc();
                qb.build().execute(self.conn()).await?;
                Ok(())
            }

            /// The `DELETE` of the value rows of the labels `keys` of an object.
            fn push_label_values_delete(
                qb: &mut sqlx::QueryBuilder<$Db>,
                tenant: TenantId,
                object: ObjectRef,
                keys: &[&str],
            ) {
                let (_, column) = label_table(object.kind());
                let values = label_values_table(object.kind());
                qb.push(format!("DELETE FROM {values} WHERE tenant_id = "));
                qb.push_bind(tenant.0);
                qb.push(format!(" AND {column} = "));
                qb.push_bind(object.id());
                qb.push(" AND ");
                Self::push_text_in(qb, "key", keys);
            }

            /// The `INSERT` of the value rows of the labels `keys` of an object, from the
            /// labels as they are now.
            fn push_label_values_insert(
                qb: &mut sqlx::QueryBuilder<$Db>,
                tenant: TenantId,
                object: ObjectRef,
                keys: &[&str],
            ) {
                let (labels, column) = label_table(object.kind());
                let values = label_values_table(object.kind());
                qb.push(format!(
                    "INSERT INTO {values} {} AND l.tenant_id = ",
                    Self::label_values_source(labels, column)
                ));
                qb.push_bind(tenant.0);
                qb.push(format!(" AND l.{column} = "));
                qb.push_bind(object.id());
                qb.push(" AND ");
                Self::push_text_in(qb, "l.key", keys);
                qb.push(" ON CONFLICT DO NOTHING");
            }

            /// The backend's plans of the two statements of a label write that keep the
            /// value rows (their `DELETE`, their `INSERT`), and of the lookup a deleted
            /// label's cascade makes (the rows of one object's label): for the
            /// query-plan tests.
            #[cfg(test)]
            pub(crate) async fn refresh_plans(
                &mut self,
                tenant: TenantId,
                object: ObjectRef,
                keys: &[&str],
            ) -> Result<[Vec<String>; 3], StoreError> {
                let mut qb = sqlx::QueryBuilder::<$Db>::new(Self::explain());
                Self::push_label_values_delete(&mut qb, tenant, object, keys);
                let delete = self.plan(qb).await?;
                let mut qb = sqlx::QueryBuilder::<$Db>::new(Self::explain());
                Self::push_label_values_insert(&mut qb, tenant, object, keys);
                let insert = self.plan(qb).await?;
                let (_, column) = label_table(object.kind());
                let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                    "{}SELECT 1 FROM {} WHERE tenant_id = ",
                    Self::explain(),
                    label_values_table(object.kind())
                ));
                qb.push_bind(tenant.0);
                qb.push(format!(" AND {column} = "));
                qb.push_bind(object.id());
                qb.push(" AND key = ");
                qb.push_bind(keys.first().copied().unwrap_or_default());
                let cascade = self.plan(qb).await?;
                Ok([delete, insert, cascade])
            }

            /// The plan of an `EXPLAIN` statement, one line per node.
            #[cfg(test)]
            async fn plan(
                &mut self,
                mut qb: sqlx::QueryBuilder<$Db>,
            ) -> Result<Vec<String>, StoreError> {
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter().map(Self::plan_line).collect()
            }
        }

        #[async_trait::async_trait]
        impl $crate::tx::labels::LabelsTx for $Tx {
            async fn labels(
                &mut self,
                tenant: TenantId,
                kind: ObjectKind,
                ids: &[Uuid],
            ) -> Result<Vec<$crate::tx::labels::StoredLabel>, StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let (table, column) = label_table(kind);
                let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                    "SELECT {column}, key, value FROM {table} WHERE tenant_id = "
                ));
                qb.push_bind(tenant.0);
                qb.push(" AND ");
                Self::push_id_in(&mut qb, column, ids);
                qb.push(format!(" ORDER BY {column}, key"));
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter()
                    .map(|row| {
                        let value: Json<Value> = row.try_get(2)?;
                        Ok($crate::tx::labels::StoredLabel {
                            object: row.try_get(0)?,
                            key: row.try_get(1)?,
                            value: value.0,
                        })
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
                let (table, column) = label_table(object.kind());
                self.counter().inc();
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {table} (tenant_id, {column}, key, value) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (tenant_id, {column}, key) DO UPDATE SET value = excluded.value"
                )))
                .bind(tenant.0)
                .bind(object.id())
                .bind(key)
                .bind(Json(value))
                .execute(self.conn())
                .await?;
                self.refresh_label_values(tenant, object, &[key]).await
            }

            async fn set_labels(
                &mut self,
                tenant: TenantId,
                object: ObjectRef,
                labels: &[(&str, &Value)],
            ) -> Result<(), StoreError> {
                let (table, column) = label_table(object.kind());
                for chunk in $crate::tx::chunks::statement_chunks(labels, 4, |_| 0) {
                    let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                        "INSERT INTO {table} (tenant_id, {column}, key, value) "
                    ));
                    qb.push_values(chunk, |mut row, (key, value)| {
                        row.push_bind(tenant.0)
                            .push_bind(object.id())
                            .push_bind(*key)
                            .push_bind(Json(*value));
                    });
                    qb.push(format!(
                        " ON CONFLICT (tenant_id, {column}, key) DO UPDATE SET value = excluded.value"
                    ));
                    self.counter().inc();
                    qb.build().execute(self.conn()).await?;
                    let keys: Vec<&str> = chunk.iter().map(|(key, _)| *key).collect();
                    self.refresh_label_values(tenant, object, &keys).await?;
                }
                Ok(())
            }

            async fn label_of_locked_object(
                &mut self,
                tenant: TenantId,
                object: ObjectRef,
                key: &str,
            ) -> Result<$crate::tx::labels::LockedLabel, StoreError> {
                use $crate::tx::labels::LockedLabel;
                let objects = match object.kind() {
                    ObjectKind::Application => "applications",
                    ObjectKind::Runtime => "runtimes",
                };
                self.counter().inc();
                let exists: Option<Uuid> = sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT id FROM {objects} WHERE tenant_id = $1 AND id = $2{}",
                    Self::lock_waiting()
                )))
                .bind(tenant.0)
                .bind(object.id())
                .fetch_optional(self.conn())
                .await?;
                if exists.is_none() {
                    return Ok(LockedLabel::NoObject);
                }
                let (table, column) = label_table(object.kind());
                self.counter().inc();
                let value: Option<Json<Value>> = sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT value FROM {table} WHERE tenant_id = $1 AND {column} = $2 AND key = $3"
                )))
                .bind(tenant.0)
                .bind(object.id())
                .bind(key)
                .fetch_optional(self.conn())
                .await?;
                Ok(value.map_or(LockedLabel::NoLabel, |v| LockedLabel::Value(v.0)))
            }

            async fn delete_label(
                &mut self,
                tenant: TenantId,
                object: ObjectRef,
                key: &str,
            ) -> Result<Option<Value>, StoreError> {
                let (table, column) = label_table(object.kind());
                self.counter().inc();
                let value: Option<Json<Value>> = sqlx::query_scalar(AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE tenant_id = $1 AND {column} = $2 AND key = $3 \
                     RETURNING value"
                )))
                .bind(tenant.0)
                .bind(object.id())
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
                let (table, column) = label_table(object.kind());
                self.counter().inc();
                sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE tenant_id = $1 AND {column} = $2"
                )))
                .bind(tenant.0)
                .bind(object.id())
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn labels_with_key(
                &mut self,
                tenant: TenantId,
                key: &str,
            ) -> Result<Vec<$crate::tx::labels::KeyedLabel>, StoreError> {
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
                        out.push($crate::tx::labels::KeyedLabel {
                            object: ObjectRef::from_untyped(kind, id),
                            value: value.0,
                        });
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

            async fn array_string_counts(
                &mut self,
                tenant: TenantId,
                kind: ObjectKind,
                key: &str,
            ) -> Result<Vec<$crate::tx::labels::StringCount>, StoreError> {
                let table = label_values_table(kind);
                let text = Self::string_value_text("v");
                let is_string = Self::is_string_value("v");
                self.counter().inc();
                let rows = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {text}, COUNT(*) FROM {table} v \
                     WHERE v.tenant_id = $1 AND v.key = $2 AND {is_string} AND v.in_array = $3 \
                     GROUP BY v.value"
                )))
                .bind(tenant.0)
                .bind(key)
                .bind(true)
                .fetch_all(self.conn())
                .await?;
                let mut counts = Vec::with_capacity(rows.len());
                for row in &rows {
                    counts.push($crate::tx::labels::StringCount {
                        string: row.try_get(0)?,
                        objects: row.try_get(1)?,
                    });
                }
                // In byte order on both backends (PostgreSQL would order by its collation).
                counts.sort();
                Ok(counts)
            }
        }
    };
}

/// What the query-plan tests of both adapters seed and ask.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod plan_cases {
    use serde_json::json;
    use sextant_domain::label::LabelFilter;
    use sextant_domain::{
        Application, ApplicationId, ApplicationStatusCondition, ObjectKind, ObjectRef, PageRequest,
        Runtime, RuntimeId, RuntimeStatusCondition, TenantId,
    };
    use time::OffsetDateTime;

    use crate::tx::Tx;

    /// `n` applications and `n` runtimes of `tenant`, each with `env` (one of five values),
    /// `scenarios` (`DEFAULT` and one of ten), a number and a boolean: what the benchmark
    /// seeds, smaller.
    pub(crate) async fn seed(tx: &mut dyn Tx, tenant: TenantId, n: usize) {
        let at = OffsetDateTime::UNIX_EPOCH;
        for i in 0..n {
            let app = Application {
                id: ApplicationId::new_v4(),
                tenant,
                name: sextant_domain::Name::parse(format!("app-{i}")).unwrap(),
                provider_name: "acme".to_owned(),
                description: None,
                health_check_url: None,
                integration_system_id: None,
                status_condition: ApplicationStatusCondition::Initial,
                status_timestamp: at,
                created_at: at,
            };
            tx.insert_application(&app).await.unwrap();
            let runtime = Runtime {
                id: RuntimeId::new_v4(),
                tenant,
                name: sextant_domain::Name::parse(format!("rt-{i}")).unwrap(),
                description: None,
                status_condition: RuntimeStatusCondition::Initial,
                status_timestamp: at,
                status_message: None,
                created_at: at,
            };
            tx.insert_runtime(&runtime).await.unwrap();
            let env = json!(["prod", "dev", "test", "stage", "qa"][i % 5]);
            let scenarios = json!(["DEFAULT", format!("S{}", i % 10)]);
            let size = json!(i % 7);
            let flag = json!(i % 2 == 0);
            for object in [
                ObjectRef::Application(app.id),
                ObjectRef::Runtime(runtime.id),
            ] {
                tx.set_labels(
                    tenant,
                    object,
                    &[
                        ("env", &env),
                        ("scenarios", &scenarios),
                        ("size", &size),
                        ("flag", &flag),
                    ],
                )
                .await
                .unwrap();
            }
        }
    }

    /// Filters the label indexes answer, on both kinds.
    pub(crate) fn cases() -> Vec<(ObjectKind, Vec<LabelFilter>)> {
        let filters = [
            vec![LabelFilter::parse("env", Some(r#""prod""#)).unwrap()],
            vec![LabelFilter::parse("scenarios", Some(r#"$[*] ? (@ == "S3")"#)).unwrap()],
            vec![
                LabelFilter::parse("scenarios", Some(r#"$[*] ? (@ == "S3" || @ == "S4")"#))
                    .unwrap(),
            ],
            vec![LabelFilter::parse("env", None).unwrap()],
            vec![LabelFilter::parse("size", Some("3")).unwrap()],
            vec![LabelFilter::parse("flag", Some("true")).unwrap()],
            vec![
                LabelFilter::parse("env", Some(r#""prod""#)).unwrap(),
                LabelFilter::parse("scenarios", Some(r#"$[*] ? (@ == "DEFAULT")"#)).unwrap(),
            ],
        ];
        [ObjectKind::Application, ObjectKind::Runtime]
            .into_iter()
            .flat_map(|kind| filters.iter().map(move |f| (kind, f.clone())))
            .collect()
    }

    /// The first page of 100.
    pub(crate) fn first_page() -> PageRequest {
        PageRequest {
            first: 100,
            after: None,
        }
    }
}
