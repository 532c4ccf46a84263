pub mod app;
pub mod smtp;
pub mod team;
