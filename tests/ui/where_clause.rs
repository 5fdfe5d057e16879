use boxed::sandboxed;

#[sandboxed]
fn length(text: String) -> usize
where
    String: Clone,
{
    text.len()
}

fn main() {}
