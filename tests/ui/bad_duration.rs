use boxed::sandboxed;

#[sandboxed(timeout = "2 parsecs")]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

fn main() {}
