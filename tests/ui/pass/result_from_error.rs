// `E: From<boxed::Error>`: a failure of the sandbox comes back as `Err(E::from(error))`.
use boxed::sandboxed;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug)]
enum ParseError {
    Syntax(String),
    Sandbox(String),
}

impl From<boxed::Error> for ParseError {
    fn from(error: boxed::Error) -> Self {
        ParseError::Sandbox(error.to_string())
    }
}

#[sandboxed]
fn parse(text: String) -> Result<i64, ParseError> {
    text.trim()
        .parse()
        .map_err(|_| ParseError::Syntax(text.clone()))
}

fn main() {
    let _ = parse;
}
