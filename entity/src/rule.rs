//! Rules: a trigger joined to an action. Whether a rule is active is kept in its trigger's document.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::entity::{PathName, PutCommon, body_object, field};
use crate::name::{EntityName, EntityPath, FullyQualifiedName};
use crate::params::Params;
use crate::semver::SemVer;
use crate::{EntityError, EpochMillis};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleStatus {
    Active,
    Inactive,
}

impl RuleStatus {
    /// Reads the `status` of an enable/disable request with upstream's words for anything else.
    pub fn parse(s: &str) -> Result<RuleStatus, EntityError> {
        match s.trim() {
            "active" => Ok(RuleStatus::Active),
            "inactive" => Ok(RuleStatus::Inactive),
            "" => Err(EntityError::malformed(
                "requirement failed: argument undefined",
            )),
            other => Err(EntityError::malformed(format!(
                "requirement failed: {other} is not a recognized rule state"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub namespace: EntityPath,
    pub name: EntityName,
    pub version: SemVer,
    pub publish: bool,
    pub annotations: Params,
    pub trigger: PathName,
    pub action: PathName,
    pub updated: EpochMillis,
}

impl Rule {
    pub fn fqn(&self) -> FullyQualifiedName {
        FullyQualifiedName::new(self.namespace.clone(), self.name.clone())
    }

    /// The rule as lists show it: the stored document, no status.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("rules serialize")
    }

    /// The rule as GET shows it, with the status its trigger records.
    pub fn with_status(&self, status: RuleStatus) -> Value {
        let mut v = self.to_json();
        v["status"] = json!(status);
        v
    }
}

/// The body of `PUT .../rules/{name}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RulePut {
    pub common: PutCommon,
    pub trigger: Option<FullyQualifiedName>,
    pub action: Option<FullyQualifiedName>,
}

fn reference(v: &Value, namespace: &EntityName) -> Result<FullyQualifiedName, EntityError> {
    let name_err = |e: crate::name::NameError| EntityError::malformed(e.body_message());
    match v {
        Value::String(s) => FullyQualifiedName::parse_path(s, namespace).map_err(name_err),
        Value::Object(_) => serde_json::from_value::<PathName>(v.clone())
            .map(|p| FullyQualifiedName::new(p.path.resolve(namespace), p.name))
            .map_err(|_| EntityError::malformed("fully qualified name malformed")),
        _ => Err(EntityError::malformed("fully qualified name malformed")),
    }
}

impl RulePut {
    /// Reads a PUT body; `_` in the trigger and action names resolves to `namespace`.
    pub fn from_json(body: &Value, namespace: &EntityName) -> Result<Self, EntityError> {
        let o = body_object(body)?;
        let common = PutCommon::from_json(o)?;
        let refer = |k: &str| field(o, k).map(|v| reference(v, namespace)).transpose();
        // Rules carry no parameters: any given are ignored, as upstream ignores unknown fields.
        let common = PutCommon {
            parameters: None,
            ..common
        };
        Ok(RulePut {
            trigger: refer("trigger")?,
            action: refer("action")?,
            common,
        })
    }

    pub fn create(&self, fqn: &FullyQualifiedName, now: EpochMillis) -> Result<Rule, EntityError> {
        let (Some(trigger), Some(action)) = (&self.trigger, &self.action) else {
            return Err(EntityError::bad_request(
                "rule requires a valid trigger and a valid action",
            ));
        };
        Ok(Rule {
            namespace: fqn.path.clone(),
            name: fqn.name.clone(),
            version: self.common.version.unwrap_or_default(),
            publish: self.common.publish.unwrap_or(false),
            annotations: self.common.annotations.clone().unwrap_or_default(),
            trigger: trigger.into(),
            action: action.into(),
            updated: now,
        })
    }

    pub fn update(&self, old: &Rule, now: EpochMillis) -> Rule {
        Rule {
            namespace: old.namespace.clone(),
            name: old.name.clone(),
            version: self.common.next_version(old.version),
            publish: self.common.next_publish(old.publish),
            annotations: self
                .common
                .annotations
                .clone()
                .unwrap_or_else(|| old.annotations.clone()),
            trigger: self
                .trigger
                .as_ref()
                .map(Into::into)
                .unwrap_or_else(|| old.trigger.clone()),
            action: self
                .action
                .as_ref()
                .map(Into::into)
                .unwrap_or_else(|| old.action.clone()),
            updated: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest() -> EntityName {
        EntityName::new("guest").unwrap()
    }

    #[test]
    fn trigger_and_action_may_be_strings_or_path_objects() {
        let put = RulePut::from_json(
            &json!({"name": "r", "status": "", "trigger": "/_/t", "action": {"path": "_/pkg", "name": "a"}}),
            &guest(),
        )
        .unwrap();
        let fqn = FullyQualifiedName::parse_path("guest/r", &guest()).unwrap();
        let r = put.create(&fqn, 1).unwrap();
        assert_eq!(
            r.to_json()["trigger"],
            json!({"path": "guest", "name": "t"})
        );
        assert_eq!(
            r.to_json()["action"],
            json!({"path": "guest/pkg", "name": "a"})
        );
        assert_eq!(r.with_status(RuleStatus::Active)["status"], json!("active"));
    }

    #[test]
    fn a_bare_name_is_not_a_valid_reference() {
        assert!(RulePut::from_json(&json!({"trigger": "t"}), &guest()).is_err());
    }

    #[test]
    fn a_rule_needs_both_ends() {
        let put = RulePut::from_json(&json!({"trigger": "/_/t"}), &guest()).unwrap();
        let fqn = FullyQualifiedName::parse_path("guest/r", &guest()).unwrap();
        assert_eq!(
            put.create(&fqn, 0),
            Err(EntityError::bad_request(
                "rule requires a valid trigger and a valid action"
            ))
        );
    }

    #[test]
    fn statuses_parse_with_upstreams_words() {
        assert_eq!(RuleStatus::parse("active"), Ok(RuleStatus::Active));
        assert_eq!(
            RuleStatus::parse("on").unwrap_err().to_string(),
            "requirement failed: on is not a recognized rule state"
        );
        assert_eq!(
            RuleStatus::parse(" ").unwrap_err().to_string(),
            "requirement failed: argument undefined"
        );
    }
}
