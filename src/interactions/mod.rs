//! The contact log: every call, chat, email or visit a participant had with the provider's
//! customer service (when, channel, agent, ticket, what was said, outcome).

pub mod api;
pub mod dto;
pub mod pages;
pub mod service;

pub use api::routes;
