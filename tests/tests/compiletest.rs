//! Compile tests of `#[sandboxed]`: every shape it refuses, with the exact message
//! (`tests/ui/*.rs` + `.stderr`), and shapes it must accept (`tests/ui/pass/*.rs`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/*.rs");
}
