//! Accounts: registration with email verification, login with rotating refresh tokens,
//! password reset, and the user's own data (`/me`, export, deletion).

pub mod api;
pub mod dto;
pub mod pages;
pub mod service;

pub use api::routes;
