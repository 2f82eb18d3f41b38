//! Checks a response against OpenWhisk's swagger 2.0 description of `/api/v1` (a copy ships in
//! `controller/resources/apiv1swagger.json`). The schema keywords that description uses are
//! `$ref`, `type`, `enum`, `minLength`, `required`, `properties` and `items`, with JSON Schema's
//! meaning: `required` and `properties` constrain objects only.

use serde_json::Value;

/// Kinds Owl's runtime manifest adds to those the description enumerates.
pub const OWL_KINDS: [&str; 2] = ["python:3", "python:3.13"];

pub struct Swagger {
    doc: Value,
}

const SOURCE: &str = include_str!("../../controller/resources/apiv1swagger.json");

impl Default for Swagger {
    fn default() -> Self {
        Swagger {
            doc: serde_json::from_str(SOURCE).expect("the swagger description is JSON"),
        }
    }
}

impl Swagger {
    /// Checks one response. `path` is below `/api/v1`, without query. Errors must be the envelope
    /// `{"error": <string>, "code": <string>}`; successes must be a status the description lists for
    /// the operation, with a body of its schema.
    pub fn check(&self, method: &str, path: &str, status: u16, body: &Value) -> Result<(), String> {
        if status >= 400 {
            let ok = body.get("error").is_some_and(Value::is_string)
                && body.get("code").is_some_and(Value::is_string);
            return if ok {
                Ok(())
            } else {
                Err(format!("{status} body is not an error envelope: {body}"))
            };
        }
        let Some(op) = self.operation(method, path) else {
            // Paths the description does not cover (`/api/v1` itself, `api-docs`).
            return Ok(());
        };
        let responses = &op["responses"];
        let Some(response) = responses
            .get(status.to_string())
            .or_else(|| responses.get("default"))
        else {
            return Err(format!(
                "{method} {path}: status {status} is not documented"
            ));
        };
        let response = self.resolve(response);
        match response.get("schema") {
            None => Ok(()),
            Some(schema) => {
                let mut errors = vec![];
                self.validate(schema, body, "$", &mut errors);
                if errors.is_empty() {
                    Ok(())
                } else {
                    Err(format!("{method} {path} {status}: {}", errors.join("; ")))
                }
            }
        }
    }

    fn operation(&self, method: &str, path: &str) -> Option<&Value> {
        let trailing = path.ends_with('/') && path.len() > 1;
        let mut segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        // `GET .../actions/{pkg}/` lists a package's actions: the collection's list operation.
        if trailing && segments.len() == 4 && segments[0] == "namespaces" {
            segments.truncate(3);
        }
        let paths = self.doc["paths"].as_object()?;
        let (_, item) = paths.iter().find(|(template, _)| {
            let t: Vec<&str> = template.trim_matches('/').split('/').collect();
            t.len() == segments.len()
                && t.iter()
                    .zip(&segments)
                    .all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
        })?;
        item.get(method.to_ascii_lowercase())
    }

    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let pointer = r.trim_start_matches('#');
                self.doc
                    .pointer(pointer)
                    .map(|t| self.resolve(t))
                    .unwrap_or(v)
            }
            None => v,
        }
    }

    fn validate(&self, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if let Some(t) = schema.get("type").and_then(Value::as_str) {
            let ok = match t {
                "string" => v.is_string(),
                "integer" => v.is_i64() || v.is_u64(),
                "number" => v.is_number(),
                "boolean" => v.is_boolean(),
                "array" => v.is_array(),
                "object" => v.is_object(),
                _ => true,
            };
            if !ok {
                errors.push(format!("{at} should be {t}, is {v}"));
                return;
            }
        }
        // Kinds Owl runs beyond the description's list (docs/compatibility.md).
        let owl_kind =
            at.ends_with(".exec.kind") && v.as_str().is_some_and(|k| OWL_KINDS.contains(&k));
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(v)
            && !owl_kind
        {
            errors.push(format!(
                "{at} = {v} is not one of {}",
                Value::Array(allowed.clone())
            ));
        }
        if let (Some(min), Some(s)) = (schema.get("minLength").and_then(Value::as_u64), v.as_str())
            && (s.chars().count() as u64) < min
        {
            errors.push(format!("{at} is shorter than {min}"));
        }
        if let Value::Object(o) = v {
            for r in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(k) = r.as_str()
                    && !o.contains_key(k)
                {
                    errors.push(format!("{at}.{k} is required"));
                }
            }
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, s) in props {
                    if let Some(child) = o.get(k) {
                        self.validate(s, child, &format!("{at}.{k}"), errors);
                    }
                }
            }
        }
        if let (Value::Array(items), Some(s)) = (v, schema.get("items")) {
            for (i, item) in items.iter().enumerate() {
                self.validate(s, item, &format!("{at}[{i}]"), errors);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_conforming_action_passes_and_a_broken_one_names_its_faults() {
        let s = Swagger::default();
        let good = json!({"namespace": "guest", "name": "a", "version": "0.0.1", "publish": false,
            "exec": {"kind": "nodejs:20", "binary": false}, "limits": {"timeout": 1, "memory": 1}});
        assert!(
            s.check("GET", "/namespaces/guest/actions/a", 200, &good)
                .is_ok()
        );
        let bad = json!({"namespace": "", "name": 1, "version": "0.0.1", "exec": {"kind": "cobol"}, "limits": {}});
        let err = s
            .check("GET", "/namespaces/guest/actions/a", 200, &bad)
            .unwrap_err();
        assert!(
            err.contains("$.publish is required") && err.contains("$.name should be string"),
            "{err}"
        );
        assert!(
            err.contains("$.namespace is shorter than 1") && err.contains("cobol"),
            "{err}"
        );
    }

    #[test]
    fn errors_must_carry_error_and_code() {
        let s = Swagger::default();
        assert!(
            s.check(
                "GET",
                "/namespaces/_/actions/x",
                404,
                &json!({"error": "e", "code": "c"})
            )
            .is_ok()
        );
        assert!(
            s.check(
                "GET",
                "/namespaces/_/actions/x",
                404,
                &json!({"error": "e"})
            )
            .is_err()
        );
    }

    #[test]
    fn undocumented_success_statuses_are_refused() {
        let s = Swagger::default();
        assert!(
            s.check("GET", "/namespaces/_/actions/x", 201, &json!({}))
                .is_err()
        );
    }

    #[test]
    fn a_trailing_slash_after_a_package_is_checked_as_a_list() {
        let s = Swagger::default();
        assert!(
            s.check("GET", "/namespaces/_/actions/pkg/", 200, &json!([]))
                .is_ok()
        );
        assert!(
            s.check("GET", "/namespaces/_/actions/pkg/", 200, &json!({}))
                .is_err()
        );
    }
}
