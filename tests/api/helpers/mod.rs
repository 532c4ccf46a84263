pub mod app;
pub mod smtp;
