//! Authentication: password hashing, access and refresh tokens, and the extractor that turns a
//! bearer token into the current user.

pub mod extract;
pub mod password;
pub mod tokens;

pub use extract::CurrentUser;
