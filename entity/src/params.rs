//! Parameter and annotation lists: `[{"key": "k", "value": <any JSON>}]`.
//!
//! Keys are unique (a later entry replaces an earlier one in place). A parameter may carry `"init": true`,
//! offered to the container at `/init` only, and `"encryption"` when the operator encrypts values.
//!
//! The list is kept in an insertion-ordered map, so that reading, merging and looking up a list
//! of n entries costs O(n), not O(n²): a body may carry tens of thousands of annotations. The map is
//! shared between copies until one of them changes it, so that copying an entity (out of the store's
//! cache, on every read) costs nothing however long its lists.

use std::sync::Arc;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::EntityError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub key: String,
    pub value: Value,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub init: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Value>,
}

/// Entries by key, in the order their keys first came; copies share them until one changes.
#[derive(Debug, Clone, Default)]
pub struct Params(Arc<IndexMap<String, Param>>);

/// Equal when the same entries come in the same order (as the lists they stand for).
impl PartialEq for Params {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && self.0.values().eq(other.0.values())
    }
}

impl Serialize for Params {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.values())
    }
}

/// A stored list, read entry by entry straight from its text (no intermediate JSON tree). `null`
/// reads as absent, as in [`Params::from_json`].
impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Entry {
            key: String,
            #[serde(default)]
            value: Value,
            #[serde(default)]
            init: Option<bool>,
            #[serde(default)]
            encryption: Option<Value>,
        }

        struct Entries;

        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = Params;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of {key, value} entries")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Params, A::Error> {
                let mut out = Params::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(e) = seq.next_element::<Entry>()? {
                    out.insert(Param {
                        key: e.key,
                        value: e.value,
                        init: e.init.unwrap_or(false),
                        encryption: e.encryption,
                    });
                }
                Ok(out)
            }
        }

        d.deserialize_seq(Entries)
    }
}

impl Params {
    pub fn new() -> Self {
        Params::default()
    }

    fn with_capacity(n: usize) -> Self {
        Params(Arc::new(IndexMap::with_capacity(n)))
    }

    /// The entries to change, copied first if another `Params` shares them.
    fn entries_mut(&mut self) -> &mut IndexMap<String, Param> {
        Arc::make_mut(&mut self.0)
    }

