//! Who is calling: subjects, their namespaces and API keys, and the identity a request acts as.
//!
//! An API key is `UUID:KEY`: the UUID names a namespace, the KEY is 64 alphanumeric characters. A
//! subject owns one or more namespaces, each with its own key, and may be blocked.

use serde::{Deserialize, Serialize};

use crate::name::EntityName;

pub const KEY_LENGTH: usize = 64;

/// OpenWhisk's well-known guest key, preloaded by `owl standalone`.
pub const GUEST_KEY: &str = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP";
/// OpenWhisk's well-known key of `whisk.system`, the namespace of the catalog packages.
pub const WHISK_SYSTEM_KEY: &str = "789c46b1-71f6-4ed5-8c54-816aa4f8c502:abczO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP";

/// `uuid:key`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AuthKey {
    pub uuid: String,
    pub key: String,
}

impl AuthKey {
    /// Reads `uuid:key`; the key must be exactly 64 characters, as upstream requires.
    pub fn parse(s: &str) -> Option<AuthKey> {
        let (uuid, key) = s.split_once(':')?;
        AuthKey::from_parts(uuid, key)
    }

    pub fn from_parts(uuid: &str, key: &str) -> Option<AuthKey> {
        (!uuid.is_empty() && key.chars().count() == KEY_LENGTH).then(|| AuthKey {
            uuid: uuid.to_string(),
            key: key.to_string(),
        })
    }

    /// A fresh key: a v4 UUID and 64 random alphanumeric characters.
    pub fn generate() -> AuthKey {
        use rand::Rng;
        use rand::distr::Alphanumeric;
        let key: String = rand::rng()
            .sample_iter(&Alphanumeric)
            .take(KEY_LENGTH)
            .map(char::from)
            .collect();
        AuthKey {
            uuid: uuid::Uuid::new_v4().to_string(),
            key,
        }
    }

    pub fn compact(&self) -> String {
        format!("{}:{}", self.uuid, self.key)
    }
}

/// One namespace of a subject, with the key that opens it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceKey {
    pub name: EntityName,
    pub uuid: String,
    pub key: String,
}

impl NamespaceKey {
    pub fn auth_key(&self) -> AuthKey {
        AuthKey {
            uuid: self.uuid.clone(),
            key: self.key.clone(),
        }
    }
}

/// A subject as the subjects database keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub subject: String,
    pub namespaces: Vec<NamespaceKey>,
    #[serde(default)]
    pub blocked: bool,
}

/// Per-namespace overrides of the system limits (`wskadmin limits set`); absent fields use the
/// system's values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocations_per_minute: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent_invocations: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fires_per_minute: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_kinds: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_activations: Option<bool>,
}

/// The identity a request acts as, once its key was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    pub namespace: EntityName,
    pub authkey: AuthKey,
    pub limits: NamespaceLimits,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_well_known_keys_parse() {
        for k in [GUEST_KEY, WHISK_SYSTEM_KEY] {
            let a = AuthKey::parse(k).unwrap();
            assert_eq!(a.compact(), k);
        }
    }

    #[test]
    fn keys_of_the_wrong_length_are_refused() {
        assert!(AuthKey::parse("abc:def").is_none());
        assert!(AuthKey::parse(&format!("u:{}", "k".repeat(65))).is_none());
        assert!(AuthKey::parse(&format!(":{}", "k".repeat(64))).is_none());
        assert!(AuthKey::parse("no-colon").is_none());
    }

    #[test]
    fn generated_keys_have_the_openwhisk_format() {
        let k = AuthKey::generate();
        assert_eq!(k.key.len(), 64);
        assert!(k.key.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(uuid::Uuid::parse_str(&k.uuid).is_ok());
        assert_eq!(AuthKey::parse(&k.compact()), Some(k));
    }
}
