use boxed::sandboxed;

#[sandboxed]
struct Config {
    depth: u32,
}

fn main() {}
