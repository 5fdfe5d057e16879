//! Parsing: the attribute's options and the function, into structs that keep the user's spans.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::spanned::Spanned as _;
use syn::{FnArg, Ident, ItemFn, LitBool, LitInt, LitStr, Pat, ReturnType, Type};

/// The options written inside `#[sandboxed(...)]`, each with the span of its value.
/// Sizes and durations are already converted, so a malformed one is a compile error.
#[derive(Default)]
pub struct Options {
    pub timeout: Option<Spanned<u128>>,
    pub cpu_time: Option<Spanned<u128>>,
    pub memory: Option<Spanned<u64>>,
    pub max_open_files: Option<Spanned<u64>>,
    pub max_file_size: Option<Spanned<u64>>,
    pub max_response: Option<Spanned<u64>>,
    pub max_processes: Option<Spanned<u64>>,
    pub network: Option<Spanned<bool>>,
    pub read: Option<Spanned<Vec<String>>>,
    pub write: Option<Spanned<Vec<String>>>,
    pub landlock: Option<Spanned<String>>,
    pub user: Option<Spanned<String>>,
    pub unique_uid: Option<Spanned<bool>>,
    pub zygote: Option<Spanned<bool>>,
}

pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// The keys `#[sandboxed(...)]` accepts, listed in the error for an unknown key.
const VALID_KEYS: &str = "timeout, cpu_time, memory, max_open_files, max_file_size, \
                          max_response, max_processes, network, read, write, landlock, user, \
                          unique_uid, zygote";

pub fn options(args: TokenStream) -> syn::Result<Options> {
    let mut options = Options::default();
    let mut errors: Option<syn::Error> = None;
    let parser = syn::meta::parser(|meta| {
        let path = &meta.path;
        let key = quote::quote!(#path).to_string().replace(' ', "");
        let result = (|| -> syn::Result<()> {
            match key.as_str() {
                "timeout" => set(
                    &meta,
                    &mut options.timeout,
                    duration(&quoted(&meta, "2s")?)?,
                ),
                "cpu_time" => set(
                    &meta,
                    &mut options.cpu_time,
                    duration(&quoted(&meta, "2s")?)?,
                ),
                "memory" => set(&meta, &mut options.memory, size(&quoted(&meta, "256MiB")?)?),
                "max_file_size" => set(
                    &meta,
                    &mut options.max_file_size,
                    size(&quoted(&meta, "256MiB")?)?,
                ),
                "max_response" => set(
                    &meta,
                    &mut options.max_response,
                    size(&quoted(&meta, "16MiB")?)?,
                ),
                "max_open_files" => set(
                    &meta,
                    &mut options.max_open_files,
                    count(&meta.value()?.parse()?)?,
                ),
                "max_processes" => set(
                    &meta,
                    &mut options.max_processes,
                    count(&meta.value()?.parse()?)?,
                ),
                "network" => {
                    let lit: LitBool = meta.value()?.parse()?;
                    set(
                        &meta,
                        &mut options.network,
                        Spanned {
                            value: lit.value,
                            span: lit.span(),
                        },
                    )
                }
                "zygote" => {
                    // `zygote` alone means `zygote = true`.
                    let value = if meta.input.peek(syn::Token![=]) {
                        let lit: LitBool = meta.value()?.parse()?;
                        Spanned {
                            value: lit.value,
                            span: lit.span(),
                        }
                    } else {
                        Spanned {
                            value: true,
                            span: meta.path.span(),
                        }
                    };
                    set(&meta, &mut options.zygote, value)
                }
                "unique_uid" => {
                    let lit: LitBool = meta.value()?.parse()?;
                    let value = Spanned {
                        value: lit.value,
                        span: lit.span(),
                    };
                    set(&meta, &mut options.unique_uid, value)
                }
                "user" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    if lit.value().is_empty() || lit.value().contains([':', '/', '\n']) {
                        return Err(syn::Error::new(lit.span(), "not a user name"));
                    }
                    let value = Spanned {
                        value: lit.value(),
                        span: lit.span(),
                    };
                    set(&meta, &mut options.user, value)
                }
                "read" => set(&meta, &mut options.read, paths(meta.value()?)?),
                "write" => set(&meta, &mut options.write, paths(meta.value()?)?),
                "landlock" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    match lit.value().as_str() {
                        "require" | "best_effort" => set(
                            &meta,
                            &mut options.landlock,
                            Spanned {
                                value: lit.value(),
                                span: lit.span(),
                            },
                        ),
                        _ => Err(syn::Error::new(
                            lit.span(),
                            "`landlock` is \"require\" (the default) or \"best_effort\"",
                        )),
                    }
                }
                _ => Err(meta.error(format!(
                    "unknown `#[sandboxed]` option `{key}`: valid options are {VALID_KEYS}"
                ))),
            }
        })();
        if let Err(error) = result {
            // Skip the rest of this option so that later ones are still checked.
            if meta.input.peek(syn::Token![=]) {
                let _ = meta.value().and_then(|v| v.parse::<syn::Expr>());
            }
            match &mut errors {
                Some(all) => all.combine(error),
                None => errors = Some(error),
            }
        }
        Ok(())
    });
    parser.parse2(args)?;
    match errors {
        Some(error) => Err(error),
        None => Ok(options),
    }
}

