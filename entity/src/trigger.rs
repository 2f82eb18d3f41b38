//! Triggers. A trigger document also holds its rules' links and their status: the rule documents do not.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::entity::{PathName, PutCommon, body_object, brief};
use crate::name::{EntityName, EntityPath, FullyQualifiedName};
use crate::params::Params;
use crate::rule::RuleStatus;
use crate::semver::SemVer;
use crate::{EntityError, EpochMillis};

/// A rule as its trigger records it: the action it fires and whether it is active.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReducedRule {
    pub action: PathName,
    pub status: RuleStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    pub namespace: EntityPath,
    pub name: EntityName,
    pub version: SemVer,
    pub publish: bool,
    pub parameters: Params,
    pub annotations: Params,
    /// Always `{}`: triggers have no limits of their own.
    #[serde(default = "empty_object")]
    pub limits: Value,
    /// Keyed by the rule's document id (`ns/rule`); absent until the trigger first has a rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<BTreeMap<String, ReducedRule>>,
    pub updated: EpochMillis,
}

fn empty_object() -> Value {
    json!({})
}

impl Trigger {
    pub fn fqn(&self) -> FullyQualifiedName {
        FullyQualifiedName::new(self.namespace.clone(), self.name.clone())
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("triggers serialize")
    }

    pub fn summary(&self) -> Value {
        Value::Object(brief(
            &self.namespace,
            &self.name,
            self.version,
            self.publish,
            &self.annotations,
            self.updated,
        ))
    }

    /// The status of a rule as this trigger records it.
    pub fn rule_status(&self, rule_id: &str) -> Option<RuleStatus> {
        self.rules.as_ref()?.get(rule_id).map(|r| r.status)
    }

    pub fn link_rule(&mut self, rule_id: String, action: PathName, status: RuleStatus) {
        self.rules
            .get_or_insert_with(BTreeMap::new)
            .insert(rule_id, ReducedRule { action, status });
    }

    pub fn unlink_rule(&mut self, rule_id: &str) {
        if let Some(r) = self.rules.as_mut() {
            r.remove(rule_id);
        }
    }
}

/// The body of `PUT .../triggers/{name}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TriggerPut {
    pub common: PutCommon,
}

impl TriggerPut {
    pub fn from_json(body: &Value) -> Result<Self, EntityError> {
        let o = body_object(body)?;
        if let Some(l) = crate::entity::field(o, "limits")
            && !l.is_object()
        {
            return Err(EntityError::malformed("trigger limits malformed"));
        }
        Ok(TriggerPut {
            common: PutCommon::from_json(o)?,
        })
    }

    /// A new trigger. A `feed` annotation must name an entity path.
    pub fn create(
        &self,
        fqn: &FullyQualifiedName,
        now: EpochMillis,
    ) -> Result<Trigger, EntityError> {
        let annotations = self.common.annotations.clone().unwrap_or_default();
        if let Some(feed) = annotations.get(crate::action::FEED_ANNOTATION) {
            // Any entity path, as upstream's `EntityPath.validate` takes it: `xyz` too.
            let valid = feed.as_str().is_some_and(|f| EntityPath::parse(f).is_ok());
            if !valid {
                return Err(EntityError::bad_request("Feed name is not valid"));
            }
        }
        Ok(Trigger {
            namespace: fqn.path.clone(),
            name: fqn.name.clone(),
            version: self.common.version.unwrap_or_default(),
            publish: self.common.publish.unwrap_or(false),
            parameters: self.common.parameters.clone().unwrap_or_default(),
            annotations,
            limits: empty_object(),
            rules: None,
            updated: now,
        })
    }

    /// Each given field replaces the old one; the rules are kept.
    pub fn update(&self, old: &Trigger, now: EpochMillis) -> Trigger {
        Trigger {
            version: self.common.next_version(old.version),
            publish: self.common.next_publish(old.publish),
            parameters: self
                .common
                .parameters
                .clone()
                .unwrap_or_else(|| old.parameters.clone()),
            annotations: self
                .common
                .annotations
                .clone()
                .unwrap_or_else(|| old.annotations.clone()),
            updated: now,
            ..old.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fqn() -> FullyQualifiedName {
        FullyQualifiedName::parse_path("guest/t", &EntityName::new("guest").unwrap()).unwrap()
    }

    #[test]
    fn a_new_trigger_has_empty_limits_and_no_rules() {
        let t = TriggerPut::from_json(&json!({"name": "t"}))
            .unwrap()
            .create(&fqn(), 3)
            .unwrap();
        assert_eq!(
            t.to_json(),
            json!({"namespace": "guest", "name": "t", "version": "0.0.1", "publish": false,
                   "parameters": [], "annotations": [], "limits": {}, "updated": 3})
        );
    }

    #[test]
    fn a_feed_annotation_must_name_an_entity() {
        for bad in [json!("a,b"), json!(""), json!(5)] {
            let put =
                TriggerPut::from_json(&json!({"annotations": [{"key": "feed", "value": bad}]}))
                    .unwrap();
            assert_eq!(
                put.create(&fqn(), 0),
                Err(EntityError::bad_request("Feed name is not valid"))
            );
        }
        let bare =
            TriggerPut::from_json(&json!({"annotations": [{"key": "feed", "value": "xyz"}]}));
        assert!(bare.unwrap().create(&fqn(), 0).is_ok());
        let good = TriggerPut::from_json(
            &json!({"annotations": [{"key": "feed", "value": "/whisk.system/alarms/alarm"}]}),
        );
        assert!(good.unwrap().create(&fqn(), 0).is_ok());
    }

    #[test]
    fn updates_keep_the_rules() {
        let mut t = TriggerPut::default().create(&fqn(), 0).unwrap();
        let action = PathName {
            path: EntityPath::parse("guest").unwrap(),
            name: EntityName::new("a").unwrap(),
        };
        t.link_rule("guest/r".into(), action, RuleStatus::Active);
        let u = TriggerPut::from_json(&json!({"parameters": []}))
            .unwrap()
            .update(&t, 1);
        assert_eq!(u.rule_status("guest/r"), Some(RuleStatus::Active));
        assert_eq!(u.version.to_string(), "0.0.2");
    }
}
