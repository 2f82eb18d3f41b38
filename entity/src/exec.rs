//! What an action runs: the runtime manifest and the `exec` part of an action.
//!
//! The manifest has OpenWhisk's `runtimes.json` format: families of kinds, one default per family (so
//! `nodejs:default` names it), images, deprecation and `requireMain`. `sequence` and `blackbox` are
//! kinds of their own outside the manifest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::EntityError;
use crate::name::{EntityName, FullyQualifiedName, NameError};

pub const SEQUENCE: &str = "sequence";
pub const BLACKBOX: &str = "blackbox";
/// Actions Owl runs inside its controller, such as the alarms feed: installed by Owl's catalog, never
/// created through the API.
pub const BUILTIN: &str = "builtin";

/// The runtime manifest Owl ships: the kinds its images run.
pub const BUILTIN_MANIFEST: &str = include_str!("../runtimes.json");

/// A Docker image as `runtimes.json` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl ImageRef {
    /// `prefix/name:tag`, the form `docker` understands.
    pub fn reference(&self) -> String {
        let mut s = String::new();
        if let Some(p) = &self.prefix {
            s.push_str(p);
            s.push('/');
        }
        s.push_str(&self.name);
        s.push(':');
        s.push_str(self.tag.as_deref().unwrap_or("latest"));
        s
    }
}

/// A prewarmed container pool for a kind: how many, and of what memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StemCell {
    #[serde(rename = "initialCount", alias = "count")]
    pub initial_count: u32,
    pub memory: String,
}

/// One kind of a family in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeKind {
    pub kind: String,
    pub image: ImageRef,
    #[serde(default)]
    pub default: bool,
    #[serde(default)]
    pub deprecated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached: Option<Value>,
    #[serde(
        default,
        rename = "requireMain",
        skip_serializing_if = "Option::is_none"
    )]
    pub require_main: Option<bool>,
    #[serde(default, rename = "stemCells", skip_serializing_if = "Vec::is_empty")]
    pub stem_cells: Vec<StemCell>,
}

#[derive(Debug, Clone, Deserialize)]
struct ManifestFile {
    runtimes: BTreeMap<String, Vec<RuntimeKind>>,
    #[serde(default)]
    blackboxes: Vec<ImageRef>,
}

/// The kinds this platform runs.
#[derive(Debug, Clone)]
pub struct Manifest {
    families: BTreeMap<String, Vec<RuntimeKind>>,
    blackboxes: Vec<ImageRef>,
}

impl Manifest {
    /// Reads a manifest in `runtimes.json` format and checks that every family has exactly one default
    /// (a family of one kind needs none: that kind is its default).
    pub fn from_json(text: &str) -> Result<Manifest, String> {
        let file: ManifestFile =
            serde_json::from_str(text).map_err(|e| format!("runtime manifest: {e}"))?;
        for (family, kinds) in &file.runtimes {
            let defaults = kinds.iter().filter(|k| k.default).count();
            if kinds.is_empty() || defaults > 1 || (defaults == 0 && kinds.len() > 1) {
                return Err(format!(
                    "runtime manifest: family '{family}' needs exactly one default kind"
                ));
            }
            for k in kinds {
                if !k.kind.starts_with(&format!("{family}:")) {
                    return Err(format!(
                        "runtime manifest: kind '{}' is not in family '{family}'",
                        k.kind
                    ));
                }
            }
        }
        Ok(Manifest {
            families: file.runtimes,
            blackboxes: file.blackboxes,
        })
    }

    pub fn builtin() -> Manifest {
        Manifest::from_json(BUILTIN_MANIFEST).expect("the built-in runtime manifest is valid")
    }

    /// The kind a name denotes: the kind itself, or `<family>:default` for the family's default.
    pub fn resolve(&self, kind: &str) -> Option<&RuntimeKind> {
        if let Some(family) = kind.strip_suffix(":default") {
            let kinds = self.families.get(family)?;
            return kinds
                .iter()
                .find(|k| k.default)
                .or_else(|| (kinds.len() == 1).then(|| &kinds[0]));
        }
        self.families.values().flatten().find(|k| k.kind == kind)
    }

    pub fn families(&self) -> impl Iterator<Item = (&String, &Vec<RuntimeKind>)> {
        self.families.iter()
    }

    pub fn blackboxes(&self) -> &[ImageRef] {
        &self.blackboxes
    }

    /// Every kind a PUT may name, sorted: the manifest's kinds plus `blackbox` and `sequence`.
    pub fn valid_kinds(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .families
            .values()
            .flatten()
            .map(|k| k.kind.clone())
            .collect();
        v.push(BLACKBOX.into());
        v.push(SEQUENCE.into());
        v.sort();
        v
    }

