//! Expansion: the stub that replaces the function, the real body kept beside it, and the
//! registration the child dispatches on. All of it is glue that calls `::boxed::__private`.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::{FnArg, Ident, Item, ItemFn, Pat, TraitItemFn};

use crate::parse::{self, Function, Options, Passing, Spanned};
use crate::validate;

pub fn sandboxed(args: TokenStream, item: TokenStream) -> TokenStream {
    let item: ItemFn = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(error) => return token_stream_with_error(item.clone(), not_a_function(item, error)),
    };
    let options = parse::options(args);
    let valid = validate::function(&item);
    match (options, valid) {
        (Ok(options), Ok(())) => stub(parse::function(item), &options),
        (Err(mut first), Err(second)) => {
            first.combine(second);
            token_stream_with_error(item.into_token_stream(), first)
        }
        (Err(error), _) | (_, Err(error)) => {
            token_stream_with_error(item.into_token_stream(), error)
        }
    }
}

/// When the item is not a function at all, or is a declaration without a body, says so
/// where syn would only say "expected `fn`" or "expected curly braces"; a function that
/// does not parse keeps syn's own, more precise error.
fn not_a_function(item: TokenStream, error: syn::Error) -> syn::Error {
    if let Ok(declaration) = syn::parse2::<TraitItemFn>(item.clone()) {
        if declaration.default.is_none() {
            return syn::Error::new_spanned(
                declaration.sig,
                "a function without a body cannot be sandboxed: sandbox a function with a \
                 body and call it from the trait's implementations",
            );
        }
    }
    match syn::parse2::<Item>(item) {
        Ok(Item::Fn(_) | Item::Verbatim(_)) | Err(_) => error,
        Ok(_) => syn::Error::new(
            error.span(),
            "`#[sandboxed]` applies to functions only: it runs each call of a `fn` in a \
             child process",
        ),
    }
}

/// On a mistake, the user's function is still emitted unchanged beside the error, so that
/// its callers do not report follow-on errors and IDEs keep working.
fn token_stream_with_error(mut item: TokenStream, error: syn::Error) -> TokenStream {
    item.extend(error.into_compile_error());
    item
}

