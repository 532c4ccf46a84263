//! Groups: a grouped complaint against one provider, with its joint statement, demands,
//! status and public figures. Creating one makes the creator its owner.

pub mod access;
pub mod api;
pub mod dto;
pub mod service;

pub use access::{Role, require_role};
pub use api::routes;
