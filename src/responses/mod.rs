//! Provider-response tracking: the group timeline (what recipients said and did, with a
//! response class for provider answers), submissions with their answer clocks counted on the
//! holiday table, the group status machine, and the provider scorecard.

pub mod api;
pub mod deadlines;
pub mod dto;
pub mod holidays;
pub mod pages;
pub mod scorecard;
pub mod status;
pub mod submissions;
pub mod updates;

pub use api::routes;
