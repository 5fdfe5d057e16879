//! Validation: every shape of function that cannot cross a process boundary, each reported
//! as an error spanned on the offending tokens, all of them together.

use quote::ToTokens;
use syn::visit::{self, Visit};
use syn::{FnArg, GenericParam, ItemFn, Pat, Path, ReturnType, Type, TypeImplTrait, TypeReference};

use crate::parse::peel;

/// Collects errors so that one compile shows every mistake at once.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    /// Spans the error from the first to the last of `tokens`, so that the whole
    /// offending part is underlined, not only its first token.
    fn push(&mut self, tokens: impl ToTokens, message: &str) {
        let error = syn::Error::new_spanned(tokens, message);
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
            "a sandboxed function cannot have a `where` clause: the child dispatches on one \
             concrete signature, with nothing left to bound; remove the clause",
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
                    Pat::Ident(pat) if pat.by_ref.is_some() => errors.push(
                        pat,
                        &format!(
                            "a sandboxed function's argument cannot be bound with `ref`: the \
                             body receives the argument by value; write `{}` and borrow it in \
                             the body, or take a reference `&T`",
                            pat.ident
                        ),
                    ),
                    Pat::Ident(pat) if pat.subpat.is_none() => {}
                    pat => errors.push(
                        pat,
                        "a sandboxed function's arguments must be plain names: bind the \
                         argument to a name and destructure it in the body",
                    ),
                }
                argument_type(&mut errors, &typed.ty);
            }
        }
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        result_type(&mut errors, ty);
    }
    match errors.0 {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// `T` or `&T`, where `T` holds no reference, no `impl Trait` and no `Self`.
fn argument_type(errors: &mut Errors, ty: &Type) {
    let ty = peel(ty);
    let owned = match ty {
        Type::Reference(reference) if reference.mutability.is_some() => {
            return errors.push(
                ty,
                "a `&mut` argument cannot be sandboxed: changes made in the child would not \
                 come back; pass the value and return the new one",
            );
        }
        Type::Reference(reference) => &*reference.elem,
        _ => ty,
    };
    let mut found = Found::default();
    found.visit_type(owned);
    for impl_trait in found.impl_traits {
        errors.push(
            impl_trait,
            "an `impl Trait` argument cannot be sandboxed: the child must know the concrete \
             type to deserialise; name the type",
        );
    }
    for reference in found.references {
        errors.push(
            reference,
            "a sandboxed function's argument can be a reference only at the top (`x: &T`): \
             a reference inside it cannot be deserialised in the child; use an owned type \
             (`String` for `&str`, `Vec<T>` for `&[T]`)",
        );
    }
    self_types(errors, found.self_types);
}

/// An owned type: no reference, no `impl Trait`, no `Self`, not `!`.
fn result_type(errors: &mut Errors, ty: &Type) {
    if let Type::Never(_) = peel(ty) {
        return errors.push(
            ty,
            "a sandboxed function cannot return `!`: the caller waits for a value",
        );
    }
    let mut found = Found::default();
    found.visit_type(ty);
    for impl_trait in found.impl_traits {
        errors.push(
            impl_trait,
            "a sandboxed function cannot return `impl Trait`: the result is deserialised in \
             the caller and needs a concrete type",
        );
    }
    for reference in found.references {
        errors.push(
            reference,
            "a sandboxed function cannot return a reference, or a value that holds one: the \
             result crosses the process boundary by value; return an owned type (`String` \
             for `&str`, `Vec<T>` for `&[T]`)",
        );
    }
    self_types(errors, found.self_types);
}

fn self_types(errors: &mut Errors, paths: Vec<&Path>) {
    for path in paths {
        errors.push(
            path,
            "a sandboxed function's signature cannot name `Self`: the function moves into a \
             nested item, where the `impl`'s `Self` is not in scope; write the type's name",
        );
    }
}

/// The parts of a type that cannot cross the boundary; each is reported once, at its
/// outermost occurrence.
#[derive(Default)]
struct Found<'ast> {
    impl_traits: Vec<&'ast TypeImplTrait>,
    references: Vec<&'ast TypeReference>,
    self_types: Vec<&'ast Path>,
}

impl<'ast> Visit<'ast> for Found<'ast> {
    fn visit_type_impl_trait(&mut self, node: &'ast TypeImplTrait) {
        self.impl_traits.push(node);
    }

    fn visit_type_reference(&mut self, node: &'ast TypeReference) {
        self.references.push(node);
    }

    fn visit_path(&mut self, node: &'ast Path) {
        match node.segments.first() {
            Some(first) if first.ident == "Self" => self.self_types.push(node),
            _ => visit::visit_path(self, node),
        }
    }
}
