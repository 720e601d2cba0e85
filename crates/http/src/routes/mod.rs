//! Handlers, one module per resource. Handler names are the OpenAPI operation ids.

pub mod compliance;
pub mod enforcement;
pub mod keys;
pub mod mfa;
pub mod ops;
pub mod orgs;
pub mod policy;
pub mod policy_document;
pub mod self_service;
pub mod session;
pub mod sessions;
pub mod users;
