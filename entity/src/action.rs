//! Actions: the stored document, the PUT body, and how a PUT creates or updates an action.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::entity::{PutCommon, body_object, brief, field};
use crate::exec::{Exec, Manifest};
use crate::limits::{ActionLimits, ActionLimitsPut, LimitBounds};
use crate::name::{EntityName, EntityPath, FullyQualifiedName};
use crate::params::Params;
use crate::semver::SemVer;
use crate::{EntityError, EpochMillis};

/// The annotation that says which kind an action is (the CLI's list shows it).
pub const EXEC_ANNOTATION: &str = "exec";
/// Whether the container gets the caller's API key; false on every newly created action.
pub const PROVIDE_API_KEY_ANNOTATION: &str = "provide-api-key";
/// Feeds are actions annotated with `feed`.
pub const FEED_ANNOTATION: &str = "feed";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub namespace: EntityPath,
    pub name: EntityName,
    pub version: SemVer,
    pub publish: bool,
    #[serde(with = "exec_serde")]
    pub exec: Exec,
    pub parameters: Params,
    pub limits: ActionLimits,
    pub annotations: Params,
    pub updated: EpochMillis,
}

mod exec_serde {
    use super::*;

    pub fn serialize<S: serde::Serializer>(e: &Exec, s: S) -> Result<S::Ok, S::Error> {
        e.to_json(true).serialize(s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Exec, D::Error> {
        Exec::from_stored(&Value::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl Action {
    pub fn fqn(&self) -> FullyQualifiedName {
        FullyQualifiedName::new(self.namespace.clone(), self.name.clone())
    }

    /// The JSON a GET answers; `with_code: false` is `?code=false`.
    pub fn to_json(&self, with_code: bool) -> Value {
        let mut v = serde_json::to_value(self).expect("actions serialize");
        if !with_code {
            v["exec"] = self.exec.to_json(false);
        }
        v
    }

    /// The item of an action list.
    pub fn summary(&self) -> Value {
        let mut o = brief(
            &self.namespace,
            &self.name,
            self.version,
            self.publish,
            &self.annotations,
            self.updated,
        );
        let binary = matches!(
            self.exec,
            Exec::Code { binary: true, .. } | Exec::Blackbox { binary: true, .. }
        );
        o.insert("limits".into(), json!(self.limits));
        o.insert("exec".into(), json!({ "binary": binary }));
        Value::Object(o)
    }

    pub fn is_feed(&self) -> bool {
        self.annotations.contains(FEED_ANNOTATION)
    }
}

/// The body of `PUT .../actions/{name}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActionPut {
    pub exec: Option<Exec>,
    pub common: PutCommon,
    pub limits: Option<ActionLimitsPut>,
    pub del_annotations: Option<Vec<String>>,
}

impl ActionPut {
    /// Reads a PUT body; `_` in sequence components resolves to `namespace`.
    pub fn from_json(
        body: &Value,
        manifest: &Manifest,
        namespace: &EntityName,
    ) -> Result<Self, EntityError> {
        let o = body_object(body)?;
        let common = PutCommon::from_json(o)?;
        let exec = field(o, "exec")
            .map(|e| Exec::from_put(e, manifest, namespace))
            .transpose()?;
        let limits = field(o, "limits")
            .map(ActionLimitsPut::from_json)
            .transpose()?;
        let del_annotations = match field(o, "delAnnotations") {
            None => None,
            Some(Value::Array(a)) => Some(
                a.iter()
                    .map(|k| k.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        EntityError::malformed("'delAnnotations' must be an array of strings")
                    })?,
            ),
            Some(_) => {
                return Err(EntityError::malformed(
                    "'delAnnotations' must be an array of strings",
                ));
            }
        };
        Ok(ActionPut {
            exec,
            common,
            limits,
            del_annotations,
        })
    }

    /// 413 checks, before anything else: exec, then parameters, then annotations.
    pub fn check_sizes(
        &self,
        exec_limit: usize,
        parameter_limit: usize,
    ) -> Result<(), EntityError> {
        if let Some(e) = &self.exec
            && e.size() > exec_limit
        {
            return Err(EntityError::too_large("exec", e.size(), exec_limit));
        }
        self.common.check_sizes(parameter_limit)
    }

    fn deprecated_check(exec: &Exec, manifest: &Manifest) -> Result<(), EntityError> {
        if manifest.is_deprecated(exec.kind()) {
            return Err(EntityError::bad_request(runtime_deprecated(exec.kind())));
        }
        Ok(())
    }

    /// A new action from this body.
    pub fn create(
        self,
        fqn: &FullyQualifiedName,
        manifest: &Manifest,
        bounds: &LimitBounds,
        now: EpochMillis,
    ) -> Result<Action, EntityError> {
        let exec = self
            .exec
            .ok_or_else(|| EntityError::bad_request("exec undefined"))?;
        Self::deprecated_check(&exec, manifest)?;
        let limits = match &self.limits {
            Some(l) => ActionLimits::defaults(bounds).with(l),
            None => ActionLimits::defaults(bounds),
        };
        let parameters = match &exec {
            Exec::Sequence { components } => sequence_parameters(components),
            _ => self.common.parameters.unwrap_or_default(),
        };
        let mut annotations = self.common.annotations.unwrap_or_default();
        if !annotations.contains(PROVIDE_API_KEY_ANNOTATION) {
            annotations.set(PROVIDE_API_KEY_ANNOTATION, Value::Bool(false));
        }
        annotations.set(EXEC_ANNOTATION, Value::String(exec.kind().into()));
        Ok(Action {
            namespace: fqn.path.clone(),
            name: fqn.name.clone(),
            version: self.common.version.unwrap_or_default(),
            publish: self.common.publish.unwrap_or(false),
            exec,
            parameters,
            limits,
            annotations,
            updated: now,
        })
    }

    /// The action `old` updated by this body: exec and parameters replaced when given, limits merged
    /// field by field, annotations merged (less `delAnnotations`), version bumped unless given.
    /// Both are consumed: their lists move into the new action, none is copied.
    pub fn update(
        self,
        old: Action,
        manifest: &Manifest,
        now: EpochMillis,
    ) -> Result<Action, EntityError> {
        match &self.exec {
            Some(e) => Self::deprecated_check(e, manifest)?,
            None => Self::deprecated_check(&old.exec, manifest)?,
        }
        let limits = match &self.limits {
            Some(l) => old.limits.with(l),
            None => old.limits,
        };
        let version = self.common.next_version(old.version);
        let publish = self.common.next_publish(old.publish);
        // Sequence parameters are the component list; they never leak into a non-sequence action.
        let parameters = match (&self.exec, &old.exec) {
            (Some(Exec::Sequence { components }), _) => sequence_parameters(components),
            (Some(_), Exec::Sequence { .. }) => self.common.parameters.unwrap_or_default(),
            (None, Exec::Sequence { .. }) => old.parameters,
            _ => self.common.parameters.unwrap_or(old.parameters),
        };
        let exec = self.exec.unwrap_or(old.exec);
        let mut annotations = old.annotations;
        if let Some(keys) = &self.del_annotations {
            annotations.remove_all(keys);
        }
        if let Some(a) = self.common.annotations {
            annotations.merge(a);
        }
        annotations.set(EXEC_ANNOTATION, Value::String(exec.kind().into()));
        Ok(Action {
            namespace: old.namespace,
            name: old.name,
            version,
            publish,
            exec,
            parameters,
            limits,
            annotations,
            updated: now,
        })
    }
}

fn sequence_parameters(components: &[FullyQualifiedName]) -> Params {
    let list = components
        .iter()
        .map(|c| Value::String(c.with_leading_slash()))
        .collect();
    Params::from_pairs([("_actions", Value::Array(list))])
}

pub fn runtime_deprecated(kind: &str) -> String {
    format!(
        "The '{kind}' runtime is no longer supported. You may read and delete but not update or invoke this action."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fqn() -> FullyQualifiedName {
        FullyQualifiedName::parse_path("guest/hello", &EntityName::new("guest").unwrap()).unwrap()
    }

    fn put(v: Value) -> ActionPut {
        ActionPut::from_json(&v, &Manifest::builtin(), &EntityName::new("guest").unwrap()).unwrap()
    }

    fn created() -> Action {
        put(json!({
            "exec": {"kind": "nodejs:default", "code": "function main(p){return p}"},
            "parameters": [{"key": "a", "value": 1}],
            "annotations": [{"key": "x", "value": "y"}],
            "limits": {"memory": 128}
        }))
        .create(&fqn(), &Manifest::builtin(), &LimitBounds::default(), 5)
        .unwrap()
    }

    #[test]
    fn creating_an_action_fills_defaults_and_system_annotations() {
        let a = created();
        assert_eq!(
            a.to_json(true),
            json!({
                "namespace": "guest", "name": "hello", "version": "0.0.1", "publish": false,
                "exec": {"kind": "nodejs:20", "code": "function main(p){return p}", "binary": false},
                "parameters": [{"key": "a", "value": 1}],
                "limits": {"timeout": 60000, "memory": 128, "logs": 10, "concurrency": 1},
                "annotations": [{"key": "x", "value": "y"}, {"key": "provide-api-key", "value": false}, {"key": "exec", "value": "nodejs:20"}],
                "updated": 5
            })
        );
    }

    #[test]
    fn creating_without_exec_is_refused() {
        let err = put(json!({})).create(&fqn(), &Manifest::builtin(), &LimitBounds::default(), 0);
        assert_eq!(err, Err(EntityError::bad_request("exec undefined")));
    }

    #[test]
    fn updating_merges_annotations_but_replaces_parameters() {
        let old = created();
        let new = put(json!({
            "parameters": [{"key": "b", "value": 2}],
            "annotations": [{"key": "z", "value": true}],
            "delAnnotations": ["x"],
            "limits": {"timeout": 1000}
        }))
        .update(old, &Manifest::builtin(), 9)
        .unwrap();
        assert_eq!(
            serde_json::to_value(&new.parameters).unwrap(),
            json!([{"key": "b", "value": 2}])
        );
        assert_eq!(
            serde_json::to_value(&new.annotations).unwrap(),
            json!([{"key": "provide-api-key", "value": false}, {"key": "exec", "value": "nodejs:20"}, {"key": "z", "value": true}])
        );
        assert_eq!((new.limits.timeout, new.limits.memory), (1000, 128));
        assert_eq!(new.version.to_string(), "0.0.2");
        assert_eq!(new.updated, 9);
    }

    #[test]
    fn updates_never_add_the_api_key_annotation() {
        let mut old = created();
        old.annotations.remove(PROVIDE_API_KEY_ANNOTATION);
        let new = put(json!({})).update(old, &Manifest::builtin(), 1).unwrap();
        assert!(!new.annotations.contains(PROVIDE_API_KEY_ANNOTATION));
    }

    #[test]
    fn sequences_keep_their_components_as_the_only_parameter() {
        let seq = put(json!({"exec": {"kind": "sequence", "components": ["/_/a", "/_/b"]}, "parameters": [{"key": "p", "value": 1}]}))
            .create(&fqn(), &Manifest::builtin(), &LimitBounds::default(), 0)
            .unwrap();
        assert_eq!(
            serde_json::to_value(&seq.parameters).unwrap(),
            json!([{"key": "_actions", "value": ["/guest/a", "/guest/b"]}])
        );
        let plain = put(json!({"exec": {"kind": "nodejs:20", "code": "x"}}))
            .update(seq, &Manifest::builtin(), 0)
            .unwrap();
        assert!(plain.parameters.is_empty());
    }

    #[test]
    fn a_stored_action_reads_back_unchanged() {
        let a = created();
        let back: Action = serde_json::from_value(serde_json::to_value(&a).unwrap()).unwrap();
        assert_eq!(back, a);
    }
}
