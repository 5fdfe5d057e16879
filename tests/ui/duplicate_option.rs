use boxed::sandboxed;

#[sandboxed(timeout = "1s", memory = "64MiB", timeout = "2s")]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

fn main() {}
