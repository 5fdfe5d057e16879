use boxed::sandboxed;

#[sandboxed]
fn sum<const N: usize>(items: [u32; N]) -> u32 {
    items.iter().sum()
}

fn main() {}