    fn unsupported(&self, kind: &str) -> EntityError {
        let kinds = self.valid_kinds().join("', '");
        EntityError::malformed(format!(
            "The specified runtime '{kind}' is not supported by this platform. Valid values are: '{kinds}'."
        ))
    }

    /// Is this kind (as stored) marked deprecated?
    pub fn is_deprecated(&self, kind: &str) -> bool {
        self.resolve(kind).is_some_and(|k| k.deprecated)
    }
}

/// The `exec` of an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Exec {
    /// Code for a managed runtime: source text, or a base64 zip when `binary`.
    Code {
        kind: String,
        code: String,
        main: Option<String>,
        binary: bool,
    },
    /// A user's image, optionally with code handed to it at `/init`.
    Blackbox {
        image: String,
        code: Option<String>,
        main: Option<String>,
        binary: bool,
    },
    /// A pipeline of other actions, each named `/ns/[pkg/]name`.
    Sequence { components: Vec<FullyQualifiedName> },
    /// Code of Owl's own, run by the controller without a container: `main` names it.
    Builtin { main: String },
}

/// Does this code look like base64 (a zip or jar)? Upstream decides `binary` this way and ignores the
/// flag a client sends for string code.
pub fn is_binary_code(code: &str) -> bool {
    let t = code.trim().as_bytes();
    if t.is_empty() || !t.len().is_multiple_of(4) {
        return false;
    }
    let b64 = |c: &u8| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/';
    let (body, tail) = t.split_at(t.len() - 4);
    body.iter().all(b64)
        && match tail {
            [a, b, b'=', b'='] => b64(a) && b64(b),
            [a, b, c, b'='] => b64(a) && b64(b) && b64(c),
            other => other.iter().all(b64),
        }
}

fn main_field(o: &Map<String, Value>, kind: &str) -> Result<Option<String>, EntityError> {
    match o.get("main") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(m)) => Ok(Some(m.clone())),
        Some(_) => Err(EntityError::malformed(format!(
            "if defined, 'main' be a string in 'exec' for '{kind}' actions"
        ))),
    }
}

fn component(v: &Value) -> Result<FullyQualifiedName, EntityError> {
    let name_err = |e: NameError| EntityError::malformed(e.body_message());
    match v {
        // A path string of two or more segments; `_` is resolved later, with the caller known.
        Value::String(s) => {
            let placeholder = EntityName::new("_").expect("valid");
            FullyQualifiedName::parse_path(s, &placeholder).map_err(name_err)
        }
        Value::Object(_) => serde_json::from_value(v.clone())
            .map_err(|_| EntityError::malformed("fully qualified name malformed")),
        _ => Err(EntityError::malformed("fully qualified name malformed")),
    }
}

