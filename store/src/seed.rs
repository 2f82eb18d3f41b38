//! The identities a fresh platform starts with: `guest` and `whisk.system`, with OpenWhisk's
//! well-known keys, so that clients configured for an OpenWhisk development server work unchanged.

use owl_entity::identity::{AuthKey, GUEST_KEY, NamespaceKey, Subject, WHISK_SYSTEM_KEY};
use owl_entity::name::EntityName;

use crate::{Result, Store, StoreError};

fn subject(name: &str, key: &str) -> Subject {
    let k = AuthKey::parse(key).expect("well-known keys are valid");
    Subject {
        subject: name.to_string(),
        namespaces: vec![NamespaceKey {
            name: EntityName::new(name).expect("valid"),
            uuid: k.uuid,
            key: k.key,
        }],
        blocked: false,
    }
}

/// Creates the built-in subjects that are missing; leaves existing ones (and their keys) alone.
pub async fn ensure_default_subjects(store: &dyn Store) -> Result<()> {
    for s in [
        subject("guest", GUEST_KEY),
        subject("whisk.system", WHISK_SYSTEM_KEY),
    ] {
        if store.get_subject(&s.subject).await?.is_none() {
            match store.put_subject(&s, None).await {
                // Another process seeded it first.
                Ok(_) | Err(StoreError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
