//! The API's error: a status and a sentence, answered as `{"error": ..., "code": <transaction id>}`.
//! Validation errors of the data model and store errors are mapped to HTTP here, once.

use actix_web::http::StatusCode;
use owl_entity::EntityError;
use owl_store::StoreError;

use crate::messages;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn malformed_body(detail: &str) -> Self {
        Self::bad_request(messages::malformed_body(detail))
    }

    pub fn malformed_query(param: &str, detail: &str) -> Self {
        Self::bad_request(messages::malformed_query(param, detail))
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, messages::RESOURCE_DOES_NOT_EXIST)
    }

    /// 404 naming the resource, as upstream's entitlement check answers for a missing package.
    pub fn not_found_named(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            messages::resource_does_not_exist(what),
        )
    }

    pub fn forbidden(what: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            messages::not_authorized_to_access(what),
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    pub fn conformance() -> Self {
        Self::conflict(messages::CONFORMANCE)
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, messages::INTERNAL_ERROR)
    }
}

impl From<EntityError> for ApiError {
    fn from(e: EntityError) -> Self {
        match e {
            EntityError::Malformed(d) => ApiError::malformed_body(&d),
            EntityError::BadRequest(m) => ApiError::bad_request(m),
            EntityError::Conflict(m) => ApiError::conflict(m),
            EntityError::TooLarge(m) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, m),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            // A write lost a race: another request changed or removed the document since it was read.
            StoreError::Conflict | StoreError::NotFound => ApiError::conflict(messages::CONFLICT),
            StoreError::Corrupt(id) => {
                tracing::error!(document = %id, "stored document does not read back");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, messages::CORRUPTED)
            }
            StoreError::Backend(e) => {
                tracing::error!(error = %e, "store failure");
                ApiError::internal()
            }
            StoreError::Unavailable(e) => {
                tracing::error!(error = %e, "store unavailable");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, messages::STORE_UNAVAILABLE)
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
