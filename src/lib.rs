//! Lianming (联名): a server where people harmed by the same provider find each other, join a
//! grouped complaint, bring their evidence and sign jointly.

pub mod accounts;
pub mod admin;
pub mod app;
pub mod auth;
pub mod blob;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod dossier;
pub mod entities;
pub mod error;
pub mod evidence;
pub mod groups;
pub mod i18n;
pub mod interactions;
pub mod jobs;
pub mod json;
pub mod mail;
pub mod notify;
pub mod ops;
pub mod pages;
pub mod participation;
pub mod private_fs;
pub mod providers;
pub mod ratelimit;
pub mod responses;
pub mod retention;
pub mod router;
pub mod secrets;
pub mod state;
pub mod telemetry;
pub mod text;
pub mod tsa;

pub use app::Application;
pub use config::Settings;
pub use state::AppState;