    /// Reads a list as a PUT body carries it, refusing anything that is not an array of `{key, value}`.
    pub fn from_json(v: &Value) -> Result<Self, EntityError> {
        let malformed = || EntityError::malformed("parameters malformed!");
        let Value::Array(items) = v else {
            return Err(malformed());
        };
        let mut out = Params::with_capacity(items.len());
        for item in items {
            let Value::Object(o) = item else {
                return Err(EntityError::malformed("invalid parameter"));
            };
            let Some(Value::String(key)) = o.get("key") else {
                return Err(malformed());
            };
            let value = o.get("value").cloned().unwrap_or(Value::Null);
            let init = match o.get("init") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(malformed()),
            };
            let encryption = o.get("encryption").filter(|e| !e.is_null()).cloned();
            out.insert(Param {
                key: key.clone(),
                value,
                init,
                encryption,
            });
        }
        Ok(out)
    }

    /// Builds a list from pairs, each a plain parameter.
    pub fn from_pairs<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Self {
        let mut p = Params::new();
        for (k, v) in pairs {
            p.set(k, v);
        }
        p
    }

    fn insert(&mut self, param: Param) {
        // An existing key keeps its place and takes the new entry.
        self.entries_mut().insert(param.key.clone(), param);
    }

    pub fn set(&mut self, key: impl Into<String>, value: Value) {
        self.insert(Param {
            key: key.into(),
            value,
            init: false,
            encryption: None,
        });
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).map(|p| &p.value)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// True when the key is present with the JSON value `true`.
    pub fn is_true(&self, key: &str) -> bool {
        self.get(key) == Some(&Value::Bool(true))
    }

    /// True when the key is present with a truthy value, as upstream's `Parameters.isTruthy`:
    /// every value but `false`, `0`, `""` and `null` (the string `"false"` is truthy).
    pub fn is_truthy(&self, key: &str) -> bool {
        match self.get(key) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_f64() != Some(0.0),
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        }
    }

    pub fn remove(&mut self, key: &str) {
        if self.contains(key) {
            self.entries_mut().shift_remove(key);
        }
    }

    /// Removes every entry whose key is among `keys`, the others keeping their order, in one pass.
    pub fn remove_all(&mut self, keys: &[String]) {
        if keys.iter().any(|k| self.contains(k)) {
            let keys: std::collections::HashSet<&str> = keys.iter().map(String::as_str).collect();
            self.entries_mut().retain(|k, _| !keys.contains(k.as_str()));
        }
    }

    /// `self` overridden by `other`, key by key (OpenWhisk's `++`).
    pub fn merged(&self, other: &Params) -> Params {
        let mut out = self.clone();
        out.merge(other.clone());
        out
    }

    /// [`Params::merged`] in place, taking `other`'s entries without copying them.
    pub fn merge(&mut self, other: Params) {
        if self.0.is_empty() {
            *self = other;
            return;
        }
        let entries = self.entries_mut();
        entries.reserve(other.0.len());
        match Arc::try_unwrap(other.0) {
            Ok(theirs) => theirs.into_values().for_each(|p| {
                entries.insert(p.key.clone(), p);
            }),
            Err(shared) => shared.values().for_each(|p| {
                entries.insert(p.key.clone(), p.clone());
            }),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Param> {
        self.0.values()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Size as the platform counts it: key bytes plus compact JSON value bytes, summed.
    pub fn size(&self) -> usize {
        self.0
            .values()
            .map(|p| {
                p.key.len()
                    + serde_json::to_string(&p.value)
                        .map(|s| s.len())
                        .unwrap_or(0)
            })
            .sum()
    }

    /// The parameters as a JSON object (`{"k": v}`), as an action receives them.
    pub fn to_object(&self) -> serde_json::Map<String, Value> {
        self.0
            .values()
            .map(|p| (p.key.clone(), p.value.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_later_key_replaces_an_earlier_one_in_place() {
        let p = Params::from_json(&json!([
            {"key": "a", "value": 1}, {"key": "b", "value": 2}, {"key": "a", "value": 3}
        ]))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!([{"key":"a","value":3},{"key":"b","value":2}])
        );
    }

    #[test]
    fn init_is_kept_and_written_only_when_true() {
        let p = Params::from_json(&json!([{"key": "a", "value": 1, "init": true}, {"key": "b", "value": null, "init": false}]))
            .unwrap();
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!([{"key":"a","value":1,"init":true},{"key":"b","value":null}])
        );
    }

    #[test]
    fn size_counts_keys_and_compact_values() {
        let p = Params::from_pairs([("ab", json!("xy")), ("c", json!({"d": 1}))]);
        assert_eq!(p.size(), 2 + 4 + 1 + 7);
    }

    #[test]
    fn malformed_lists_are_refused() {
        for bad in [
            json!({}),
            json!([1]),
            json!([{"value": 1}]),
            json!([{"key": 1, "value": 1}]),
        ] {
            assert!(Params::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn merging_overrides_by_key() {
        let a = Params::from_pairs([("x", json!(1)), ("y", json!(2))]);
        let b = Params::from_pairs([("y", json!(3)), ("z", json!(4))]);
        assert_eq!(
            a.merged(&b).to_object(),
            json!({"x":1,"y":3,"z":4}).as_object().unwrap().clone()
        );
    }

    #[test]
    fn merging_in_place_keeps_the_first_order_and_leaves_a_shared_copy_alone() {
        let a = Params::from_pairs([("x", json!(1)), ("y", json!(2))]);
        let mut m = a.clone();
        m.merge(Params::from_pairs([("z", json!(4)), ("x", json!(5))]));
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!([{"key":"x","value":5},{"key":"y","value":2},{"key":"z","value":4}])
        );
        assert_eq!(
            a.to_object(),
            json!({"x":1,"y":2}).as_object().unwrap().clone()
        );
    }

    #[test]
    fn merging_into_an_empty_list_shares_the_other() {
        let b = Params::from_pairs([("y", json!(3))]);
        let mut m = Params::new();
        m.merge(b.clone());
        assert!(Arc::ptr_eq(&m.0, &b.0));
        m.set("z", json!(1));
        assert_eq!(
            b.len(),
            1,
            "a change to the merged list leaves its source alone"
        );
    }

    #[test]
    fn removing_many_keys_keeps_the_rest_in_order_and_ignores_absent_ones() {
        let mut p = Params::from_pairs((0..6).map(|i| (format!("k{i}"), json!(i))));
        let untouched = p.clone();
        p.remove_all(&["k1".into(), "k4".into(), "nope".into()]);
        let keys: Vec<_> = p.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["k0", "k2", "k3", "k5"]);
        assert_eq!(untouched.len(), 6);
        let mut q = untouched.clone();
        q.remove_all(&["absent".into()]);
        assert!(
            Arc::ptr_eq(&q.0, &untouched.0),
            "nothing removed, nothing copied"
        );
    }

    #[test]
    fn a_stored_list_reads_back_as_it_was_written() {
        let p = Params::from_json(&json!([
            {"key": "a", "value": 1, "init": true},
            {"key": "b", "value": {"n": [1, 2.5, -0]}},
            {"key": "c", "value": "s", "encryption": "aes-256"},
            {"key": "d"}
        ]))
        .unwrap();
        let text = serde_json::to_string(&p).unwrap();
        let back: Params = serde_json::from_str(&text).unwrap();
        assert_eq!(back, p);
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
        for bad in [
            "{}",
            "[1]",
            r#"[{"value": 1}]"#,
            r#"[{"key": 1}]"#,
            r#"[{"key": "a", "init": 3}]"#,
        ] {
            assert!(serde_json::from_str::<Params>(bad).is_err(), "{bad}");
        }
    }
}
