#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod auth;
mod cli;
mod concurrency;
mod dashboard;
mod evidence;
mod helpers;
mod journey;
mod notify;
mod openapi;
mod organisers;
mod pages;
mod responses;
mod roster;
mod smtp_selftest;
mod validation;
