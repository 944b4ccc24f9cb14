//! Keyset pagination of a list of objects by id, shared by every list that pages.

macro_rules! page_helpers {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
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
        }
    };
}
