use boxed::sandboxed;

trait Parser {
    #[sandboxed]
    fn parse(text: String) -> u32;
}

fn main() {}
