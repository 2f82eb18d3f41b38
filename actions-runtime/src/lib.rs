//! The actions-runtime proxy: the HTTP server inside every action container, speaking OpenWhisk's
//! action container protocol on port 8080.
//!
//! Modules, in the order a request's data flows through them:
//!
//! - [`config`]: which runtime this container is (Node.js, Python, Java, PHP, Ruby, Go, actionloop,
//!   native), whose words it speaks, and where things live.
//! - [`server`]: the two routes, `POST /init` and `POST /run`, the container's lifecycle state, and
//!   where the action's code is written or unpacked.
//! - [`archive`]: decoding an action's code: source text, or a base64 zip unpacked safely.
//! - [`build`]: an actionloop action's executable from its code: run as it is, or compiled (Go).
//! - [`launcher`]: the long-lived process (a language launcher of ours, or an actionloop executable
//!   such as a compiled Go action): one JSON line in on stdin, one result line out on file
//!   descriptor 3, as OpenWhisk's actionloop protocol has it.
//! - [`native`]: native actions, `/action/exec` run once per activation with the parameters as argument.
//! - [`error`]: the error answers, in the words OpenWhisk's runtimes use.

pub mod archive;
pub mod build;
pub mod config;
pub mod error;
pub mod launcher;
pub mod native;
pub mod server;
