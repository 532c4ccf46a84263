#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod concurrency;
mod helpers;
mod journey;
mod smtp_selftest;
