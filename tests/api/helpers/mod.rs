pub mod app;
pub mod dossier;
pub mod instance;
pub mod smtp;
pub mod team;
pub mod tsa;
pub mod visitor;
