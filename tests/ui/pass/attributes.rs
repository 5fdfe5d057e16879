// The function keeps its visibility, documentation and attributes.
#![deny(missing_docs, unused_must_use)]

//! A crate with documented items.

use boxed::sandboxed;

mod inner {
    use boxed::sandboxed;

    /// Adds two numbers, in a sandbox.
    ///
    /// More documentation.
    #[must_use]
    #[inline]
    #[sandboxed]
    pub(crate) fn add(a: u64, b: u64) -> u64 {
        a + b
    }
}

/// Attributes after the sandbox attribute are kept too.
#[sandboxed]
#[must_use = "the sum is the point"]
#[inline(never)]
pub fn add_again(a: u64, b: u64) -> u64 {
    a + b
}

/// An attribute the stub adds itself is not added twice.
#[track_caller]
#[sandboxed]
pub fn add_tracked(a: u64, b: u64) -> u64 {
    a + b
}

fn main() {
    let _ = (inner::add, add_again, add_tracked);
}
