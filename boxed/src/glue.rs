//! The caller's side of the code `#[sandboxed]` generates: the owned forms of borrowed
//! arguments, how a failed call is finished, and the benchmark's hooks into the filter.
//! (The serving side is in `registry`.) `__private` re-exports it; nothing here is
//! public API.

use std::borrow::Borrow;
use std::ffi::{OsStr, OsString};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::Error;
use crate::caller::Pending;
use crate::child::seccomp::Part as FilterPart;

/// The owned form the child deserialises for a borrowed argument `&T`, lent to the body.
pub trait ArgOwned {
    /// The owned type.
    type Owned: DeserializeOwned + Borrow<Self>;
}

impl<T: DeserializeOwned> ArgOwned for T {
    type Owned = T;
}

impl ArgOwned for str {
    type Owned = String;
}

impl<T: DeserializeOwned> ArgOwned for [T] {
    type Owned = Vec<T>;
}

impl ArgOwned for Path {
    type Owned = PathBuf;
}

impl ArgOwned for OsStr {
    type Owned = OsString;
}

/// Chooses, at the call site's concrete result type, what a failed call does: a result
/// `Result<T, E>` with `E: From<boxed::Error>` becomes `Err(E::from(error))` (through
/// [`FailIntoErr`]); any other result type panics with the error (through [`FailByPanic`]).
pub struct Fail<R>(PhantomData<R>);

impl<R> Fail<R> {
    /// The chooser for the result type `R`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Fail(PhantomData)
    }
}

/// Preferred by method resolution: it takes `&Fail<R>` without an extra reference.
pub trait FailIntoErr<R> {
    /// The call's value, or the failure as `Err`.
    fn __boxed_finish(&self, result: Result<R, Error>) -> R;
    /// [`FailIntoErr::__boxed_finish`] as a function, for the future of an `async fn`.
    fn __boxed_finisher(&self) -> fn(Result<R, Error>) -> R;
}

impl<T, E: From<Error>> FailIntoErr<Result<T, E>> for Fail<Result<T, E>> {
    fn __boxed_finish(&self, result: Result<Result<T, E>, Error>) -> Result<T, E> {
        result.unwrap_or_else(|error| Err(E::from(error)))
    }
    fn __boxed_finisher(&self) -> fn(Result<Result<T, E>, Error>) -> Result<T, E> {
        |result| result.unwrap_or_else(|error| Err(E::from(error)))
    }
}

/// The fallback: panics with the error's message, as an unwrapped thread join would.
pub trait FailByPanic<R> {
    /// The call's value, or a panic with the failure.
    fn __boxed_finish(&self, result: Result<R, Error>) -> R;
    /// [`FailByPanic::__boxed_finish`] as a function, for the future of an `async fn`.
    fn __boxed_finisher(&self) -> fn(Result<R, Error>) -> R;
}

impl<R> FailByPanic<R> for &Fail<R> {
    #[track_caller]
    fn __boxed_finish(&self, result: Result<R, Error>) -> R {
        match result {
            Ok(value) => value,
            Err(error) => panic!("{error}"),
        }
    }
    fn __boxed_finisher(&self) -> fn(Result<R, Error>) -> R {
        |result| match result {
            Ok(value) => value,
            Err(error) => panic!("{error}"),
        }
    }
}

/// The future a sandboxed `async fn` returns: the call's outcome, finished by
/// `finish` (an `Err` of the function's `Result`, or a panic) as a sync call's is.
pub async fn finish_async<R: DeserializeOwned>(
    call: Pending<R>,
    finish: fn(Result<R, Error>) -> R,
) -> R {
    finish(call.await)
}

/// How many classic-BPF instructions `part` of the syscall filter has under `policy`
/// (the benchmark's size column).
pub fn filter_instructions(policy: &crate::Policy, part: FilterPart) -> usize {
    crate::child::seccomp::part(policy, part, 1).len()
}

/// How long the kernel takes to install `part` of the syscall filter of `policy` on a
/// fresh thread of this process (the spare's part on top of the zygote's, as in a zygote
/// call); only the installing `seccomp` call is timed. Leaves this process unconfined:
/// the filtered thread ends.
pub fn filter_install_time(
    policy: &crate::Policy,
    part: FilterPart,
) -> Result<std::time::Duration, String> {
    crate::child::seccomp::install_time(policy, part)
}
