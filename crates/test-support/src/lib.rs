//! What every Sextant test suite shares: throwaway databases on both backends, the macro that
//! runs one test body on each backend, polling with a deadline, and assertions on the error
//! codes clients depend on. Starting a whole server lives in `sextant-test-server`, so that
//! the store's tests need not build it.
//!
//! Must not know: any Sextant crate; it is a dev-dependency every crate's tests may use.
#![forbid(unsafe_code)]

mod backends;
mod database;
mod errors;
mod eventually;

pub use database::{Backend, TestDatabase, pg_base_url};
pub use errors::{assert_error_code, error_code, error_message};
pub use eventually::{Ready, eventually};
