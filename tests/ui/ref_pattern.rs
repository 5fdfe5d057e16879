use boxed::sandboxed;

#[sandboxed]
fn length(ref text: String) -> usize {
    text.len()
}

fn main() {}
