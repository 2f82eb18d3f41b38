//! Action limits and the bounds they must lie within.
//!
//! | limit | unit | system min | max | default |
//! |---|---|---|---|---|
//! | timeout | ms | 100 | 300000 | 60000 |
//! | memory | MB | 128 | 512 | 256 |
//! | logs | MB | 0 | 10 | 10 |
//! | concurrency | activations in one container | 1 | 1 | 1 |
//!
//! `instances` is stored when given and only checked against the namespace's concurrent invocations.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::EntityError;

/// An inclusive range and the value used when none is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bound {
    pub min: i64,
    pub max: i64,
    pub std: i64,
}

/// The bounds every action limit is checked against (system bounds, possibly narrowed per namespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitBounds {
    pub timeout_ms: Bound,
    pub memory_mb: Bound,
    pub logs_mb: Bound,
    pub concurrency: Bound,
}

impl Default for LimitBounds {
    fn default() -> Self {
        LimitBounds {
            timeout_ms: Bound {
                min: 100,
                max: 300_000,
                std: 60_000,
            },
            memory_mb: Bound {
                min: 128,
                max: 512,
                std: 256,
            },
            logs_mb: Bound {
                min: 0,
                max: 10,
                std: 10,
            },
            concurrency: Bound {
                min: 1,
                max: 1,
                std: 1,
            },
        }
    }
}

/// The limits stored with an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionLimits {
    pub timeout: i64,
    pub memory: i64,
    pub logs: i64,
    pub concurrency: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<i64>,
}

impl ActionLimits {
    pub fn defaults(b: &LimitBounds) -> Self {
        ActionLimits {
            timeout: b.timeout_ms.std,
            memory: b.memory_mb.std,
            logs: b.logs_mb.std,
            concurrency: b.concurrency.std,
            instances: None,
        }
    }

    /// These limits with the fields a PUT gave replaced.
    pub fn with(self, put: &ActionLimitsPut) -> Self {
        ActionLimits {
            timeout: put.timeout.unwrap_or(self.timeout),
            memory: put.memory.unwrap_or(self.memory),
            logs: put.logs.unwrap_or(self.logs),
            concurrency: put.concurrency.unwrap_or(self.concurrency),
            instances: put.instances.or(self.instances),
        }
    }
}

/// The `limits` of an action PUT: only the fields given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActionLimitsPut {
    pub timeout: Option<i64>,
    pub memory: Option<i64>,
    pub logs: Option<i64>,
    pub concurrency: Option<i64>,
    pub instances: Option<i64>,
}

fn whole(v: &Value, what: &str) -> Result<i64, EntityError> {
    let Value::Number(n) = v else {
        return Err(EntityError::malformed(format!("{what} limit malformed")));
    };
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f.is_finite() && f.fract() == 0.0 {
        // A whole number written as a decimal (`60000.0`, `6e4`) is that number, as upstream reads
        // it; beyond i64 it saturates, and the range check that follows refuses it as usual.
        const BOUND: f64 = 9_223_372_036_854_775_808.0; // 2^63
        return Ok(match f {
            f if f >= BOUND => i64::MAX,
            f if f < -BOUND => i64::MIN,
            f => f as i64,
        });
    }
    Err(EntityError::malformed(format!(
        "{what} limit must be whole number"
    )))
}

