//! Groups: a grouped complaint against one provider, with its joint statement, demands,
//! status and public figures. Creating one makes the creator its owner; the owner's team of
//! organisers and moderators keeps the roster, the statement and the dashboard.

pub mod access;
pub mod api;
pub mod cache;
pub mod cells;
pub mod charts;
pub mod dashboard;
pub mod dto;
pub mod find_pages;
pub mod manage_pages;
pub mod organisers;
pub mod pages;
pub mod participant_pages;
pub mod roster;
pub mod search;
pub mod service;
pub mod signals;
pub mod statement;
pub mod team_api;
pub mod team_dto;
pub mod team_pages;

pub use access::{Role, require_role};
pub use api::routes;
pub use team_api::routes as team_routes;
