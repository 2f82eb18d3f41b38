//! Every sentence the API answers with, in OpenWhisk's words (typos included: clients and users match
//! on them). One place, so the wording stays consistent and reviewable.

pub const RESOURCE_DOES_NOT_EXIST: &str = "The requested resource does not exist.";

/// A package its owner may read but that is not there, as the entitlement check names it.
pub fn resource_does_not_exist(what: &str) -> String {
    format!("The requested resource '{what}' does not exist.")
}
pub const ROUTE_NOT_FOUND: &str = "The requested resource could not be found.";
pub const NOT_AUTHORIZED: &str =
    "The supplied authentication is not authorized to access this resource.";
pub const AUTH_MISSING: &str =
    "The resource requires authentication, which was not supplied with the request";
pub const AUTH_INVALID: &str = "The supplied authentication is invalid";
pub const CONFLICT: &str = "Concurrent modification to resource detected.";
pub const CONFORMANCE: &str = "Resource by this name exists but is not in this collection.";
pub const CORRUPTED: &str = "Resource is corrupted and cannot be read.";
pub const ALREADY_EXISTS: &str = "resource already exists";
pub const INTERNAL_ERROR: &str = "Internal server error";
pub const SERVICE_UNAVAILABLE: &str =
    "The server is currently unavailable (because it is overloaded or down for maintenance).";
/// Owl's own: the entity or record store cannot be reached or did not answer in time.
pub const STORE_UNAVAILABLE: &str =
    "The database is currently unavailable or did not answer in time. Retry later.";
pub const UNSUPPORTED_CONTENT_TYPE: &str =
    "The request's Content-Type is not supported. Expected:\napplication/json";

pub const BINDING_DOES_NOT_EXIST: &str = "Binding references a package that does not exist.";
pub const BINDING_CANNOT_REFERENCE_BINDING: &str = "Cannot bind to another package binding.";
pub const BINDING_NOT_A_PACKAGE: &str = "Cannot bind to a resource that is not a package.";
pub const NOT_ALLOWED_ON_BINDING: &str = "Operation not permitted on package binding.";

pub const SEQUENCE_TOO_LONG: &str = "Too many actions in the sequence.";
pub const SEQUENCE_NO_COMPONENT: &str = "No component specified for the sequence.";
pub const SEQUENCE_CYCLIC: &str = "Sequence may not refer to itself.";
pub const SEQUENCE_COMPONENT_NOT_FOUND: &str = "Sequence component does not exist.";

pub const PARAMETERS_NOT_ALLOWED: &str =
    "Request defines parameters that are not allowed (e.g., reserved properties).";

pub const RULE_NEEDS_EXISTING_TRIGGER: &str = "Only rules with existing triggers can be activated";
pub const DOCS_NOT_ALLOWED_WITH_COUNT: &str = "The parameter 'docs' is not permitted with 'count'.";

pub fn malformed_body(detail: &str) -> String {
    format!("The request content was malformed:\n{detail}")
}

pub fn malformed_query(param: &str, detail: &str) -> String {
    format!("The query parameter '{param}' was malformed:\n{detail}")
}

pub fn not_authorized_to_access(what: &str) -> String {
    format!("The supplied authentication is not authorized to access '{what}'.")
}

pub fn method_not_allowed(allowed: &[&str]) -> String {
    format!(
        "HTTP method not allowed, supported methods: {}",
        allowed.join(", ")
    )
}

pub fn package_name_reserved(name: &str) -> String {
    format!("Package name '{name}' is reserved.")
}

pub fn binding_circular(fqn: &str) -> String {
    format!("Package binding '{fqn}' contains a circular reference.")
}

pub fn package_not_empty(n: u64) -> String {
    let what = if n == 1 { "entity" } else { "entities" };
    format!("Package not empty (contains {n} {what}). Set force param or delete package contents.")
}

pub fn list_limit_out_of_range(collection: &str, value: i64, max: usize) -> String {
    format!("The value '{value}' is not in the range of 0 to {max} for {collection}.")
}

pub fn list_skip_out_of_range(collection: &str, value: i64) -> String {
    format!("The value '{value}' is not greater than or equal to 0 for {collection}.")
}

pub fn not_an_integer(collection: &str, value: &str) -> String {
    format!("The value '{value}' is not an integer for {collection}.")
}

pub fn bad_name_filter(value: &str) -> String {
    format!("Parameter may be a 'simple' name or 'package-name/simple' name: {value}")
}

pub fn bad_epoch(value: &str) -> String {
    format!("Parameter is not a valid value for epoch seconds: {value}")
}

pub fn entity_does_not_exist(kind: &str, fqn: &str) -> String {
    format!("{kind} {fqn} does not exist")
}

pub fn trigger_with_inactive_rule(rule: &str, action: &str) -> String {
    format!("Rule '{rule}' is inactive, action '{action}' was not activated.")
}

pub const BODY_TIMEOUT: &str = "The request's body did not arrive in time.";

pub fn request_too_large(size: usize, max: usize) -> String {
    format!("Request larger than allowed: {size} > {max} bytes.")
}

// Sequences and compositions at run time.
pub const SEQUENCE_FAILED: &str = "Sequence failed.";
pub fn sequence_retrieve_timeout(id: &impl std::fmt::Display) -> String {
    format!("Timeout reached when retrieving activation {id} for sequence component.")
}
pub const COMPOSITION_TOO_LONG: &str = "Too many actions in the composition.";
pub const COMPOSITION_FAILED: &str = "Activation failure during composition.";
pub fn composition_timeout(id: &impl std::fmt::Display) -> String {
    format!("Timeout reached when retrieving activation {id} during composition.")
}
pub fn composition_component_invalid(value: &serde_json::Value) -> String {
    format!("Failed to parse action name from json value {value} during composition.")
}
pub fn composition_component_not_found(name: &str) -> String {
    format!("Failed to resolve action with name '{name}' during composition.")
}
pub fn composition_component_not_accessible(name: &str) -> String {
    format!("Failed entitlement check for action with name '{name}' during composition.")
}

// Web actions (`/api/v1/web/...`, see `crate::web`): the answers upstream's web action handler and
// its HTTP framework give.
/// A `.text` result without `body` or `text`, or an application error without `error`.
pub const WEB_PROPERTY_NOT_FOUND: &str = "Response does not include requested property.";
/// A blocking web invoke whose activation did not finish in time (202).
pub const WEB_RESPONSE_NOT_READY: &str = "Response not yet ready.";
/// An `.http` result whose `Content-Type` header does not parse as a media type.
pub const WEB_UNKNOWN_CONTENT_TYPE: &str = "Response did not specify a known content-type.";
/// An `.http` body that does not fit its content type (not base64 for a binary type, a JSON value
/// for a non-JSON type).
pub const WEB_CONTENT_TYPE_MISMATCH: &str =
    "Response type in header did not match generated content type.";
/// An activation that ended in a developer or whisk error.
pub const WEB_ERROR_PROCESSING_REQUEST: &str = "There was an error processing your request.";
/// The default sentence of a bare 401, as a `require-whisk-auth` refusal answers it.
pub const WEB_UNAUTHORIZED: &str =
    "Authentication is possible but has failed or not yet been provided.";

/// A result that does not fit its extension's media type (`message/http` for `.http`).
pub fn web_invalid_media(media_type: &str) -> String {
    format!("Response is not valid '{media_type}'.")
}

/// The answer's representation is none the request's `Accept` headers take (406).
pub fn web_not_acceptable(offered: &str) -> String {
    format!("Resource representation is only available with these types:\n{offered}")
}
