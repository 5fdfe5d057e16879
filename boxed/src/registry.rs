//! The table of sandboxed functions the child dispatches on: one entry per
//! `#[sandboxed]` function, collected by the linker from every crate of the executable,
//! and the serving glue each entry's generated code implements ([`Body`], [`serve`]).

use linkme::distributed_slice;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::wire::{Failure, Payload};

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
    pub serve: fn(Payload) -> Served,
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

/// What the child-side glue returns: the encoded result, or what went wrong.
pub type Served = Result<Payload, ServeError>;

/// A failure of the child-side glue.
pub enum ServeError {
    /// The arguments did not decode into the parameter types.
    Decode(String),
    /// The result did not encode.
    Encode(String),
}

/// One sandboxed function as the child runs it, implemented by the generated code on a
/// type of its own. A trait rather than a closure so that the glue binds no names of its
/// own in patterns, which a constant of the same name in the user's scope would hijack.
pub trait Body {
    /// The arguments, as a tuple of their owned forms.
    type Args: DeserializeOwned;
    /// The result.
    type Output: Serialize;
    /// Lends the arguments to the function's real body and runs it.
    fn run(args: Self::Args) -> Self::Output;
}

/// Child side: decodes the arguments of `B`, runs it, encodes its result.
pub fn serve<B: Body>(args: Payload) -> Served {
    let args = args
        .decode()
        .map_err(|e| ServeError::Decode(e.to_string()))?;
    Payload::encode_owned(B::run(args)).map_err(|e| ServeError::Encode(e.to_string()))
}
