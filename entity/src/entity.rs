//! The four entity kinds behind one enum, as the store keeps them: one id space per namespace, each
//! document tagged with its `entityType`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::action::Action;
use crate::name::{EntityName, EntityPath, FullyQualifiedName};
use crate::package::Package;
use crate::params::Params;
use crate::rule::Rule;
use crate::semver::SemVer;
use crate::trigger::Trigger;
use crate::{EntityError, EpochMillis};

/// The REST collections that hold entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Collection {
    Actions,
    Packages,
    Triggers,
    Rules,
}

impl Collection {
    pub fn as_str(self) -> &'static str {
        match self {
            Collection::Actions => "actions",
            Collection::Packages => "packages",
            Collection::Triggers => "triggers",
            Collection::Rules => "rules",
        }
    }

    pub fn entity_type(self) -> &'static str {
        match self {
            Collection::Actions => "action",
            Collection::Packages => "package",
            Collection::Triggers => "trigger",
            Collection::Rules => "rule",
        }
    }

    pub fn from_entity_type(s: &str) -> Option<Collection> {
        [
            Collection::Actions,
            Collection::Packages,
            Collection::Triggers,
            Collection::Rules,
        ]
        .into_iter()
        .find(|c| c.entity_type() == s)
    }
}

/// Any entity.
#[derive(Debug, Clone, PartialEq)]
pub enum Entity {
    Action(Action),
    Package(Package),
    Trigger(Trigger),
    Rule(Rule),
}

impl Entity {
    pub fn collection(&self) -> Collection {
        match self {
            Entity::Action(_) => Collection::Actions,
            Entity::Package(_) => Collection::Packages,
            Entity::Trigger(_) => Collection::Triggers,
            Entity::Rule(_) => Collection::Rules,
        }
    }

    pub fn fqn(&self) -> FullyQualifiedName {
        let (path, name) = match self {
            Entity::Action(e) => (&e.namespace, &e.name),
            Entity::Package(e) => (&e.namespace, &e.name),
            Entity::Trigger(e) => (&e.namespace, &e.name),
            Entity::Rule(e) => (&e.namespace, &e.name),
        };
        FullyQualifiedName::new(path.clone(), name.clone())
    }

    pub fn updated(&self) -> EpochMillis {
        match self {
            Entity::Action(e) => e.updated,
            Entity::Package(e) => e.updated,
            Entity::Trigger(e) => e.updated,
            Entity::Rule(e) => e.updated,
        }
    }

    pub fn version(&self) -> SemVer {
        match self {
            Entity::Action(e) => e.version,
            Entity::Package(e) => e.version,
            Entity::Trigger(e) => e.version,
            Entity::Rule(e) => e.version,
        }
    }

    /// The two fields every write stamps anew: `version` and `updated`.
    pub fn stamps_mut(&mut self) -> (&mut SemVer, &mut EpochMillis) {
        match self {
            Entity::Action(e) => (&mut e.version, &mut e.updated),
            Entity::Package(e) => (&mut e.version, &mut e.updated),
            Entity::Trigger(e) => (&mut e.version, &mut e.updated),
            Entity::Rule(e) => (&mut e.version, &mut e.updated),
        }
    }

    /// The document the store keeps: the entity's JSON with its `entityType`.
    pub fn to_document(&self) -> Value {
        let mut v = match self {
            Entity::Action(e) => serde_json::to_value(e),
            Entity::Package(e) => serde_json::to_value(e),
            Entity::Trigger(e) => serde_json::to_value(e),
            Entity::Rule(e) => serde_json::to_value(e),
        }
        .expect("entities serialize");
        v["entityType"] = Value::String(self.collection().entity_type().into());
        v
    }

