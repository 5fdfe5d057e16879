//! Expansion: the stub that replaces the function, the real body kept beside it, and the
//! registration the child dispatches on. All of it is glue that calls `::boxed::__private`.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::{FnArg, Ident, ItemFn, Pat};

use crate::parse::{self, Function, Passing};
use crate::validate;

pub fn sandboxed(args: TokenStream, item: TokenStream) -> TokenStream {
    let item: ItemFn = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(error) => return token_stream_with_error(item, error),
    };
    let options = parse::options(args);
    let valid = validate::function(&item);
    match (options, valid) {
        (Ok(_options), Ok(())) => stub(parse::function(item)),
        (Err(mut first), Err(second)) => {
            first.combine(second);
            token_stream_with_error(item.into_token_stream(), first)
        }
        (Err(error), _) | (_, Err(error)) => {
            token_stream_with_error(item.into_token_stream(), error)
        }
    }
}

/// On a mistake, the user's function is still emitted unchanged beside the error, so that
/// its callers do not report follow-on errors and IDEs keep working.
fn token_stream_with_error(mut item: TokenStream, error: syn::Error) -> TokenStream {
    item.extend(error.into_compile_error());
    item
}

fn stub(function: Function) -> TokenStream {
    let Function { item, args, output } = function;
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = item;

    let body_fn = Ident::new("__boxed_body", Span::mixed_site());
    let serve_fn = Ident::new("__boxed_serve", Span::mixed_site());
    let name_const = Ident::new("__BOXED_NAME", Span::mixed_site());
    let entry_static = Ident::new("__BOXED_ENTRY", Span::mixed_site());
    let result_var = Ident::new("__boxed_result", Span::mixed_site());
    let error_var = Ident::new("__boxed_error", Span::mixed_site());
    let bytes_var = Ident::new("__boxed_bytes", Span::mixed_site());
    let value_var = Ident::new("__boxed_value", Span::mixed_site());

    // The real body, unchanged, under a private name.
    let mut body_sig = sig.clone();
    body_sig.ident = body_fn.clone();
    let body_item = quote! {
        #[allow(clippy::too_many_arguments, clippy::needless_pass_by_value)]
        #body_sig #block
    };

    // The stub's own signature: the same, but `mut x` is `x` (the stub never mutates).
    let mut stub_sig = sig.clone();
    for input in &mut stub_sig.inputs {
        if let FnArg::Typed(typed) = input {
            if let Pat::Ident(pat) = &mut *typed.pat {
                pat.mutability = None;
            }
            typed.attrs.clear();
        }
    }

    let names: Vec<&Ident> = args.iter().map(|arg| &arg.name).collect();
    let owned_types = args.iter().map(|arg| match &arg.passing {
        Passing::Value => arg.ty.to_token_stream(),
        Passing::Borrowed { referent } => {
            quote!(<#referent as ::boxed::__private::ArgOwned>::Owned)
        }
    });
    let lent = args.iter().map(|arg| {
        let name = &arg.name;
        match &arg.passing {
            Passing::Value => quote!(#name),
            Passing::Borrowed { referent } => {
                quote!(::core::borrow::Borrow::<#referent>::borrow(&#name))
            }
        }
    });

    let fn_name = sig.ident.to_string();
    let signature = {
        let types = args.iter().map(|arg| &arg.ty);
        quote!((#(#types),*) -> #output).to_string()
    };
    let hash = format!("{:016x}", fnv1a64(signature.as_bytes()));

    quote! {
        #(#attrs)*
        #vis #stub_sig {
            #body_item

            const #name_const: &str =
                ::core::concat!(::core::module_path!(), "::", #fn_name, "#", #hash);

            fn #serve_fn(#bytes_var: &[u8]) -> ::boxed::__private::Served {
                ::boxed::__private::serve(
                    #bytes_var,
                    |(#(#names,)*): (#(#owned_types,)*)| #body_fn(#(#lent),*),
                )
            }

            #[::boxed::__private::linkme::distributed_slice(::boxed::__private::SANDBOXED)]
            #[linkme(crate = ::boxed::__private::linkme)]
            static #entry_static: ::boxed::__private::Entry = ::boxed::__private::Entry {
                name: #name_const,
                serve: #serve_fn,
            };

            let #result_var: ::core::result::Result<#output, ::boxed::Error> =
                ::boxed::__private::call(#name_const, &(#(&#names,)*));
            match #result_var {
                ::core::result::Result::Ok(#value_var) => #value_var,
                ::core::result::Result::Err(#error_var) => {
                    #[allow(unused_imports)]
                    use ::boxed::__private::{FailByPanic as _, FailIntoErr as _};
                    (&::boxed::__private::Fail::<#output>::new()).__boxed_fail(#error_var)
                }
            }
        }
    }
}

/// FNV-1a, 64 bits: a short, stable tag of the signature in the mangled name, so that a
/// caller and a child that disagree on the argument or result types never match.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