/// The policy of the attribute, as builder calls on `::boxed::Policy::new()`.
fn policy(options: &Options) -> TokenStream {
    let mut calls = TokenStream::new();
    let nanos = |value: u128| quote!(::core::time::Duration::from_nanos(#value as u64));
    if let Some(timeout) = &options.timeout {
        let value = nanos(timeout.value);
        calls.extend(quote_spanned!(timeout.span=> .timeout(#value)));
    }
    if let Some(cpu_time) = &options.cpu_time {
        let value = nanos(cpu_time.value);
        calls.extend(quote_spanned!(cpu_time.span=> .cpu_time(#value)));
    }
    for (option, method) in [
        (&options.memory, quote!(memory)),
        (&options.max_file_size, quote!(max_file_size)),
        (&options.max_response, quote!(max_response)),
        (&options.max_open_files, quote!(max_open_files)),
        (&options.max_processes, quote!(max_processes)),
    ] {
        if let Some(Spanned { value, span }) = option {
            calls.extend(quote_spanned!(*span=> .#method(#value)));
        }
    }
    for (option, method) in [
        (&options.network, quote!(network)),
        (&options.unique_uid, quote!(unique_uid)),
        (&options.zygote, quote!(zygote)),
    ] {
        if let Some(Spanned { value, span }) = option {
            calls.extend(quote_spanned!(*span=> .#method(#value)));
        }
    }
    if let Some(Spanned { value, span }) = &options.user {
        calls.extend(quote_spanned!(*span=> .user(#value)));
    }
    for (option, method) in [
        (&options.read, quote!(read)),
        (&options.write, quote!(write)),
    ] {
        if let Some(Spanned { value, span }) = option {
            for path in value {
                calls.extend(quote_spanned!(*span=> .#method(#path)));
            }
        }
    }
    if let Some(Spanned { value, span }) = &options.landlock {
        let enforcement = match value.as_str() {
            "best_effort" => quote!(BestEffort),
            _ => quote!(Require),
        };
        calls.extend(quote_spanned!(*span=> .landlock(::boxed::Enforcement::#enforcement)));
    }
    quote!(::boxed::Policy::new() #calls)
}

fn stub(function: Function, options: &Options) -> TokenStream {
    let Function { item, args, output } = function;
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = item;

    // Every name the glue introduces starts with `__boxed` (in any case) and is mixed-site.
    // None of them is bound in a pattern (a parameter, `let` or `match` arm): a constant of
    // the same name in the user's scope would turn the binding into a constant pattern.
    let body_fn = Ident::new("__boxed_body", Span::mixed_site());
    let body_type = Ident::new("__BoxedBody", Span::mixed_site());
    let name_const = Ident::new("__BOXED_NAME", Span::mixed_site());
    let entry_static = Ident::new("__BOXED_ENTRY", Span::mixed_site());

    // The real body, unchanged, under a private name.
    let mut body_sig = sig.clone();
    body_sig.ident = body_fn.clone();
    let body_item = quote! {
        #[allow(clippy::too_many_arguments, clippy::needless_pass_by_value)]
        #body_sig #block
    };

    // The stub's own signature: the same, but `mut x` is `x` (the stub never mutates).
    // An `async fn` becomes a plain `fn` that returns its future: the arguments are
    // encoded when it is called, so the future borrows none of them (`use<>`) and can
    // be spawned.
    let is_async = sig.asyncness.is_some();
    let mut stub_sig = sig.clone();
    if is_async {
        stub_sig.asyncness = None;
        stub_sig.output = syn::parse_quote! {
            -> impl ::core::future::Future<Output = #output> + ::core::marker::Send + use<>
        };
    }
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
    let lent: Vec<TokenStream> = args
        .iter()
        .map(|arg| {
            let name = &arg.name;
            match &arg.passing {
                Passing::Value => quote!(#name),
                Passing::Borrowed { referent } => {
                    quote!(::core::borrow::Borrow::<#referent>::borrow(&#name))
                }
            }
        })
        .collect();
    let policy = policy(options);
    // The child runs an `async fn`'s body to completion on a minimal executor.
    let run_body = if is_async {
        quote!(::boxed::__private::block_on(#body_fn(#(#lent),*)))
    } else {
        quote!(#body_fn(#(#lent),*))
    };
    let make_call = if is_async {
        quote! {
            ::boxed::__private::finish_async(
                ::boxed::__private::call_async::<#output, _>(
                    #name_const, &(#(&#names,)*), || #policy,
                ),
                (&::boxed::__private::Fail::<#output>::new()).__boxed_finisher(),
            )
        }
    } else {
        quote! {
            (&::boxed::__private::Fail::<#output>::new()).__boxed_finish(
                ::boxed::__private::call(#name_const, &(#(&#names,)*), || #policy),
            )
        }
    };

    // A failed call of a function that does not return `Result` panics; with the stub
    // `#[track_caller]` (and the runtime's panicking path too), the panic names the line
    // that called the function, not the attribute's.
    let track_caller = if attrs
        .iter()
        .any(|attr| attr.path().is_ident("track_caller"))
    {
        TokenStream::new()
    } else {
        quote!(#[track_caller])
    };
    let fn_name = sig.ident.to_string();
    let signature = {
        let types = args.iter().map(|arg| &arg.ty);
        let asyncness = is_async.then(|| quote!(async));
        quote!(#asyncness (#(#types),*) -> #output).to_string()
    };
    let hash = format!("{:016x}", fnv1a64(signature.as_bytes()));

    quote! {
        #(#attrs)*
        #track_caller
        #vis #stub_sig {
            #body_item

            const #name_const: &'static ::core::primitive::str =
                ::core::concat!(
                    ::core::module_path!(), "::", #fn_name, "#", #hash,
                    "@", ::core::line!(), ":", ::core::column!()
                );

            enum #body_type {}

            impl ::boxed::__private::Body for #body_type {
                type Args = (#(#owned_types,)*);
                type Output = #output;
                fn run((#(#names,)*): Self::Args) -> Self::Output {
                    #run_body
                }
            }

            #[::boxed::__private::linkme::distributed_slice(::boxed::__private::SANDBOXED)]
            #[linkme(crate = ::boxed::__private::linkme)]
            static #entry_static: ::boxed::__private::Entry = ::boxed::__private::Entry {
                name: #name_const,
                serve: ::boxed::__private::serve::<#body_type>,
            };

            #[allow(unused_imports)]
            use ::boxed::__private::{FailByPanic as _, FailIntoErr as _};
            #make_call
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
