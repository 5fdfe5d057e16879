use boxed::sandboxed;

#[sandboxed]
fn push(items: &mut Vec<u32>, item: u32) {
    items.push(item);
}

fn main() {}
