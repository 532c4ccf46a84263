//! Participation: one user in one group, with their own statement, disputed amount, transaction
//! references, consents and signature of the joint statement.

pub mod api;
mod batch;
pub mod dto;
pub mod join_pages;
pub mod pages;
pub mod service;
pub mod sign;
pub mod writer;

pub use api::routes;
