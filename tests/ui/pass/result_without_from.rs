// An error type without `From<boxed::Error>` still compiles: a failure of the sandbox
// panics instead of becoming an `Err`.
use boxed::sandboxed;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug)]
enum ParseError {
    Syntax(String),
}

#[sandboxed]
fn parse(text: String) -> Result<i64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("not a number: {text}"))
}

#[sandboxed]
fn parse_typed(text: String) -> Result<i64, ParseError> {
    text.trim()
        .parse()
        .map_err(|_| ParseError::Syntax(text.clone()))
}

fn main() {
    let _ = (parse, parse_typed);
}
