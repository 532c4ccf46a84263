//! Providers: the companies complained about, with zh/en names, aliases and kind. Anyone may
//! search them; administrators curate; a group may propose a new one (kept unreviewed).

pub mod api;
pub mod dto;
pub mod pages;
pub mod service;
pub mod slug;

pub use api::routes;
