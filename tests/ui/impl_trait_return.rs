use boxed::sandboxed;

#[sandboxed]
fn numbers(count: u32) -> impl Iterator<Item = u32> {
    0..count
}

fn main() {}
