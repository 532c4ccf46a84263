#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod auth;
mod cli;
mod concurrency;
mod evidence;
mod helpers;
mod journey;
mod openapi;
mod pages;
mod smtp_selftest;
mod validation;
