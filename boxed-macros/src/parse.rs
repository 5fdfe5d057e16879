//! Parsing: the attribute's arguments and the function, into structs that keep the user's spans.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::{FnArg, Ident, ItemFn, Pat, ReturnType, Type};

/// The options written inside `#[sandboxed(...)]`.
///
/// The attribute takes no options yet; the parser is in place so that unknown keys are
/// rejected with a message that lists the valid ones.
#[derive(Default)]
pub struct Options {}

/// The keys `#[sandboxed(...)]` accepts, listed in the error for an unknown key.
const VALID_KEYS: &[&str] = &[];

pub fn options(args: TokenStream) -> syn::Result<Options> {
    let options = Options::default();
    let parser = syn::meta::parser(|meta| {
        let path = &meta.path;
        let key = quote::quote!(#path).to_string().replace(' ', "");
        let valid = if VALID_KEYS.is_empty() {
            "it takes no options yet".to_string()
        } else {
            format!("valid keys are: {}", VALID_KEYS.join(", "))
        };
        Err(meta.error(format!("unknown `#[sandboxed]` option `{key}`: {valid}")))
    });
    parser.parse2(args)?;
    Ok(options)
}

/// How an argument crosses the boundary.
pub enum Passing {
    /// `x: T`: serialised by reference, deserialised as `T`, moved into the body.
    Value,
    /// `x: &T`: serialised as `T`, deserialised as `T`'s owned form, lent to the body.
    Borrowed { referent: Box<Type> },
}

pub struct Arg {
    pub name: Ident,
    pub ty: Type,
    pub passing: Passing,
}

pub struct Function {
    pub item: ItemFn,
    pub args: Vec<Arg>,
    /// The result type, `()` when the signature has none.
    pub output: Type,
}

/// Reads the function. Shapes that cannot be sandboxed are not judged here but in
/// `validate`, which sees the whole `ItemFn`; this only records what it can represent.
pub fn function(item: ItemFn) -> Function {
    let args = item
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(typed) => match &*typed.pat {
                Pat::Ident(pat) => Some(Arg {
                    name: pat.ident.clone(),
                    ty: (*typed.ty).clone(),
                    passing: match peel(&typed.ty) {
                        Type::Reference(r) if r.mutability.is_none() => Passing::Borrowed {
                            referent: r.elem.clone(),
                        },
                        _ => Passing::Value,
                    },
                }),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect();
    let output = match &item.sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    Function { item, args, output }
}

/// The type without the invisible group a `macro_rules!` `$t:ty` wraps it in, and without
/// parentheses: `&str` passed through a macro is still a borrowed argument.
pub fn peel(mut ty: &Type) -> &Type {
    loop {
        match ty {
            Type::Group(group) => ty = &group.elem,
            Type::Paren(paren) => ty = &paren.elem,
            _ => return ty,
        }
    }
}
