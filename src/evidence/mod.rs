//! The evidence locker: files a participant attaches to their participation (transaction
//! records, screenshots, chat logs, call records), streamed to the blob store while hashed,
//! typed by content, and readable only by their owner and the group's organisers.

pub mod api;
pub mod dto;
pub mod pages;
pub mod service;
pub mod sniff;

pub use api::routes;
