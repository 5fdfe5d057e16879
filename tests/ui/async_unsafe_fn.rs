use boxed::sandboxed;

#[sandboxed]
async unsafe fn add(a: u32, b: u32) -> u32 {
    a + b
}

fn main() {}
