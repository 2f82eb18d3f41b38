//! Names, namespace paths and fully qualified names.
//!
//! A name segment matches `\A([\w]|[\w][\w@ .&-]{0,254}[\w@.&-])\z` with `\w` = `[A-Za-z0-9_]`: it starts
//! with a word character, may hold `@`, space, `.`, `&` and `-` inside, may not end with a space, and is
//! 1 to 256 characters long. `_` alone is valid, which is why it can stand for "my namespace".

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest a name segment may be.
pub const ENTITY_NAME_MAX_LENGTH: usize = 256;

/// The segment that stands for the caller's own namespace.
pub const DEFAULT_NAMESPACE: &str = "_";

/// Why a string is not a valid name segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    TooLong(usize),
    Illegal,
    /// A qualified name with fewer segments than a namespace and a name, or more than three.
    Malformed,
}

impl NameError {
    /// The text OpenWhisk answers for an invalid entity name in a URL.
    pub fn entity_message(&self) -> String {
        match self {
            NameError::TooLong(n) => {
                format!("Name segement longer than allowed: {n} > {ENTITY_NAME_MAX_LENGTH}.")
            }
            NameError::Illegal => "The name of the entity contains illegal characters.".into(),
            NameError::Malformed => MALFORMED_FQN.into(),
        }
    }

    /// The text OpenWhisk answers for an invalid namespace in a URL.
    /// The message for a fully qualified name read from a request body (a rule's action, a sequence's
    /// component): a name without namespace or entity fails a requirement while the body is read,
    /// and upstream's words say so.
    pub fn body_message(&self) -> String {
        match self {
            NameError::Malformed => format!("requirement failed: {MALFORMED_FQN}"),
            other => other.entity_message(),
        }
    }

    pub fn namespace_message(&self) -> String {
        match self {
            NameError::TooLong(n) => {
                format!("Namespace longer than allowed: {n} > {ENTITY_NAME_MAX_LENGTH}.")
            }
            NameError::Illegal => "The namespace contains illegal characters.".into(),
            NameError::Malformed => MALFORMED_FQN.into(),
        }
    }
}

pub const MALFORMED_FQN: &str = "The fully qualified name of the entity must contain at least the namespace and the name of the entity.";

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Checks a segment against the name rule; the length counted in characters.
pub fn check_name(s: &str) -> Result<(), NameError> {
    let len = s.chars().count();
    if len > ENTITY_NAME_MAX_LENGTH {
        return Err(NameError::TooLong(len));
    }
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return Err(NameError::Illegal);
    };
    if !is_word(first) {
        return Err(NameError::Illegal);
    }
    let inner_ok = |c: char| is_word(c) || matches!(c, '@' | ' ' | '.' | '&' | '-');
    if !s.chars().skip(1).all(inner_ok) || s.ends_with(' ') {
        return Err(NameError::Illegal);
    }
    Ok(())
}

/// One valid name segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EntityName(String);

impl EntityName {
    pub fn new(s: impl Into<String>) -> Result<Self, NameError> {
        let s = s.into();
        check_name(&s)?;
        Ok(EntityName(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_default(&self) -> bool {
        self.0 == DEFAULT_NAMESPACE
    }
}

impl<'de> Deserialize<'de> for EntityName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        EntityName::new(s.clone())
            .map_err(|_| serde::de::Error::custom(format!("name [{s}] is not allowed")))
    }
}

impl fmt::Display for EntityName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A namespace path: `ns` or `ns/pkg`. Parsing drops empty segments, so `/ns/`, `ns` and `ns//` agree.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityPath(Vec<EntityName>);

impl EntityPath {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let segments = s
            .split('/')
            .filter(|p| !p.is_empty())
            .map(EntityName::new)
            .collect::<Result<Vec<_>, _>>()?;
        if segments.is_empty() {
            return Err(NameError::Illegal);
        }
        Ok(EntityPath(segments))
    }

    pub fn root(&self) -> &EntityName {
        &self.0[0]
    }

    pub fn segments(&self) -> &[EntityName] {
        &self.0
    }

    pub fn from_name(name: EntityName) -> Self {
        EntityPath(vec![name])
    }

    /// This path with one more segment.
    pub fn child(&self, name: &EntityName) -> Self {
        let mut v = self.0.clone();
        v.push(name.clone());
        EntityPath(v)
    }

    /// The path with a leading `_` replaced by the caller's namespace.
    pub fn resolve(&self, namespace: &EntityName) -> Self {
        let mut v = self.0.clone();
        if v[0].is_default() {
            v[0] = namespace.clone();
        }
        EntityPath(v)
    }

    /// The last segment, and the path before it (none for a one-segment path).
    pub fn split_last(&self) -> (Option<EntityPath>, &EntityName) {
        let last = self.0.last().expect("a path has at least one segment");
        if self.0.len() == 1 {
            (None, last)
        } else {
            (Some(EntityPath(self.0[..self.0.len() - 1].to_vec())), last)
        }
    }
}