impl Exec {
    /// Reads the `exec` of a PUT body, checking the kind against the manifest. `_` in sequence
    /// components is resolved to `namespace`.
    pub fn from_put(
        v: &Value,
        manifest: &Manifest,
        namespace: &EntityName,
    ) -> Result<Exec, EntityError> {
        let Value::Object(o) = v else {
            return Err(EntityError::malformed(
                "'kind' must be a string defined in 'exec'",
            ));
        };
        let kind = match o.get("kind") {
            Some(Value::String(k)) => k.trim().to_lowercase(),
            _ => {
                return Err(EntityError::malformed(
                    "'kind' must be a string defined in 'exec'",
                ));
            }
        };
        match kind.as_str() {
            SEQUENCE => {
                let comps = match o.get("components") {
                    Some(Value::Array(c)) => c,
                    Some(_) => return Err(EntityError::malformed("'components' must be an array")),
                    None => {
                        return Err(EntityError::malformed(
                            "'components' must be defined for sequence kind",
                        ));
                    }
                };
                let components = comps
                    .iter()
                    .map(|c| {
                        component(c)
                            .map(|f| FullyQualifiedName::new(f.path.resolve(namespace), f.name))
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Exec::Sequence { components })
            }
            BLACKBOX => {
                let image = match o.get("image") {
                    Some(Value::String(i)) if valid_image(i) => i.clone(),
                    Some(Value::String(i)) => {
                        return Err(EntityError::malformed(format!(
                            "image name '{i}' is not valid"
                        )));
                    }
                    _ => {
                        return Err(EntityError::malformed(
                            "'image' must be a string defined in 'exec' for 'blackbox' actions",
                        ));
                    }
                };
                let main = main_field(o, &kind)?;
                let code = match o.get("code") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(c)) if c.trim().is_empty() => None,
                    Some(Value::String(c)) => Some(c.clone()),
                    Some(_) => {
                        return Err(EntityError::malformed(
                            "'code' must be a string or attachment object defined in 'exec' for 'blackbox' actions",
                        ));
                    }
                };
                let binary = code.as_deref().is_some_and(is_binary_code);
                Ok(Exec::Blackbox {
                    image,
                    code,
                    main,
                    binary,
                })
            }
            _ => {
                let Some(runtime) = manifest.resolve(&kind) else {
                    return Err(manifest.unsupported(&kind));
                };
                let kind = runtime.kind.clone();
                let main = main_field(o, &kind)?;
                let code = match o.get("code").or_else(|| o.get("jar")) {
                    Some(Value::String(c)) => c.clone(),
                    _ => {
                        return Err(EntityError::malformed(format!(
                            "'code' must be a string or attachment object defined in 'exec' for '{kind}' actions"
                        )));
                    }
                };
                if main.is_none() && runtime.require_main == Some(true) {
                    return Err(EntityError::malformed(format!(
                        "'main' must be a string defined in 'exec' for '{kind}' actions"
                    )));
                }
                let binary = is_binary_code(&code);
                Ok(Exec::Code {
                    kind,
                    code,
                    main,
                    binary,
                })
            }
        }
    }

    /// Reads an `exec` as the store keeps it (already validated when it was written).
    pub fn from_stored(v: &Value) -> Result<Exec, String> {
        let o = v.as_object().ok_or("exec is not an object")?;
        let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
        let kind = s("kind").ok_or("exec has no kind")?;
        let binary = o.get("binary").and_then(Value::as_bool).unwrap_or(false);
        Ok(match kind.as_str() {
            SEQUENCE => {
                let comps = o
                    .get("components")
                    .and_then(Value::as_array)
                    .ok_or("no components")?;
                let placeholder = EntityName::new("_").expect("valid");
                let components = comps
                    .iter()
                    .map(|c| {
                        c.as_str()
                            .and_then(|c| FullyQualifiedName::parse_path(c, &placeholder).ok())
                            .ok_or("bad component")
                    })
                    .collect::<Result<_, _>>()?;
                Exec::Sequence { components }
            }
            BUILTIN => Exec::Builtin {
                main: s("main").ok_or("no main")?,
            },
            BLACKBOX => Exec::Blackbox {
                image: s("image").ok_or("no image")?,
                code: s("code"),
                main: s("main"),
                binary,
            },
            _ => Exec::Code {
                kind,
                code: s("code").unwrap_or_default(),
                main: s("main"),
                binary,
            },
        })
    }

    pub fn kind(&self) -> &str {
        match self {
            Exec::Code { kind, .. } => kind,
            Exec::Blackbox { .. } => BLACKBOX,
            Exec::Sequence { .. } => SEQUENCE,
            Exec::Builtin { .. } => BUILTIN,
        }
    }

    pub fn is_sequence(&self) -> bool {
        matches!(self, Exec::Sequence { .. })
    }

    /// Size as the platform counts it against the exec limit: code, `main` and image.
    pub fn size(&self) -> usize {
        match self {
            Exec::Code { code, main, .. } => code.len() + main.as_ref().map_or(0, String::len),
            Exec::Blackbox {
                image, code, main, ..
            } => {
                image.len()
                    + code.as_ref().map_or(0, String::len)
                    + main.as_ref().map_or(0, String::len)
            }
            Exec::Sequence { components } => components.iter().map(|c| c.doc_id().len()).sum(),
            Exec::Builtin { main } => main.len(),
        }
    }

    /// The JSON form; `with_code: false` gives the metadata form (`?code=false`) without the code.
    pub fn to_json(&self, with_code: bool) -> Value {
        match self {
            Exec::Code {
                kind,
                code,
                main,
                binary,
            } => {
                let mut o = json!({"kind": kind});
                if with_code {
                    o["code"] = json!(code);
                }
                o["binary"] = json!(binary);
                if let Some(m) = main {
                    o["main"] = json!(m);
                }
                o
            }
            Exec::Blackbox {
                image,
                code,
                main,
                binary,
            } => {
                let mut o = json!({"kind": BLACKBOX, "image": image, "binary": binary});
                if let (true, Some(c)) = (with_code, code) {
                    o["code"] = json!(c);
                }
                if let Some(m) = main {
                    o["main"] = json!(m);
                }
                o
            }
            Exec::Sequence { components } => json!({
                "kind": SEQUENCE,
                "components": components.iter().map(FullyQualifiedName::with_leading_slash).collect::<Vec<_>>(),
            }),
            Exec::Builtin { main } => json!({"kind": BUILTIN, "main": main, "binary": false}),
        }
    }
}