    /// The text of [`Entity::to_document`], written straight from the entity (no intermediate JSON
    /// tree: an entity may carry tens of thousands of parameters).
    pub fn to_document_text(&self) -> String {
        #[derive(Serialize)]
        struct Document<'a, T> {
            #[serde(flatten)]
            entity: &'a T,
            #[serde(rename = "entityType")]
            entity_type: &'static str,
        }
        fn text<T: Serialize>(entity: &T, c: Collection) -> String {
            let doc = Document {
                entity,
                entity_type: c.entity_type(),
            };
            serde_json::to_string(&doc).expect("entities serialize")
        }
        let c = self.collection();
        match self {
            Entity::Action(e) => text(e, c),
            Entity::Package(e) => text(e, c),
            Entity::Trigger(e) => text(e, c),
            Entity::Rule(e) => text(e, c),
        }
    }

    /// An entity from the text of its stored document. Read from the text (not through a `Value`),
    /// so every number keeps the text it was written with: a `Value` read into a struct would turn
    /// `-0` into `0` and `0.0000000000488` into `4.88e-11`.
    pub fn from_document_text(text: &str) -> Result<Entity, String> {
        #[derive(serde::Deserialize)]
        struct Kind<'a> {
            #[serde(rename = "entityType", borrow)]
            entity_type: std::borrow::Cow<'a, str>,
        }
        let e = |e: serde_json::Error| e.to_string();
        let kind: Kind = serde_json::from_str(text).map_err(e)?;
        let c = Collection::from_entity_type(&kind.entity_type)
            .ok_or_else(|| format!("unknown entityType {}", kind.entity_type))?;
        Ok(match c {
            Collection::Actions => Entity::Action(serde_json::from_str(text).map_err(e)?),
            Collection::Packages => Entity::Package(serde_json::from_str(text).map_err(e)?),
            Collection::Triggers => Entity::Trigger(serde_json::from_str(text).map_err(e)?),
            Collection::Rules => Entity::Rule(serde_json::from_str(text).map_err(e)?),
        })
    }

    /// An entity from its stored document as a JSON value (numbers kept as written, see
    /// [`crate::from_value_exact`]).
    pub fn from_document(v: &Value) -> Result<Entity, String> {
        Self::from_document_text(&v.to_string())
    }
}

/// The fields every PUT body may carry, read leniently as upstream reads them: unknown fields are
/// ignored, and `null` means "not given".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PutCommon {
    pub version: Option<SemVer>,
    pub publish: Option<bool>,
    pub annotations: Option<Params>,
    pub parameters: Option<Params>,
}

/// A field of a body object, with `null` read as absent.
pub fn field<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.get(key).filter(|v| !v.is_null())
}

impl PutCommon {
    pub fn from_json(o: &Map<String, Value>) -> Result<Self, EntityError> {
        let version = match field(o, "version") {
            None => None,
            Some(Value::String(s)) => Some(
                SemVer::parse(s)
                    .ok_or_else(|| EntityError::malformed("semantic version malformed"))?,
            ),
            Some(_) => return Err(EntityError::malformed("semantic version malformed")),
        };
        let publish = match field(o, "publish") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(EntityError::malformed("Expected Boolean as JsBoolean")),
        };
        let annotations = field(o, "annotations").map(Params::from_json).transpose()?;
        let parameters = field(o, "parameters").map(Params::from_json).transpose()?;
        Ok(PutCommon {
            version,
            publish,
            annotations,
            parameters,
        })
    }

    /// The version after an update: the one given, else the old one with its patch bumped.
    pub fn next_version(&self, old: SemVer) -> SemVer {
        self.version.unwrap_or_else(|| old.up_patch())
    }

    /// `publish` after an update: the one given, else the old one.
    pub fn next_publish(&self, old: bool) -> bool {
        self.publish.unwrap_or(old)
    }

    /// 413 when parameters or annotations are over the limit, checked before anything else.
    pub fn check_sizes(&self, parameter_limit: usize) -> Result<(), EntityError> {
        if let Some(p) = &self.parameters
            && p.size() > parameter_limit
        {
            return Err(EntityError::too_large(
                "parameters",
                p.size(),
                parameter_limit,
            ));
        }
        if let Some(a) = &self.annotations
            && a.size() > parameter_limit
        {
            return Err(EntityError::too_large(
                "annotations",
                a.size(),
                parameter_limit,
            ));
        }
        Ok(())
    }
}

/// The fields every list item has: `namespace, name, version, publish, annotations, updated`.
pub fn brief(
    namespace: &EntityPath,
    name: &EntityName,
    version: SemVer,
    publish: bool,
    annotations: &Params,
    updated: EpochMillis,
) -> Map<String, Value> {
    use serde_json::json;
    Map::from_iter([
        ("namespace".to_string(), json!(namespace)),
        ("name".to_string(), json!(name)),
        ("version".to_string(), json!(version)),
        ("publish".to_string(), json!(publish)),
        ("annotations".to_string(), json!(annotations)),
        ("updated".to_string(), json!(updated)),
    ])
}

