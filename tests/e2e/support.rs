//! Building blocks shared by the end-to-end tests (kept in the crate's library, which the
//! benchmark shares).
pub use yeyak_e2e::seeding::*;