impl ActionLimitsPut {
    /// Reads the `limits` object of a PUT body. Unknown fields are ignored, as upstream ignores them.
    pub fn from_json(v: &Value) -> Result<Self, EntityError> {
        let Value::Object(o) = v else {
            return Err(EntityError::malformed("no valid json object passed"));
        };
        let field = |k: &str, what: &str| -> Result<Option<i64>, EntityError> {
            match o.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => whole(v, what).map(Some),
            }
        };
        Ok(ActionLimitsPut {
            timeout: field("timeout", "time")?,
            memory: field("memory", "memory")?,
            logs: field("logs", "log")?,
            concurrency: field("concurrency", "intra concurrency")?,
            instances: field("instances", "instance concurrency")?,
        })
    }

    /// Checks each given field against the namespace's bounds, in upstream's order (memory, timeout,
    /// logs, concurrency; the maximum before the minimum), and the instances against the namespace's
    /// concurrent invocations.
    pub fn check(&self, b: &LimitBounds, concurrent_invocations: i64) -> Result<(), EntityError> {
        let req = |m: String| EntityError::bad_request(format!("requirement failed: {m}"));
        if let Some(m) = self.memory {
            if m > b.memory_mb.max {
                return Err(req(format!(
                    "memory size {m} MB exceeds allowed threshold of {} MB",
                    b.memory_mb.max
                )));
            }
            if m < b.memory_mb.min {
                return Err(req(format!(
                    "memory size {m} MB below allowed threshold of {} MB",
                    b.memory_mb.min
                )));
            }
        }
        if let Some(t) = self.timeout {
            if t > b.timeout_ms.max {
                return Err(req(format!(
                    "duration {t} milliseconds exceeds allowed threshold of {} milliseconds",
                    b.timeout_ms.max
                )));
            }
            if t < b.timeout_ms.min {
                return Err(req(format!(
                    "duration {t} milliseconds below allowed threshold of {} milliseconds",
                    b.timeout_ms.min
                )));
            }
        }
        if let Some(l) = self.logs {
            if l > b.logs_mb.max {
                return Err(req(format!(
                    "log size {l} MB exceeds allowed threshold of {} MB",
                    b.logs_mb.max
                )));
            }
            if l < b.logs_mb.min {
                return Err(req(format!(
                    "log size {l} MB below allowed threshold of {} MB",
                    b.logs_mb.min
                )));
            }
        }
        if let Some(c) = self.concurrency {
            if c > b.concurrency.max {
                return Err(req(format!(
                    "concurrency {c} exceeds allowed threshold of {}",
                    b.concurrency.max
                )));
            }
            if c < b.concurrency.min {
                return Err(req(format!(
                    "concurrency {c} below allowed threshold of {}",
                    b.concurrency.min
                )));
            }
        }
        if let Some(i) = self.instances {
            if i < 1 {
                return Err(EntityError::malformed(format!(
                    "requirement failed: instance concurrency {i} below allowed threshold of 1"
                )));
            }
            if i > concurrent_invocations {
                return Err(EntityError::bad_request(format!(
                    "Max action instance concurrency must not exceed your namespace concurrency of {concurrent_invocations}."
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: Value) -> Result<(), EntityError> {
        ActionLimitsPut::from_json(&v)?.check(&LimitBounds::default(), 30)
    }

    #[test]
    fn limits_inside_the_bounds_pass() {
        assert!(check(json!({"timeout": 100, "memory": 512, "logs": 0, "concurrency": 1})).is_ok());
    }

    #[test]
    fn limits_outside_the_bounds_name_the_limit_and_the_threshold() {
        assert_eq!(
            check(json!({"memory": 1024})).unwrap_err().to_string(),
            "requirement failed: memory size 1024 MB exceeds allowed threshold of 512 MB"
        );
        assert_eq!(
            check(json!({"timeout": 400000})).unwrap_err().to_string(),
            "requirement failed: duration 400000 milliseconds exceeds allowed threshold of 300000 milliseconds"
        );
        assert_eq!(
            check(json!({"logs": 20})).unwrap_err().to_string(),
            "requirement failed: log size 20 MB exceeds allowed threshold of 10 MB"
        );
        assert_eq!(
            check(json!({"concurrency": 5})).unwrap_err().to_string(),
            "requirement failed: concurrency 5 exceeds allowed threshold of 1"
        );
        assert_eq!(
            check(json!({"memory": 1})).unwrap_err().to_string(),
            "requirement failed: memory size 1 MB below allowed threshold of 128 MB"
        );
    }

    #[test]
    fn fractional_or_non_numeric_limits_are_malformed() {
        assert_eq!(
            check(json!({"memory": 1.5})),
            Err(EntityError::malformed("memory limit must be whole number"))
        );
        assert_eq!(
            check(json!({"timeout": "x"})),
            Err(EntityError::malformed("time limit malformed"))
        );
        assert!(check(json!({"memory": 1e300})).is_err());
    }

    #[test]
    fn whole_numbers_written_as_decimals_or_beyond_any_integer_read_as_their_value() {
        let read = |text: &str| {
            let v: Value = serde_json::from_str(&format!("{{\"timeout\": {text}}}")).unwrap();
            ActionLimitsPut::from_json(&v).unwrap().timeout.unwrap()
        };
        assert_eq!(read("60000.0"), 60000);
        assert_eq!(read("6e4"), 60000);
        assert_eq!(read("-0"), 0);
        assert_eq!(read("123456789012345678901234"), i64::MAX);
        assert_eq!(read("-1e30"), i64::MIN);
        assert_eq!(read("9223372036854775807"), i64::MAX);
    }

    #[test]
    fn instances_may_not_exceed_the_namespace_concurrency() {
        assert_eq!(
            check(json!({"instances": 31})).unwrap_err().to_string(),
            "Max action instance concurrency must not exceed your namespace concurrency of 30."
        );
    }

    #[test]
    fn an_update_changes_only_the_given_fields() {
        let base = ActionLimits::defaults(&LimitBounds::default());
        let put = ActionLimitsPut::from_json(&json!({"memory": 128})).unwrap();
        let merged = base.with(&put);
        assert_eq!(
            (merged.memory, merged.timeout, merged.logs),
            (128, 60000, 10)
        );
    }
}