fn set<T>(
    meta: &syn::meta::ParseNestedMeta,
    slot: &mut Option<Spanned<T>>,
    value: Spanned<T>,
) -> syn::Result<()> {
    if slot.is_some() {
        let path = &meta.path;
        let key = quote::quote!(#path).to_string();
        return Err(meta.error(format!("`{key}` is given twice")));
    }
    *slot = Some(value);
    Ok(())
}

/// The option's value as a string literal; anything else is an error that shows the form.
fn quoted(meta: &syn::meta::ParseNestedMeta, example: &str) -> syn::Result<LitStr> {
    let path = &meta.path;
    let key = quote::quote!(#path).to_string();
    match meta.value()?.parse::<syn::Lit>()? {
        syn::Lit::Str(lit) => Ok(lit),
        other => Err(syn::Error::new(
            other.span(),
            format!(
                "`{key}` takes a quoted value with its unit, for example `{key} = \"{example}\"`"
            ),
        )),
    }
}

/// `"250ms"`, `"2s"`, `"5m"`, `"1h"`, as nanoseconds.
fn duration(lit: &LitStr) -> syn::Result<Spanned<u128>> {
    let text = lit.value();
    let (number, unit) = split_number(&text);
    let scale: u128 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => 0,
    };
    // At most u64::MAX nanoseconds (about 584 years), the largest `Duration::from_nanos`.
    match number
        .parse::<u128>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
    {
        Some(nanos) if scale != 0 && nanos > 0 && nanos <= u128::from(u64::MAX) => Ok(Spanned {
            value: nanos,
            span: lit.span(),
        }),
        _ => Err(syn::Error::new(
            lit.span(),
            format!(
                "`{text}` is not a duration: write a positive whole number and a unit, \
                 one of ns, us, ms, s, m, h (for example \"250ms\" or \"2s\"), at most \
                 about 584 years"
            ),
        )),
    }
}

/// `"512"`, `"64KiB"`, `"256MiB"`, `"1GiB"`, `"10MB"`, as bytes.
fn size(lit: &LitStr) -> syn::Result<Spanned<u64>> {
    let text = lit.value();
    let (number, unit) = split_number(&text);
    let scale: u64 = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => 0,
    };
    match number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
    {
        Some(bytes) if scale != 0 && bytes > 0 => Ok(Spanned {
            value: bytes,
            span: lit.span(),
        }),
        _ => Err(syn::Error::new(
            lit.span(),
            format!(
                "`{text}` is not a size: write a positive whole number and a unit, one of \
                 B, KiB, MiB, GiB, TiB, kB, MB, GB (for example \"256MiB\")"
            ),
        )),
    }
}

fn count(lit: &LitInt) -> syn::Result<Spanned<u64>> {
    let value: u64 = lit.base10_parse()?;
    if value == 0 {
        return Err(syn::Error::new(lit.span(), "this limit must be at least 1"));
    }
    Ok(Spanned {
        value,
        span: lit.span(),
    })
}

fn paths(input: syn::parse::ParseStream) -> syn::Result<Spanned<Vec<String>>> {
    let content;
    let bracket = syn::bracketed!(content in input);
    let list = content.parse_terminated(|p| p.parse::<LitStr>(), syn::Token![,])?;
    let mut paths = Vec::new();
    for lit in list {
        let path = lit.value();
        if !path.starts_with('/') {
            return Err(syn::Error::new(
                lit.span(),
                format!("`{path}` is not an absolute path; the child's working directory is /"),
            ));
        }
        paths.push(path);
    }
    Ok(Spanned {
        value: paths,
        span: bracket.span.join(),
    })
}

fn split_number(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    (&text[..end], text[end..].trim())
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

#[cfg(test)]
mod tests {
    //! Sizes and durations as the attribute reads them.
    use super::*;

    fn lit(text: &str) -> LitStr {
        LitStr::new(text, proc_macro2::Span::call_site())
    }

    #[test]
    fn durations_in_every_unit() {
        let nanos = |text: &str| duration(&lit(text)).map(|d| d.value).ok();
        assert_eq!(nanos("250ms"), Some(250_000_000));
        assert_eq!(nanos("2s"), Some(2_000_000_000));
        assert_eq!(nanos("5m"), Some(300_000_000_000));
        assert_eq!(nanos("1h"), Some(3_600_000_000_000));
        assert_eq!(nanos("7us"), Some(7_000));
        assert_eq!(nanos("3ns"), Some(3));
        for bad in ["", "2", "0s", "-1s", "1.5s", "2 days", "99999999999h"] {
            assert_eq!(nanos(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn sizes_binary_and_decimal() {
        let bytes = |text: &str| size(&lit(text)).map(|s| s.value).ok();
        assert_eq!(bytes("512"), Some(512));
        assert_eq!(bytes("64KiB"), Some(64 << 10));
        assert_eq!(bytes("256MiB"), Some(256 << 20));
        assert_eq!(bytes("1GiB"), Some(1 << 30));
        assert_eq!(bytes("10MB"), Some(10_000_000));
        assert_eq!(bytes("2kB"), Some(2_000));
        for bad in ["", "0", "0MiB", "1.5GiB", "5 lots", "99999999999999TiB"] {
            assert_eq!(bytes(bad), None, "{bad:?}");
        }
    }
}
