//! The `#[sandboxed]` attribute of the [`boxed`](https://docs.rs/boxed) crate.
//!
//! Depend on `boxed` and write `#[boxed::sandboxed]`; this crate is its implementation
//! detail and is versioned in lock-step with it. The work is split into
//! `parse` (tokens into small structs that keep the user's spans), `validate`
//! (every shape that cannot cross a process boundary, reported together) and
//! `expand` (the stub and its registration, which only call `::boxed::__private`).

mod expand;
mod parse;
mod validate;

use proc_macro::TokenStream;

/// Runs every call of the function in a fresh, unprivileged child process.
///
/// Used through the `boxed` crate, which re-exports it with its full documentation
/// (`boxed::sandboxed`).
#[proc_macro_attribute]
pub fn sandboxed(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::sandboxed(args.into(), item.into()).into()
}