/// Reads the body of a PUT as a JSON object (an empty body is `{}`).
pub fn body_object(v: &Value) -> Result<&Map<String, Value>, EntityError> {
    v.as_object()
        .ok_or_else(|| EntityError::malformed("Object expected in field 'body'"))
}

/// `{path, name}`: how rules name their trigger and action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathName {
    pub path: EntityPath,
    pub name: EntityName,
}

impl From<&FullyQualifiedName> for PathName {
    fn from(f: &FullyQualifiedName) -> Self {
        PathName {
            path: f.path.clone(),
            name: f.name.clone(),
        }
    }
}

impl PathName {
    pub fn fqn(&self) -> FullyQualifiedName {
        FullyQualifiedName::new(self.path.clone(), self.name.clone())
    }
}

/// One of the four entity kinds, known at compile time.
pub trait Kind: Sized + Clone {
    const COLLECTION: Collection;
    fn from_entity(e: Entity) -> Option<Self>;
    fn into_entity(self) -> Entity;
}

macro_rules! kind {
    ($t:ty, $variant:ident, $collection:ident) => {
        impl Kind for $t {
            const COLLECTION: Collection = Collection::$collection;
            fn from_entity(e: Entity) -> Option<Self> {
                match e {
                    Entity::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn into_entity(self) -> Entity {
                Entity::$variant(self)
            }
        }
    };
}

kind!(Action, Action, Actions);
kind!(Package, Package, Packages);
kind!(Trigger, Trigger, Triggers);
kind!(Rule, Rule, Rules);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::ActionPut;
    use crate::exec::Manifest;
    use crate::limits::LimitBounds;
    use crate::package::PackagePut;
    use crate::rule::RulePut;
    use crate::trigger::TriggerPut;
    use serde_json::json;

    fn one_of_each() -> Vec<Entity> {
        let guest = EntityName::new("guest").unwrap();
        let fqn = |n: &str| FullyQualifiedName::parse_path(n, &guest).unwrap();
        let lists = json!([{"key": "a", "value": {"n": [1, 2.5, -0, 0.0000000000488]}}, {"key": "b", "value": "s", "init": true}]);
        let manifest = Manifest::builtin();
        let action = ActionPut::from_json(
            &json!({"exec": {"kind": "nodejs:20", "code": "x"}, "parameters": lists, "annotations": lists, "limits": {"memory": 128}}),
            &manifest,
            &guest,
        )
        .unwrap()
        .create(&fqn("guest/p/a"), &manifest, &LimitBounds::default(), 7)
        .unwrap();
        let package = PackagePut::from_json(&json!({"parameters": lists, "publish": true}), &guest)
            .unwrap()
            .create(&fqn("guest/p"), 8);
        let binding = PackagePut::from_json(
            &json!({"binding": {"namespace": "other", "name": "q"}}),
            &guest,
        )
        .unwrap()
        .create(&fqn("guest/b"), 8);
        let trigger = TriggerPut::from_json(&json!({"annotations": [{"key": "feed", "value": "/whisk.system/alarms/alarm"}], "parameters": lists}))
            .unwrap()
            .create(&fqn("guest/t"), 9)
            .unwrap();
        let rule = RulePut::from_json(&json!({"trigger": "/_/t", "action": "/_/p/a"}), &guest)
            .unwrap()
            .create(&fqn("guest/r"), 10)
            .unwrap();
        vec![
            Entity::Action(action),
            Entity::Package(package),
            Entity::Package(binding),
            Entity::Trigger(trigger),
            Entity::Rule(rule),
        ]
    }

    #[test]
    fn the_document_text_is_the_document_written_out_and_reads_back_as_the_entity() {
        for e in one_of_each() {
            let text = e.to_document_text();
            assert_eq!(text, e.to_document().to_string(), "{:?}", e.collection());
            assert_eq!(Entity::from_document_text(&text).unwrap(), e);
        }
    }
}
