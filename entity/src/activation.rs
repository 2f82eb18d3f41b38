//! Activation records: one per run of an action (or fire of a trigger), in the caller's namespace.
//!
//! The store keeps the *stored* form (`response.statusCode`); GET answers the *extended* form
//! (`response.status` and `response.success`, no `statusCode`); lists answer *summaries*.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::EpochMillis;
use crate::name::{EntityName, EntityPath};
use crate::params::Params;
use crate::semver::SemVer;

/// 32 lower-case hex characters: a v4 UUID without its dashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ActivationId(String);

impl ActivationId {
    pub fn generate() -> ActivationId {
        ActivationId(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Reads an id from a URL, with upstream's two complaints.
    pub fn parse(s: &str) -> Result<ActivationId, String> {
        let n = s.chars().count();
        if n != 32 {
            return Err(format!("Activation id length is {n} but must be 32."));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        {
            return Err("The activation id is not valid.".into());
        }
        Ok(ActivationId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ActivationId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        ActivationId::parse(&s)
    }
}

impl From<ActivationId> for String {
    fn from(a: ActivationId) -> String {
        a.0
    }
}

impl fmt::Display for ActivationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The four outcomes of an activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum StatusCode {
    Success = 0,
    ApplicationError = 1,
    DeveloperError = 2,
    WhiskError = 3,
}

impl StatusCode {
    pub fn as_text(self) -> &'static str {
        match self {
            StatusCode::Success => "success",
            StatusCode::ApplicationError => "application error",
            StatusCode::DeveloperError => "action developer error",
            StatusCode::WhiskError => "whisk internal error",
        }
    }
}

impl From<StatusCode> for u8 {
    fn from(s: StatusCode) -> u8 {
        s as u8
    }
}

impl TryFrom<u8> for StatusCode {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, String> {
        Ok(match n {
            0 => StatusCode::Success,
            1 => StatusCode::ApplicationError,
            2 => StatusCode::DeveloperError,
            3 => StatusCode::WhiskError,
            _ => return Err(format!("unknown activation status code {n}")),
        })
    }
}

/// The stored `response` of an activation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivationResponse {
    #[serde(rename = "statusCode")]
    pub status_code: StatusCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

impl ActivationResponse {
    /// `{result, size?, status, success}`: the response as GET shows it.
    pub fn extended(&self) -> Value {
        let mut v = json!({});
        if let Some(r) = &self.result {
            v["result"] = r.clone();
        }
        if let Some(s) = self.size {
            v["size"] = json!(s);
        }
        v["status"] = json!(self.status_code.as_text());
        v["success"] = json!(self.status_code == StatusCode::Success);
        v
    }
}

/// What a run of an action records in its activation's `annotations`, in upstream's order:
/// `path` (where the action lives), `waitTime`, `kind` and `limits` (when the action was read),
/// `timeout`, `initTime` (when the run initialized its container) and `binding` (when the action was
/// addressed through one). The invoker's records and the controller's built-in actions share it.
pub struct RunAnnotations<'a> {
    pub path: &'a str,
    pub wait_ms: i64,
    pub action: Option<&'a crate::action::Action>,
    pub timed_out: bool,
    pub init_ms: Option<i64>,
    pub binding: Option<&'a str>,
    /// Run as a step of a sequence or a composition (the message has a `cause`).
    pub caused_by_sequence: bool,
}

impl RunAnnotations<'_> {
    pub fn params(&self) -> Params {
        let mut a = Params::new();
        a.set("path", json!(self.path));
        if self.caused_by_sequence {
            a.set("causedBy", json!(crate::exec::SEQUENCE));
        }
        a.set("waitTime", json!(self.wait_ms.max(0)));
        if let Some(action) = self.action {
            a.set("kind", json!(action.exec.kind()));
            a.set("limits", json!(action.limits));
        }
        a.set("timeout", json!(self.timed_out));
        if let Some(i) = self.init_ms {
            a.set("initTime", json!(i));
        }
        if let Some(b) = self.binding {
            a.set("binding", json!(b));
        }
        a
    }
}

/// An activation record in its stored form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activation {
    /// The namespace of the identity that caused the activation.
    pub namespace: EntityPath,
    /// The action or trigger name, without its package.
    pub name: EntityName,
    pub version: SemVer,
    pub subject: String,
    pub activation_id: ActivationId,
    pub start: EpochMillis,
    /// 0 for trigger activations, which have no end.
    pub end: EpochMillis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
    pub response: ActivationResponse,
    #[serde(default)]
    pub logs: Vec<String>,
    #[serde(default)]
    pub annotations: Params,
    #[serde(default)]
    pub publish: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<ActivationId>,
}

