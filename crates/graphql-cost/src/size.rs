//! The approximate size of a value serialized as JSON, without serializing it.

use async_graphql::Value;

/// Bytes of `value` as JSON, give or take escapes and number formatting. Iterative, so a
/// deeply nested JSON scalar cannot exhaust the stack.
pub(crate) fn json_size(value: &Value) -> usize {
    let mut size = 0usize;
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        let own = match value {
            Value::Null => 4,
            Value::Boolean(_) => 5,
            // At most 20 digits and a sign, or a float's shortest form.
            Value::Number(_) => 21,
            Value::String(s) => s.len().saturating_add(2),
            Value::Enum(name) => name.len().saturating_add(2),
            // Base64.
            Value::Binary(bytes) => (bytes.len() / 3 + 1).saturating_mul(4).saturating_add(2),
            Value::List(items) => {
                pending.extend(items.iter());
                items.len().saturating_add(2)
            }
            Value::Object(map) => {
                let mut keys = map.len().saturating_add(2);
                for (key, value) in map {
                    keys = keys.saturating_add(key.len().saturating_add(3));
                    pending.push(value);
                }
                keys
            }
        };
        size = size.saturating_add(own);
    }
    size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_close_to_the_serialized_length() {
        let value = async_graphql::value!({
            "name": "app",
            "labels": {"scenarios": ["DEFAULT", "X"], "n": 12345, "ok": true, "none": null},
            "list": [[1, 2], [3], []],
            "text": "a longer string with some words in it",
        });
        let serialized = serde_json::to_string(&value).unwrap().len();
        let approximated = json_size(&value);
        assert!(approximated >= serialized, "{approximated} < {serialized}");
        assert!(
            approximated <= serialized * 2,
            "{approximated} vs {serialized}"
        );
    }
}
