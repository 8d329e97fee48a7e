//! Helpers shared by the controller test crates.

pub mod mock_api;