impl Activation {
    /// The stored `duration`, else `end - start` for an activation that ended.
    pub fn effective_duration(&self) -> Option<i64> {
        self.duration
            .or((self.end != 0).then(|| self.end - self.start))
    }

    /// The key the `name` filter of a list matches: `ns/name`, or `ns/pkg/name` for a packaged action
    /// (the package from the `binding` annotation if any, else from `path`).
    pub fn filter_name(&self) -> String {
        let package = self
            .annotations
            .get("binding")
            .or_else(|| self.annotations.get("path"))
            .and_then(Value::as_str)
            .and_then(|p| {
                let segments: Vec<&str> = p.split('/').collect();
                // `ns/pkg/name` (path) or `ns/binding` (binding) carry a package segment
                match segments.as_slice() {
                    [_, pkg, _] => Some(pkg.to_string()),
                    [_, b] if self.annotations.get("binding").is_some() => Some(b.to_string()),
                    _ => None,
                }
            });
        match package {
            Some(p) => format!("{}/{}/{}", self.namespace.root(), p, self.name),
            None => format!("{}/{}", self.namespace.root(), self.name),
        }
    }

    /// GET's form: `response` extended, `end`/`duration` only for activations that ended.
    pub fn extended(&self) -> Value {
        let mut v = self.base();
        if self.end != 0 {
            v["end"] = json!(self.end);
        }
        if let Some(d) = self.effective_duration() {
            v["duration"] = json!(d);
        }
        v["subject"] = json!(self.subject);
        v["response"] = self.response.extended();
        v["logs"] = json!(self.logs);
        v
    }

    /// The item of an activation list without `docs`.
    pub fn summary(&self) -> Value {
        let mut v = self.base();
        if self.end != 0 {
            v["end"] = json!(self.end);
            if let Some(d) = self.effective_duration() {
                v["duration"] = json!(d);
            }
            v["statusCode"] = json!(self.response.status_code);
        }
        v
    }

    fn base(&self) -> Value {
        let mut v = json!({
            "namespace": self.namespace,
            "name": self.name,
            "version": self.version,
            "publish": self.publish,
            "annotations": self.annotations,
            "activationId": self.activation_id,
            "start": self.start,
        });
        if let Some(c) = &self.cause {
            v["cause"] = json!(c);
        }
        v
    }

    /// `GET .../activations/{id}/result`.
    pub fn result_view(&self) -> Value {
        self.response.extended()
    }

    /// `GET .../activations/{id}/logs`.
    pub fn logs_view(&self) -> Value {
        json!({"logs": self.logs})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample() -> Activation {
        Activation {
            namespace: EntityPath::parse("guest").unwrap(),
            name: EntityName::new("hello").unwrap(),
            version: SemVer::default(),
            subject: "guest".into(),
            activation_id: ActivationId::parse("c7bb1339cb4f40e3a6ccead6c99f804e").unwrap(),
            start: 1000,
            end: 1123,
            duration: None,
            response: ActivationResponse {
                status_code: StatusCode::Success,
                result: Some(json!({"x": 1})),
                size: Some(7),
            },
            logs: vec!["l".into()],
            annotations: Params::from_pairs([("path", json!("guest/pkg/hello"))]),
            publish: false,
            cause: None,
        }
    }

    #[test]
    fn activation_ids_are_32_lowercase_hex_characters() {
        assert_eq!(ActivationId::generate().as_str().len(), 32);
        assert_eq!(
            ActivationId::parse("abc").unwrap_err(),
            "Activation id length is 3 but must be 32."
        );
        assert_eq!(
            ActivationId::parse(&"G".repeat(32)).unwrap_err(),
            "The activation id is not valid."
        );
    }

    #[test]
    fn the_extended_form_replaces_the_status_code_with_words() {
        let v = sample().extended();
        assert_eq!(
            v["response"],
            json!({"result": {"x": 1}, "size": 7, "status": "success", "success": true})
        );
        assert_eq!(v["duration"], json!(123));
        assert!(v.get("statusCode").is_none());
    }

    #[test]
    fn summaries_carry_the_status_code_only_for_ended_activations() {
        let mut a = sample();
        assert_eq!(a.summary()["statusCode"], json!(0));
        a.end = 0;
        let s = a.summary();
        assert!(
            s.get("statusCode").is_none() && s.get("end").is_none() && s.get("response").is_none()
        );
    }

    #[test]
    fn the_name_filter_key_includes_the_package() {
        assert_eq!(sample().filter_name(), "guest/pkg/hello");
        let mut a = sample();
        a.annotations = Params::new();
        assert_eq!(a.filter_name(), "guest/hello");
    }

    #[test]
    fn a_stored_record_reads_back_unchanged() {
        let a = sample();
        let back: Activation = serde_json::from_value(serde_json::to_value(&a).unwrap()).unwrap();
        assert_eq!(back, a);
    }
}