/// A Docker reference: `[registry[:port]/]repo[/more][:tag][@digest]`, lower-case repository names.
fn valid_image(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 512
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c))
        && !s.starts_with(['/', ':', '@', '.', '-'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns() -> EntityName {
        EntityName::new("guest").unwrap()
    }

    #[test]
    fn default_kinds_resolve_to_the_family_default() {
        let m = Manifest::builtin();
        let e =
            Exec::from_put(&json!({"kind": " NodeJS:Default ", "code": "x"}), &m, &ns()).unwrap();
        assert_eq!(e.kind(), "nodejs:20");
    }

    #[test]
    fn unknown_kinds_list_every_valid_kind() {
        let m = Manifest::builtin();
        let err = Exec::from_put(&json!({"kind": "cobol:1", "code": "x"}), &m, &ns()).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with(
            "The specified runtime 'cobol:1' is not supported by this platform. Valid values are: '"
        ));
        assert!(
            text.contains("'blackbox'")
                && text.contains("'sequence'")
                && text.contains("'nodejs:20'")
        );
    }

    #[test]
    fn binary_is_computed_from_the_code_not_taken_from_the_body() {
        let m = Manifest::builtin();
        let zip = Exec::from_put(
            &json!({"kind": "nodejs:20", "code": "UEsDBAoAAAAA", "binary": false}),
            &m,
            &ns(),
        );
        assert!(matches!(zip.unwrap(), Exec::Code { binary: true, .. }));
        let src = Exec::from_put(
            &json!({"kind": "nodejs:20", "code": "function main(){}", "binary": true}),
            &m,
            &ns(),
        );
        assert!(matches!(src.unwrap(), Exec::Code { binary: false, .. }));
    }

    #[test]
    fn base64_detection_follows_upstreams_pattern() {
        assert!(is_binary_code("abcd"));
        assert!(is_binary_code(" QUJD\n"));
        assert!(is_binary_code("YQ=="));
        assert!(is_binary_code("YWI="));
        assert!(!is_binary_code("abc"));
        assert!(!is_binary_code("ab=c"));
        assert!(!is_binary_code("a===="));
        assert!(!is_binary_code(""));
    }

    #[test]
    fn missing_code_image_or_components_are_named() {
        let m = Manifest::builtin();
        let e = |v| Exec::from_put(&v, &m, &ns()).unwrap_err().to_string();
        assert_eq!(
            e(json!({"kind": "python:3.11"})),
            "'code' must be a string or attachment object defined in 'exec' for 'python:3.11' actions"
        );
        assert_eq!(
            e(json!({"kind": "blackbox"})),
            "'image' must be a string defined in 'exec' for 'blackbox' actions"
        );
        assert_eq!(
            e(json!({"kind": "sequence"})),
            "'components' must be defined for sequence kind"
        );
        assert_eq!(
            e(json!({"code": "x"})),
            "'kind' must be a string defined in 'exec'"
        );
    }

    #[test]
    fn sequence_components_resolve_the_default_namespace() {
        let m = Manifest::builtin();
        let e = Exec::from_put(
            &json!({"kind": "sequence", "components": ["/_/a", "/other/p/b"]}),
            &m,
            &ns(),
        )
        .unwrap();
        assert_eq!(
            e.to_json(true),
            json!({"kind": "sequence", "components": ["/guest/a", "/other/p/b"]})
        );
    }

    #[test]
    fn a_builtin_exec_round_trips_and_is_never_a_kind_a_put_may_name() {
        let e = Exec::Builtin {
            main: "alarms".into(),
        };
        assert_eq!(
            e.to_json(true),
            json!({"kind": "builtin", "main": "alarms", "binary": false})
        );
        assert_eq!(Exec::from_stored(&e.to_json(true)).unwrap(), e);
        let m = Manifest::builtin();
        assert!(Exec::from_put(&json!({"kind": "builtin", "main": "alarms"}), &m, &ns()).is_err());
        assert!(!m.valid_kinds().contains(&"builtin".to_string()));
    }

    #[test]
    fn the_metadata_form_leaves_the_code_out() {
        let e = Exec::Code {
            kind: "nodejs:20".into(),
            code: "x".into(),
            main: Some("m".into()),
            binary: false,
        };
        assert_eq!(
            e.to_json(false),
            json!({"kind": "nodejs:20", "binary": false, "main": "m"})
        );
        assert_eq!(Exec::from_stored(&e.to_json(true)).unwrap(), e);
    }
}
