//! The quickstart: three sandboxed functions, called like plain functions.
//!
//! Run it with `cargo run -p boxed-examples --bin quickstart` once the launcher serves
//! you, or with `bash examples/run.sh`, which sets the launcher up and runs it as an
//! unprivileged user.

use boxed::sandboxed;
use serde::{Deserialize, Serialize};

/// Runs as `nobody` in a fresh process.
#[sandboxed]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

/// Panics on a zero divisor; the panic is re-raised in the caller, or caught by
/// `boxed::try_call`.
#[sandboxed]
fn divide(a: u64, b: u64) -> u64 {
    a / b
}

/// Borrowed arguments work: the child deserialises owned values and lends them.
#[sandboxed]
fn word_count(text: &str, stop: &[String]) -> usize {
    text.split_whitespace()
        .filter(|word| !stop.iter().any(|s| s == word))
        .count()
}

/// What the sandboxed parser returns.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Ast {
    Number(i64),
    Sum(Vec<Ast>),
}

/// Parse failures, and sandbox failures, which arrive as `ParseError::Sandbox` with
/// the whole `boxed::Error` (it is `Serialize` and `Deserialize`, so this type can
/// cross the sandbox boundary, and `kind()` still says what failed).
#[derive(Serialize, Deserialize, Debug)]
enum ParseError {
    Syntax(String),
    Sandbox(boxed::Error),
}

impl From<boxed::Error> for ParseError {
    fn from(error: boxed::Error) -> Self {
        ParseError::Sandbox(error)
    }
}

/// Parses `1 + 2 + 3` into a sum. Pretend it is a large parser you do not trust.
#[sandboxed]
fn parse(text: String) -> Result<Ast, ParseError> {
    let terms: Result<Vec<Ast>, ParseError> = text
        .split('+')
        .map(|term| {
            term.trim()
                .parse()
                .map(Ast::Number)
                .map_err(|_| ParseError::Syntax(format!("not a number: {:?}", term.trim())))
        })
        .collect();
    terms.map(Ast::Sum)
}

/// Reports who the child runs as, from the kernel's own view of it.
#[sandboxed]
fn whoami() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .filter(|line| {
            [
                "Uid:",
                "Gid:",
                "Groups:",
                "CapEff:",
                "CapPrm:",
                "NoNewPrivs:",
            ]
            .iter()
            .any(|key| line.starts_with(key))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn main() {
    assert_eq!(add(2, 3), 5);
    println!("add(2, 3) = {}", add(2, 3));

    let stop = vec!["the".to_string(), "a".to_string()];
    let n = word_count("the quick brown fox jumps over a lazy dog", &stop);
    println!("word_count(..) = {n}");

    match parse("1 + 2 + 40".to_string()) {
        Ok(ast) => println!("parse(\"1 + 2 + 40\") = {ast:?}"),
        Err(error) => println!("parse failed: {error:?}"),
    }
    match parse("1 + two".to_string()) {
        Ok(ast) => println!("parse(\"1 + two\") = {ast:?}"),
        Err(ParseError::Sandbox(error)) => {
            println!("the sandbox failed ({:?}): {error}", error.kind())
        }
        Err(error) => println!("parse(\"1 + two\") failed: {error:?}"),
    }

    println!("the sandboxed child runs as:\n{}", whoami());
    match boxed::try_call(|| divide(1, 0)) {
        Ok(quotient) => println!("divide(1, 0) = {quotient}"),
        Err(error) => println!("divide(1, 0) failed in the sandbox:\n  {error}"),
    }
}
