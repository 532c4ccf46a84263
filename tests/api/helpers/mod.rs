pub mod app;
pub mod dossier;
pub mod smtp;
pub mod team;
pub mod visitor;
