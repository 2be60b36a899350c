//! Encoding of the blobs jobs exchange (postcard). A blob that does not
//! decode is a permanent failure naming the blob: retrying cannot fix it.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::jobs::JobError;

/// Encodes a blob.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("in-memory values always serialise")
}

/// Decodes the blob called `name`.
pub fn decode<T: DeserializeOwned>(name: &str, bytes: &[u8]) -> Result<T, JobError> {
    postcard::from_bytes(bytes)
        .map_err(|e| JobError::Permanent(format!("staging blob {name} is unreadable: {e}")))
}
