// The generated code uses absolute paths and private names only: a module that shadows
// the prelude, `core` and `std`, and the names the expansion uses internally, still
// compiles.
#![allow(dead_code, non_upper_case_globals, non_camel_case_types, unused_macros)]

use serde::{Deserialize, Serialize};

// serde's derives do not survive `type str = ();`, so these live outside.
#[derive(Serialize, Deserialize)]
pub struct Point {
    pub x: i32,
}

#[derive(Serialize, Deserialize, Debug)]
pub enum Problem {
    Sandbox,
}

impl From<boxed::Error> for Problem {
    fn from(_: boxed::Error) -> Self {
        Problem::Sandbox
    }
}

mod shadowed {
    use super::{Point, Problem};

    mod core {}
    mod std {}
    mod boxed {}

    type Result = ();
    type Option = ();
    type Box = ();
    type Vec = ();
    type String = ();
    type str = ();
    type u8 = ();
    struct Ok;
    struct Err;
    struct Some;
    struct None;
    struct Fail;
    struct Entry;
    struct Served;
    struct Body;
    struct Borrow;
    struct __BoxedBody;
    mod linkme {}

    const value: u8 = ();
    const error: u8 = ();
    const bytes: u8 = ();
    const result: u8 = ();
    const __boxed_value: u8 = ();
    const __boxed_error: u8 = ();
    const __boxed_bytes: u8 = ();
    const __boxed_result: u8 = ();
    const __BOXED_NAME: u8 = ();
    const __BOXED_ENTRY: u8 = ();
    fn __boxed_body() {}
    fn __boxed_serve() {}

    macro_rules! concat {
        () => {};
    }
    macro_rules! module_path {
        () => {};
    }

    #[::boxed::sandboxed]
    pub fn add(a: u64, b: u64) -> u64 {
        a + b
    }

    #[::boxed::sandboxed]
    pub fn borrowed(
        text: &::core::primitive::str,
        items: &[i32],
        point: &Point,
        path: &::std::path::Path,
    ) -> ::std::string::String {
        ::std::format!("{text}{}{}{}", items.len(), point.x, path.display())
    }

    #[::boxed::sandboxed]
    pub fn fallible(x: i32) -> ::core::result::Result<i32, Problem> {
        ::core::result::Result::Ok(x)
    }

    #[::boxed::sandboxed]
    pub fn panicking(x: i32) -> ::core::result::Result<i32, ::std::string::String> {
        ::core::result::Result::Ok(x)
    }

    #[::boxed::sandboxed]
    pub fn nothing() {}
}

fn main() {
    let _ = (
        shadowed::add,
        shadowed::borrowed,
        shadowed::fallible,
        shadowed::panicking,
        shadowed::nothing,
    );
}
