use boxed::sandboxed;

#[sandboxed]
fn first_word(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or("")
}

fn main() {}
