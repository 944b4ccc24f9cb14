//! Set-wise writes split into statements: under the bind parameter limit of both backends
//! and a bound on the text one statement carries.

/// The most bind parameters one statement of a set-wise write takes: SQLite's limit (32,766
/// since 3.32; PostgreSQL's is 65,535).
pub const MAX_BIND_PARAMETERS: usize = 32_766;

/// The most text (spec or document bytes) one statement of a set-wise write carries, unless a
/// single row is larger: a registration of many large specs is written in a few statements,
/// never in one message of gigabytes (PostgreSQL refuses messages over 1 GB).
pub const MAX_STATEMENT_BYTES: usize = 64 * 1024 * 1024;

/// Splits `items` into consecutive runs for one statement each: at most
/// [`MAX_BIND_PARAMETERS`] parameters (`binds` per row) and [`MAX_STATEMENT_BYTES`] of text
/// (`bytes` of a row), a row larger than that alone.
pub(crate) fn statement_chunks<T>(
    items: &[T],
    binds: usize,
    bytes: impl Fn(&T) -> usize,
) -> Vec<&[T]> {
    let max_rows = (MAX_BIND_PARAMETERS / binds.max(1)).max(1);
    let mut chunks = Vec::new();
    let (mut start, mut size) = (0, 0usize);
    for (i, item) in items.iter().enumerate() {
        let len = bytes(item);
        if i > start && (i - start >= max_rows || size.saturating_add(len) > MAX_STATEMENT_BYTES) {
            chunks.push(&items[start..i]);
            start = i;
            size = 0;
        }
        size = size.saturating_add(len);
    }
    if start < items.len() {
        chunks.push(&items[start..]);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::{MAX_BIND_PARAMETERS, MAX_STATEMENT_BYTES, statement_chunks};

    fn lengths<T>(chunks: &[&[T]]) -> Vec<usize> {
        chunks.iter().map(|c| c.len()).collect()
    }

    #[test]
    fn chunks_stay_under_the_bind_limit() {
        let rows = vec![0u8; 2 * (MAX_BIND_PARAMETERS / 15) + 1];
        let chunks = statement_chunks(&rows, 15, |_| 0);
        let most = MAX_BIND_PARAMETERS / 15;
        assert_eq!(lengths(&chunks), vec![most, most, 1]);
        assert!(statement_chunks(&[] as &[u8], 15, |_| 0).is_empty());
        assert_eq!(lengths(&statement_chunks(&[1u8, 2, 3], 3, |_| 0)), vec![3]);
    }

    #[test]
    fn chunks_stay_under_the_byte_limit_but_a_larger_row_goes_alone() {
        let quarter = MAX_STATEMENT_BYTES / 4;
        let sizes = [
            quarter,
            quarter,
            quarter,
            quarter,
            1,
            MAX_STATEMENT_BYTES + 1,
            quarter,
        ];
        let chunks = statement_chunks(&sizes, 3, |size| *size);
        assert_eq!(lengths(&chunks), vec![4, 1, 1, 1]);
        for chunk in &chunks {
            let bytes: usize = chunk.iter().sum();
            assert!(chunk.len() == 1 || bytes <= MAX_STATEMENT_BYTES);
        }
    }
}
