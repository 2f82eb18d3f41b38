//! Basic authentication: the username is a namespace's UUID, the password its 64-character key.

use actix_web::http::StatusCode;
use base64::Engine;
use owl_entity::identity::{AuthKey, Identity};
use owl_entity::name::EntityName;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::messages;
use crate::request::Request;

pub async fn authenticate(state: &AppState, req: &Request) -> ApiResult<Identity> {
    let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, m);
    let header = req
        .authorization
        .as_deref()
        .ok_or_else(|| unauthorized(messages::AUTH_MISSING))?;
    let key = parse_basic(header).ok_or_else(|| unauthorized(messages::AUTH_INVALID))?;
    state
        .store
        .identity_for_key(&key)
        .await?
        .ok_or_else(|| unauthorized(messages::AUTH_INVALID))
}

/// The caller a request's credentials name, if they are valid; none otherwise (web actions serve
/// anonymous callers, and treat bad credentials as none).
pub async fn authenticate_optional(state: &AppState, req: &Request) -> ApiResult<Option<Identity>> {
    let Some(key) = req.authorization.as_deref().and_then(parse_basic) else {
        return Ok(None);
    };
    Ok(state.store.identity_for_key(&key).await?)
}

/// The identity that owns `namespace` (the one its actions run as on a web request): the first
/// subject with a key to it that is not blocked.
pub async fn owner_of(state: &AppState, namespace: &EntityName) -> ApiResult<Option<Identity>> {
    for subject in state.store.subjects_of_namespace(namespace).await? {
        let Some(ns) = subject.namespaces.iter().find(|n| &n.name == namespace) else {
            continue;
        };
        if let Some(identity) = state.store.identity_for_key(&ns.auth_key()).await? {
            return Ok(Some(identity));
        }
    }
    Ok(None)
}

/// `Basic base64(uuid:key)` to a key of the right shape.
fn parse_basic(header: &str) -> Option<AuthKey> {
    let (scheme, credentials) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials.trim())
        .ok()?;
    AuthKey::parse(std::str::from_utf8(&decoded).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_of_the_right_shape_parse() {
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(owl_entity::identity::GUEST_KEY)
        );
        assert_eq!(
            parse_basic(&header).unwrap().compact(),
            owl_entity::identity::GUEST_KEY
        );
        assert!(parse_basic("Bearer abc").is_none());
        assert!(parse_basic("Basic !!!").is_none());
        let short = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("u:short")
        );
        assert!(parse_basic(&short).is_none());
    }
}
