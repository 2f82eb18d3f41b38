//! Packages and package bindings.
//!
//! A binding is a package whose `binding` names another package: it has no actions of its own, lends
//! the bound package's actions, and layers its parameters over the bound package's.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::entity::{PutCommon, body_object, brief, field};
use crate::name::{EntityName, EntityPath, FullyQualifiedName};
use crate::params::Params;
use crate::semver::SemVer;
use crate::{EntityError, EpochMillis};

pub const BINDING_ANNOTATION: &str = "binding";
/// No package may be called this: it is how web action URLs name "no package".
pub const RESERVED_NAME: &str = "default";

/// The package a binding points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub namespace: EntityName,
    pub name: EntityName,
}

impl Binding {
    pub fn fqn(&self) -> FullyQualifiedName {
        FullyQualifiedName::new(
            EntityPath::from_name(self.namespace.clone()),
            self.name.clone(),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Package {
    pub namespace: EntityPath,
    pub name: EntityName,
    pub version: SemVer,
    pub publish: bool,
    #[serde(with = "binding_serde")]
    pub binding: Option<Binding>,
    pub parameters: Params,
    pub annotations: Params,
    pub updated: EpochMillis,
}

/// A package without a binding is written `"binding": {}`.
mod binding_serde {
    use super::*;

    pub fn serialize<S: serde::Serializer>(b: &Option<Binding>, s: S) -> Result<S::Ok, S::Error> {
        match b {
            Some(b) => b.serialize(s),
            None => json!({}).serialize(s),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Binding>, D::Error> {
        read(&Value::deserialize(d)?).map_err(serde::de::Error::custom)
    }

    pub fn read(v: &Value) -> Result<Option<Binding>, String> {
        match v {
            Value::Null => Ok(None),
            Value::Object(o) if o.is_empty() => Ok(None),
            Value::Object(_) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|_| "binding malformed".into()),
            _ => Err("binding malformed".into()),
        }
    }
}

impl Package {
    pub fn fqn(&self) -> FullyQualifiedName {
        FullyQualifiedName::new(self.namespace.clone(), self.name.clone())
    }

    /// The path that holds this package's actions: `ns/pkg`.
    pub fn actions_path(&self) -> EntityPath {
        self.namespace.child(&self.name)
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("packages serialize")
    }

    /// The item of a package list: the binding is `false` when there is none.
    pub fn summary(&self) -> Value {
        let mut o = brief(
            &self.namespace,
            &self.name,
            self.version,
            self.publish,
            &self.annotations,
            self.updated,
        );
        let binding = match &self.binding {
            Some(b) => json!(b),
            None => json!(false),
        };
        o.insert("binding".into(), binding);
        Value::Object(o)
    }
}

/// The body of `PUT .../packages/{name}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PackagePut {
    pub common: PutCommon,
    pub binding: Option<Binding>,
}

impl PackagePut {
    /// Reads a PUT body; a binding's `_` namespace resolves to `namespace`.
    pub fn from_json(body: &Value, namespace: &EntityName) -> Result<Self, EntityError> {
        let o = body_object(body)?;
        let common = PutCommon::from_json(o)?;
        let binding = match field(o, "binding") {
            None => None,
            Some(v) => binding_serde::read(v).map_err(EntityError::malformed)?,
        }
        .map(|b| Binding {
            namespace: if b.namespace.is_default() {
                namespace.clone()
            } else {
                b.namespace
            },
            name: b.name,
        });
        Ok(PackagePut { common, binding })
    }

    fn annotations(base: Params, binding: &Option<Binding>) -> Params {
        let mut a = base;
        a.remove(BINDING_ANNOTATION);
        if let Some(b) = binding {
            a.set(BINDING_ANNOTATION, json!(b));
        }
        a
    }

    pub fn create(&self, fqn: &FullyQualifiedName, now: EpochMillis) -> Package {
        Package {
            namespace: fqn.path.clone(),
            name: fqn.name.clone(),
            version: self.common.version.unwrap_or_default(),
            publish: self.common.publish.unwrap_or(false),
            binding: self.binding.clone(),
            parameters: self.common.parameters.clone().unwrap_or_default(),
            annotations: Self::annotations(
                self.common.annotations.clone().unwrap_or_default(),
                &self.binding,
            ),
            updated: now,
        }
    }

    /// Each given field replaces the old one (annotations too). A package cannot become a binding.
    pub fn update(&self, old: &Package, now: EpochMillis) -> Result<Package, EntityError> {
        if self.binding.is_some() && old.binding.is_none() {
            return Err(EntityError::Conflict(PACKAGE_CANNOT_BECOME_BINDING.into()));
        }
        let binding = self.binding.clone().or_else(|| old.binding.clone());
        let annotations = self
            .common
            .annotations
            .clone()
            .unwrap_or_else(|| old.annotations.clone());
        Ok(Package {
            namespace: old.namespace.clone(),
            name: old.name.clone(),
            version: self.common.next_version(old.version),
            publish: self.common.next_publish(old.publish),
            annotations: Self::annotations(annotations, &binding),
            binding,
            parameters: self
                .common
                .parameters
                .clone()
                .unwrap_or_else(|| old.parameters.clone()),
            updated: now,
        })
    }
}

pub const PACKAGE_CANNOT_BECOME_BINDING: &str =
    "Resource is a package and cannot be converted into a binding.";

#[cfg(test)]
mod tests {
    use super::*;

    fn guest() -> EntityName {
        EntityName::new("guest").unwrap()
    }

    fn fqn(s: &str) -> FullyQualifiedName {
        FullyQualifiedName::parse_path(s, &guest()).unwrap()
    }

    #[test]
    fn a_plain_package_has_an_empty_binding_object_and_false_in_lists() {
        let p = PackagePut::from_json(&json!({"publish": true}), &guest())
            .unwrap()
            .create(&fqn("guest/p"), 1);
        assert_eq!(p.to_json()["binding"], json!({}));
        assert_eq!(p.summary()["binding"], json!(false));
    }

    #[test]
    fn a_binding_resolves_the_default_namespace_and_gets_the_binding_annotation() {
        let put = PackagePut::from_json(
            &json!({"binding": {"namespace": "_", "name": "p"}, "annotations": [{"key": "binding", "value": "forged"}]}),
            &guest(),
        )
        .unwrap();
        let b = put.create(&fqn("guest/b"), 1);
        assert_eq!(
            b.to_json()["binding"],
            json!({"namespace": "guest", "name": "p"})
        );
        assert_eq!(
            serde_json::to_value(&b.annotations).unwrap(),
            json!([{"key": "binding", "value": {"namespace": "guest", "name": "p"}}])
        );
    }

    #[test]
    fn a_package_cannot_become_a_binding() {
        let p = PackagePut::default().create(&fqn("guest/p"), 1);
        let put = PackagePut::from_json(
            &json!({"binding": {"namespace": "x", "name": "y"}}),
            &guest(),
        )
        .unwrap();
        assert_eq!(
            put.update(&p, 2),
            Err(EntityError::Conflict(PACKAGE_CANNOT_BECOME_BINDING.into()))
        );
    }

    #[test]
    fn updates_replace_annotations_and_bump_the_version() {
        let p = PackagePut::from_json(
            &json!({"annotations": [{"key": "a", "value": 1}]}),
            &guest(),
        )
        .unwrap()
        .create(&fqn("guest/p"), 1);
        let u = PackagePut::from_json(
            &json!({"annotations": [{"key": "b", "value": 2}]}),
            &guest(),
        )
        .unwrap()
        .update(&p, 2)
        .unwrap();
        assert_eq!(
            serde_json::to_value(&u.annotations).unwrap(),
            json!([{"key": "b", "value": 2}])
        );
        assert_eq!(u.version.to_string(), "0.0.2");
    }
}
