#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod journey;
mod smtp_selftest;
