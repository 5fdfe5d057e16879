use boxed::sandboxed;

#[sandboxed]
async fn push(items: &mut Vec<u32>) {
    items.push(1);
}

fn main() {}
