// A sandboxed function defined inside another function's body.
use boxed::sandboxed;

fn outer() -> fn(u32, u32) -> u32 {
    #[sandboxed]
    fn add(a: u32, b: u32) -> u32 {
        a + b
    }

    add
}

fn main() {
    let _ = outer;
}
