//! The design documents (JavaScript map views with `_count` reduces) that the store's queries read,
//! one per database, and their installation at connect.
//!
//! They are Owl's own (`_design/owl.v1`), beside whatever upstream's tools install: the documents
//! themselves keep upstream's layout, the views are shaped for the [`Store`](crate::Store) queries.
//! Each list view's key ends in what orders it, so a list is one range read with `skip` and `limit`
//! and `include_docs`, and its count the same range through the `_count` reduce:
//!
//! - entities: `[entityType, scope, value, -updated]`, scope `root` (the namespace, packaged
//!   actions included), `path` (`ns` or `ns/pkg`), and `public-root`/`public-path` for published
//!   packages that are not bindings. Read ascending: newest first, ties by id.
//! - activations: `[namespace, start, activationId]`, `[filterName, start, activationId]` and
//!   `[start, activationId]`, read descending: newest first, ties by id descending.
//! - subjects: `identities` as upstream's `subjects/identities` (`[uuid, key]`, unblocked subjects
//!   only, the value linking the namespace's `{ns}/limits` document), and the subjects by namespace,
//!   by key UUID, and all of them.
//!
//! A changed view gets a new design document name (`owl.v2`), so that controllers of two versions
//! sharing a database during an upgrade do not rewrite one document back and forth.

use serde_json::{Value, json};

use super::http::Http;
use crate::{Result, StoreError};

pub(super) const DESIGN: &str = "owl.v1";
pub(super) const DESIGN_ID: &str = "_design/owl.v1";

const ENTITIES: &str = r#"function (doc) {
  if (typeof doc.entityType !== 'string' || typeof doc.namespace !== 'string' || typeof doc.updated !== 'number') return;
  var path = doc.namespace;
  var root = path.split('/')[0];
  var newest = -doc.updated;
  emit([doc.entityType, 'root', root, newest], null);
  emit([doc.entityType, 'path', path, newest], null);
  var binding = doc.binding && typeof doc.binding === 'object' && Object.keys(doc.binding).length > 0;
  if (doc.entityType === 'package' && doc.publish === true && !binding) {
    emit([doc.entityType, 'public-root', root, newest], null);
    emit([doc.entityType, 'public-path', path, newest], null);
  }
}"#;

/// The key of `Activation::filter_name` (entity/src/activation.rs), computed the same way: the
/// package from the `binding` annotation if there is one, else from a three-segment `path`.
const FILTER_NAME: &str = r#"function filterName(doc) {
  var root = doc.namespace.split('/')[0];
  var binding, path, hasBinding = false, hasPath = false;
  var annotations = Array.isArray(doc.annotations) ? doc.annotations : [];
  for (var i = 0; i < annotations.length; i++) {
    var a = annotations[i];
    if (a && a.key === 'binding' && !hasBinding) { hasBinding = true; binding = a.value; }
    if (a && a.key === 'path' && !hasPath) { hasPath = true; path = a.value; }
  }
  var p = hasBinding ? binding : path;
  var pkg;
  if (typeof p === 'string') {
    var segments = p.split('/');
    if (segments.length === 3) pkg = segments[1];
    else if (segments.length === 2 && hasBinding) pkg = segments[1];
  }
  return pkg === undefined ? root + '/' + doc.name : root + '/' + pkg + '/' + doc.name;
}"#;

fn activation_view(emit: &str) -> String {
    format!(
        "function (doc) {{\n  {FILTER_NAME}\n  if (typeof doc.activationId !== 'string' || typeof doc.namespace !== 'string' || typeof doc.start !== 'number') return;\n  {emit}\n}}"
    )
}

const SUBJECT: &str = "doc.subject && Array.isArray(doc.namespaces)";

fn subject_view(body: &str) -> String {
    format!("function (doc) {{\n  if (!({SUBJECT})) return;\n  {body}\n}}")
}

fn counted(map: impl Into<String>) -> Value {
    json!({"map": map.into(), "reduce": "_count"})
}

fn design(views: Value) -> Value {
    json!({"language": "javascript", "views": views})
}

pub(super) fn whisks() -> Value {
    design(json!({ "entities": counted(ENTITIES) }))
}

pub(super) fn subjects() -> Value {
    design(json!({
        "identities": {"map": subject_view(
            "if (doc.blocked) return;\n  doc.namespaces.forEach(function (ns) {\n    emit([ns.uuid, ns.key], {_id: ns.name + '/limits', namespace: ns.name, uuid: ns.uuid, key: ns.key});\n  });"
        )},
        "namespaces": {"map": subject_view(
            "doc.namespaces.forEach(function (ns) { emit(ns.name, null); });"
        )},
        "uuids": {"map": subject_view(
            "doc.namespaces.forEach(function (ns) { emit(ns.uuid, null); });"
        )},
        "subjects": {"map": subject_view("emit(doc.subject, null);")},
    }))
}

pub(super) fn activations() -> Value {
    design(json!({
        "by-namespace": counted(activation_view(
            "emit([doc.namespace.split('/')[0], doc.start, doc.activationId], null);"
        )),
        "by-name": counted(activation_view(
            "emit([filterName(doc), doc.start, doc.activationId], null);"
        )),
        "by-start": counted(activation_view("emit([doc.start, doc.activationId], null);")),
    }))
}

/// Writes the design document `doc` into `db` unless it is there already, as it is. Several
/// controllers may start at once: a lost race is read again.
pub(super) async fn ensure(http: &Http, db: &str, doc: &Value) -> Result<()> {
    for _ in 0..5 {
        let current = http.get(db, DESIGN_ID).await?;
        let rev = match current {
            Some((_, ref have))
                if have.get("views") == doc.get("views")
                    && have.get("language") == doc.get("language") =>
            {
                return Ok(());
            }
            Some((rev, _)) => Some(rev),
            None => None,
        };
        let body = doc.as_object().cloned().unwrap_or_default();
        match http.put(db, DESIGN_ID, body, rev.as_ref()).await {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict | StoreError::NotFound) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Backend(format!(
        "the design document {DESIGN_ID} of {db} kept changing while it was being installed"
    )))
}
