use boxed::sandboxed;

#[sandboxed]
fn sorted(mut items: Vec<u32>, mut extra: u32) -> Vec<u32> {
    extra += 1;
    items.push(extra);
    items.sort();
    items
}

fn main() {
    let _ = sorted;
}
