//! Blanks the fields of a response that change from run to run, so whole bodies compare.

use serde_json::Value;

/// Fields whose values are volatile wherever they appear.
pub const VOLATILE: [&str; 5] = ["updated", "activationId", "start", "end", "duration"];

/// `v` with every volatile field's value replaced by `"<volatile>"` (presence is still compared), and
/// the transaction id (`code`) of an error envelope likewise.
pub fn blank(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let volatile =
                        VOLATILE.contains(&k.as_str()) || (k == "code" && o.contains_key("error"));
                    let v = if volatile {
                        Value::String("<volatile>".into())
                    } else {
                        blank(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(blank).collect()),
        other => other.clone(),
    }
}
