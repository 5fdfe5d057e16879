//! Validation: every shape of function that cannot cross a process boundary, each reported
//! as an error spanned on the offending tokens, all of them together.

use syn::spanned::Spanned;
use syn::{FnArg, GenericParam, ItemFn, Pat, ReturnType, Type};

/// Collects errors so that one compile shows every mistake at once.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, span: impl Spanned, message: &str) {
        let error = syn::Error::new(span.span(), message);
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }
}

pub fn function(item: &ItemFn) -> syn::Result<()> {
    let mut errors = Errors::default();
    let sig = &item.sig;
    if let Some(token) = &sig.constness {
        errors.push(
            token,
            "a `const fn` cannot be sandboxed: a sandboxed call starts a process at run time",
        );
    }
    if let Some(token) = &sig.asyncness {
        errors.push(
            token,
            "an `async fn` cannot be sandboxed yet: make it a plain `fn` and call it from \
             `spawn_blocking` (or your runtime's equivalent)",
        );
    }
    if let Some(token) = &sig.unsafety {
        errors.push(
            token,
            "an `unsafe fn` cannot be sandboxed: its safety contract cannot be upheld across \
             a process boundary",
        );
    }
    if let Some(abi) = &sig.abi {
        errors.push(
            abi,
            "an `extern` function cannot be sandboxed: only Rust-ABI functions can be \
             dispatched in the child",
        );
    }
    for param in &sig.generics.params {
        match param {
            GenericParam::Lifetime(_) => {}
            GenericParam::Type(_) | GenericParam::Const(_) => errors.push(
                param,
                "a generic function cannot be sandboxed: the child dispatches on one concrete \
                 signature; write a non-generic wrapper for each type you need",
            ),
        }
    }
    if let Some(clause) = &sig.generics.where_clause {
        errors.push(
            clause,
            "a `where` clause cannot be used on a sandboxed function: its signature must be \
             concrete",
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(
            variadic,
            "a variadic function cannot be sandboxed: arguments must have fixed types",
        );
    }
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => errors.push(
                receiver,
                "a method taking `self` cannot be sandboxed: the receiver would have to cross \
                 the process boundary; take the value as an ordinary argument instead",
            ),
            FnArg::Typed(typed) => {
                match &*typed.pat {
                    Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {}
                    pat => errors.push(
                        pat,
                        "a sandboxed function's arguments must be plain identifiers: bind the \
                         argument to a name and destructure it in the body",
                    ),
                }
                argument_type(&mut errors, &typed.ty);
            }
        }
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        match &**ty {
            Type::ImplTrait(_) => errors.push(
                ty,
                "a sandboxed function cannot return `impl Trait`: the result is deserialised \
                 in the caller and needs a concrete type",
            ),
            Type::Reference(_) => errors.push(
                ty,
                "a sandboxed function cannot return a reference: the result crosses the \
                 process boundary by value; return an owned type",
            ),
            Type::Never(_) => errors.push(
                ty,
                "a sandboxed function cannot return `!`: the caller waits for a value",
            ),
            _ => {}
        }
    }
    match errors.0 {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

fn argument_type(errors: &mut Errors, ty: &Type) {
    match ty {
        Type::ImplTrait(_) => errors.push(
            ty,
            "an `impl Trait` argument cannot be sandboxed: the child must know the concrete \
             type to deserialise; name the type",
        ),
        Type::Reference(reference) if reference.mutability.is_some() => errors.push(
            ty,
            "a `&mut` argument cannot be sandboxed: changes made in the child would not come \
             back; pass the value and return the new one",
        ),
        Type::Reference(reference) => argument_type(errors, &reference.elem),
        _ => {}
    }
}
