//! The wasm-bindgen API behind the npm package ([`api`]) and the errors it throws, with stable
//! codes ([`error`]).

mod api;
mod error;
