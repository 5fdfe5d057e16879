use boxed::sandboxed;

#[sandboxed]
fn count(words: Vec<&str>) -> usize {
    words.len()
}

fn main() {}
