//! Black-box compatibility tests: they start the real `owl` binary and speak to it over HTTP only.
//!
//! - [`server`]: starts `owl standalone` (or two controllers and two invokers on RabbitMQ and CouchDB)
//!   with storage of its own, restarts it on the same storage, kills parts of it, and stops it when
//!   dropped.
//! - [`services`]: a RabbitMQ broker of a test's own, for tests that restart it.
//! - [`client`]: sends requests shaped as the `wsk` CLI shapes them (headers, bodies ending in a newline,
//!   query keys in order) and checks every response against OpenWhisk's swagger description.
//! - [`swagger`]: a validator for the subset of JSON Schema that swagger 2.0 descriptions use.
//! - [`blank`]: blanks volatile fields (`updated`, `code`, ids, times) so whole bodies can be compared.
//!
//! The tests themselves are in `tests/`; the JavaScript client's tests are in `js/`.

pub mod blank;
pub mod client;
pub mod server;
pub mod services;
pub mod swagger;

pub use blank::blank;
pub use client::{Client, Response};
pub use server::{Owl, Topology, binary};

/// Milliseconds since the epoch, now (what activation records and alarm dates use).
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// OpenWhisk's well-known keys, which `owl standalone` preloads.
pub const GUEST_KEY: &str = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP";
pub const WHISK_SYSTEM_KEY: &str = "789c46b1-71f6-4ed5-8c54-816aa4f8c502:abczO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP";

/// A zip archive (stored, no compression) of `files`, base64-encoded as an action's `code`.
pub fn zip_base64(files: &[(&str, &[u8])]) -> String {
    use base64::Engine;
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, data) in files {
            w.start_file(*name, stored).expect("a zip entry");
            w.write_all(data).expect("zip data");
        }
        w.finish().expect("a finished zip");
    }
    base64::engine::general_purpose::STANDARD.encode(buf.into_inner())
}
