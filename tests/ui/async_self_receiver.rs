use boxed::sandboxed;

struct Parser;

impl Parser {
    #[sandboxed]
    async fn parse(&self, text: String) -> usize {
        text.len()
    }
}

fn main() {}