impl fmt::Display for EntityPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            f.write_str(s.as_str())?;
        }
        Ok(())
    }
}

impl Serialize for EntityPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EntityPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        EntityPath::parse(&s)
            .map_err(|_| serde::de::Error::custom(format!("path [{s}] is not allowed")))
    }
}

/// `/ns/name` or `/ns/pkg/name`: the path that holds an entity and its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FullyQualifiedName {
    pub path: EntityPath,
    pub name: EntityName,
}

impl FullyQualifiedName {
    pub fn new(path: EntityPath, name: EntityName) -> Self {
        FullyQualifiedName { path, name }
    }

    /// `ns/name`: an entity directly in a namespace.
    pub fn in_namespace(namespace: &EntityName, name: &EntityName) -> Self {
        FullyQualifiedName::new(EntityPath::from_name(namespace.clone()), name.clone())
    }

    /// The store's id for the entity: the name without its leading slash (`guest/pkg/hello`).
    pub fn doc_id(&self) -> String {
        format!("{}/{}", self.path, self.name)
    }

    /// `/guest/pkg/hello`.
    pub fn with_leading_slash(&self) -> String {
        format!("/{}", self.doc_id())
    }

    pub fn namespace(&self) -> &EntityName {
        self.path.root()
    }

    /// Reads an entity path string of at least two segments (`/ns/a`, `ns/pkg/a`) as a fully qualified
    /// name, resolving a leading `_` to `namespace`.
    pub fn parse_path(s: &str, namespace: &EntityName) -> Result<Self, NameError> {
        let path = EntityPath::parse(s)?.resolve(namespace);
        match path.split_last() {
            (Some(parent), name) => Ok(FullyQualifiedName::new(parent, name.clone())),
            (None, _) => Err(NameError::Malformed),
        }
    }

    /// Resolves a name a user wrote for an action, as OpenWhisk does for conductor and sequence steps:
    /// `a` and `pkg/a` are in the caller's namespace, `/ns/a` and `/ns/pkg/a` are as written, a
    /// three-segment `ns/pkg/a` is qualified; `/a` and anything longer than three segments is invalid.
    pub fn resolve_user_name(s: &str, namespace: &EntityName) -> Result<Self, NameError> {
        let path = EntityPath::parse(s)?;
        let n = path.segments().len();
        let leading = s.starts_with('/');
        let full = match (leading, n) {
            (true, 1) | (_, 4..) => return Err(NameError::Malformed),
            (false, 1) | (false, 2) => {
                let mut v = vec![namespace.clone()];
                v.extend(path.segments().iter().cloned());
                EntityPath(v)
            }
            _ => path,
        };
        let full = full.resolve(namespace);
        let (parent, name) = full.split_last();
        Ok(FullyQualifiedName::new(
            parent.expect("two or more segments"),
            name.clone(),
        ))
    }
}

impl fmt::Display for FullyQualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.path, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_upstream_accepts() {
        for ok in [
            "a",
            "_",
            "hello",
            "a b",
            "x@y.z",
            "a&b-c",
            "0",
            "a.",
            &"x".repeat(256),
        ] {
            assert!(check_name(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn rejects_names_upstream_rejects() {
        for bad in ["", " a", "a ", "-a", ".a", "a/b", "a$b", "é", "a\tb"] {
            assert_eq!(check_name(bad), Err(NameError::Illegal), "{bad:?}");
        }
        assert_eq!(check_name(&"x".repeat(257)), Err(NameError::TooLong(257)));
    }

    #[test]
    fn names_too_long_are_reported_with_upstreams_misspelling() {
        assert_eq!(
            NameError::TooLong(300).entity_message(),
            "Name segement longer than allowed: 300 > 256."
        );
    }

    #[test]
    fn paths_drop_empty_segments_and_resolve_the_default_namespace() {
        let p = EntityPath::parse("/_//pkg/").unwrap();
        assert_eq!(p.to_string(), "_/pkg");
        let guest = EntityName::new("guest").unwrap();
        assert_eq!(p.resolve(&guest).to_string(), "guest/pkg");
    }

    #[test]
    fn user_action_names_resolve_as_upstream_does() {
        let ns = EntityName::new("me").unwrap();
        let r = |s| FullyQualifiedName::resolve_user_name(s, &ns).map(|f| f.to_string());
        assert_eq!(r("a").unwrap(), "me/a");
        assert_eq!(r("pkg/a").unwrap(), "me/pkg/a");
        assert_eq!(r("/ns/a").unwrap(), "ns/a");
        assert_eq!(r("/ns/pkg/a").unwrap(), "ns/pkg/a");
        assert_eq!(r("ns/pkg/a").unwrap(), "ns/pkg/a");
        assert_eq!(r("/_/a").unwrap(), "me/a");
        assert!(r("/a").is_err());
        assert!(r("/a/b/c/d").is_err());
    }
}
