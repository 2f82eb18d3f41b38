//! The one validation error of the data model.
//!
//! Each variant says *how* the controller must answer, because OpenWhisk answers validation failures in
//! three ways: as a malformed request body (`The request content was malformed:\n<detail>`), as a plain
//! 400 with its own sentence, or as 413 for a size limit. The text is OpenWhisk's wording.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EntityError {
    /// The body could not be read as the entity: answered 400 as malformed content with this detail.
    #[error("{0}")]
    Malformed(String),
    /// A rule of the platform was broken: answered 400 with exactly this sentence.
    #[error("{0}")]
    BadRequest(String),
    /// The request conflicts with what is stored: answered 409 with this sentence.
    #[error("{0}")]
    Conflict(String),
    /// A size limit was exceeded: answered 413 with this sentence.
    #[error("{0}")]
    TooLarge(String),
}

impl EntityError {
    pub fn malformed(detail: impl Into<String>) -> Self {
        EntityError::Malformed(detail.into())
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        EntityError::BadRequest(message.into())
    }

    /// `<field> larger than allowed: <n> > <max> bytes.`
    pub fn too_large(field: &str, size: usize, allowed: usize) -> Self {
        EntityError::TooLarge(format!(
            "{field} larger than allowed: {size} > {allowed} bytes."
        ))
    }
}
