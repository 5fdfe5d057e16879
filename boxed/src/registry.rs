//! The table of sandboxed functions the child dispatches on: one entry per
//! `#[sandboxed]` function, collected by the linker from every crate of the executable.

use linkme::distributed_slice;

use crate::__private::Served;
use crate::wire::Failure;

/// One sandboxed function: its mangled name and the glue that decodes the arguments,
/// runs the body and encodes the result.
#[doc(hidden)]
pub struct Entry {
    /// `crate::module::name#signature-hash@line:column`: the module path and name, a
    /// hash of the signature's tokens, and where the attribute stands, so that two
    /// functions of one name in one module (associated functions of different types,
    /// functions nested in different bodies) still have different names.
    pub name: &'static str,
    /// Decode, call, encode.
    pub serve: fn(crate::wire::Payload) -> Served,
}

/// Every sandboxed function linked into the executable.
#[doc(hidden)]
#[distributed_slice]
pub static SANDBOXED: [Entry];

/// The entry named `name`; two entries of one name would make dispatch ambiguous.
pub(crate) fn find(name: &str) -> Result<&'static Entry, Failure> {
    let mut matches = SANDBOXED.iter().filter(|entry| entry.name == name);
    match (matches.next(), matches.next()) {
        (Some(entry), None) => Ok(entry),
        (None, _) => Err(Failure::UnknownFunction),
        (Some(_), Some(_)) => Err(Failure::Protocol(format!(
            "two sandboxed functions are named `{name}` (defined by one macro invocation?); \
             give one of them another name"
        ))),
    }
}
