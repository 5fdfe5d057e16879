use boxed::sandboxed;

#[sandboxed]
fn count(items: &[impl std::fmt::Display]) -> usize {
    items.len()
}

fn main() {}
