//! Site administration: the provider directory (review, edit names and aliases, merge
//! duplicates), suspending users and groups, and the failed-mail view. Pages under `/admin`,
//! JSON under `/api/v1/admin`; both call the services here, which admit administrators only.

pub mod api;
pub mod dto;
pub mod pages;
pub mod service;

pub use api::routes;
