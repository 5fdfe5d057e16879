//! Encoding a value: a serializer that wraps serde_json's and takes every byte sequence
//! out of the JSON. A sequence serialised with `serialize_bytes` (`serde_bytes`,
//! `bytes::Bytes`), or a sequence whose elements are all `u8` (`Vec<u8>`, `&[u8]`,
//! `Box<[u8]>`, anywhere in the value), becomes an attachment, and the JSON holds a
//! reference in its place: `{"\u0000bytes":N}`, N its index. Everything else is
//! serialised by serde_json unchanged. A `Vec<u8>`, `[u8]` or `Box<[u8]>` (or a reference
//! to one) is recognised by its type and copied whole; other sequences of `u8`
//! (a `VecDeque<u8>`, a hand-written `Serialize`) are collected as their bytes come.
//!
//! Hand-written because serde_json has no hook for byte sequences, and a serde seq of
//! `u8` can only be told from any other seq by looking at its elements as they come.

use std::cell::RefCell;
use std::fmt::Display;

use serde::ser::{
    self, Impossible, Serialize, SerializeMap, SerializeSeq, SerializeStruct,
    SerializeStructVariant, SerializeTuple, SerializeTupleStruct, SerializeTupleVariant,
    Serializer,
};

use super::REFERENCE_KEY;

/// Serialises `value` as JSON into `json`, and returns the byte sequences taken out of it.
pub(super) fn encode<T: Serialize + ?Sized>(
    json: &mut Vec<u8>,
    value: &T,
) -> serde_json::Result<Vec<Vec<u8>>> {
    let attachments = RefCell::new(Vec::new());
    wrap(value, &attachments).serialize(&mut serde_json::Serializer::new(json))?;
    Ok(attachments.into_inner())
}

/// The attachments taken so far.
type Attachments = RefCell<Vec<Vec<u8>>>;

/// A serializer that passes everything to `inner` but byte sequences.
struct Encoder<'a, S> {
    inner: S,
    attachments: &'a Attachments,
    /// Serialising a map key: the reference's key is refused there.
    key: bool,
}

/// A value to serialise through an [`Encoder`] around whatever serializer takes it.
struct Wrap<'a, T: ?Sized> {
    value: &'a T,
    attachments: &'a Attachments,
    key: bool,
}

impl<T: Serialize + ?Sized> Serialize for Wrap<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // A byte buffer is taken whole (one copy), not byte by byte.
        if let Some(bytes) = crate::sys::bytes_of(self.value) {
            return attach(serializer, self.attachments, bytes.to_vec());
        }
        self.value.serialize(Encoder {
            inner: serializer,
            attachments: self.attachments,
            key: self.key,
        })
    }
}

fn wrap<'a, T: ?Sized>(value: &'a T, attachments: &'a Attachments) -> Wrap<'a, T> {
    Wrap {
        value,
        attachments,
        key: false,
    }
}

/// Stores `bytes` as the next attachment and writes its reference with `inner`.
fn attach<S: Serializer>(
    inner: S,
    attachments: &Attachments,
    bytes: Vec<u8>,
) -> Result<S::Ok, S::Error> {
    let index = {
        let mut attachments = attachments.borrow_mut();
        attachments.push(bytes);
        attachments.len() as u64 - 1
    };
    let mut map = inner.serialize_map(Some(1))?;
    map.serialize_entry(REFERENCE_KEY, &index)?;
    map.end()
}

fn reserved<E: ser::Error>() -> E {
    E::custom(format_args!(
        "the map key {REFERENCE_KEY:?} is reserved for the references of byte attachments"
    ))
}

impl<'a, S: Serializer> Serializer for Encoder<'a, S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Seq<'a, S>;
    type SerializeTuple = Compound<'a, S::SerializeTuple>;
    type SerializeTupleStruct = Compound<'a, S::SerializeTupleStruct>;
    type SerializeTupleVariant = Compound<'a, S::SerializeTupleVariant>;
    type SerializeMap = Compound<'a, S::SerializeMap>;
    type SerializeStruct = Compound<'a, S::SerializeStruct>;
    type SerializeStructVariant = Compound<'a, S::SerializeStructVariant>;

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
    fn serialize_bool(self, v: bool) -> Result<S::Ok, S::Error> {
        self.inner.serialize_bool(v)
    }
    fn serialize_i8(self, v: i8) -> Result<S::Ok, S::Error> {
        self.inner.serialize_i8(v)
    }
    fn serialize_i16(self, v: i16) -> Result<S::Ok, S::Error> {
        self.inner.serialize_i16(v)
    }
    fn serialize_i32(self, v: i32) -> Result<S::Ok, S::Error> {
        self.inner.serialize_i32(v)
    }
    fn serialize_i64(self, v: i64) -> Result<S::Ok, S::Error> {
        self.inner.serialize_i64(v)
    }
    fn serialize_i128(self, v: i128) -> Result<S::Ok, S::Error> {
        self.inner.serialize_i128(v)
    }
    fn serialize_u8(self, v: u8) -> Result<S::Ok, S::Error> {
        self.inner.serialize_u8(v)
    }
    fn serialize_u16(self, v: u16) -> Result<S::Ok, S::Error> {
        self.inner.serialize_u16(v)
    }
    fn serialize_u32(self, v: u32) -> Result<S::Ok, S::Error> {
        self.inner.serialize_u32(v)
    }
    fn serialize_u64(self, v: u64) -> Result<S::Ok, S::Error> {
        self.inner.serialize_u64(v)
    }
    fn serialize_u128(self, v: u128) -> Result<S::Ok, S::Error> {
        self.inner.serialize_u128(v)
    }
    fn serialize_f32(self, v: f32) -> Result<S::Ok, S::Error> {
        self.inner.serialize_f32(v)
    }
    fn serialize_f64(self, v: f64) -> Result<S::Ok, S::Error> {
        self.inner.serialize_f64(v)
    }
    fn serialize_char(self, v: char) -> Result<S::Ok, S::Error> {
        self.inner.serialize_char(v)
    }
    fn serialize_str(self, v: &str) -> Result<S::Ok, S::Error> {
        if self.key && v == REFERENCE_KEY {
            return Err(reserved());
        }
        self.inner.serialize_str(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<S::Ok, S::Error> {
        attach(self.inner, self.attachments, v.to_vec())
    }
    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_none()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.inner.serialize_some(&wrap(value, self.attachments))
    }
    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit()
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit_struct(name)
    }
    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit_variant(name, index, variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        let value = Wrap {
            value,
            attachments: self.attachments,
            key: self.key,
        };
        self.inner.serialize_newtype_struct(name, &value)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.inner
            .serialize_newtype_variant(name, index, variant, &wrap(value, self.attachments))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Seq<'a, S>, S::Error> {
        Ok(Seq {
            state: SeqState::Undecided(self.inner),
            len,
            attachments: self.attachments,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        Compound::of(self.inner.serialize_tuple(len), self.attachments)
    }
    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        Compound::of(
            self.inner.serialize_tuple_struct(name, len),
            self.attachments,
        )
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        Compound::of(
            self.inner
                .serialize_tuple_variant(name, index, variant, len),
            self.attachments,
        )
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        Compound::of(self.inner.serialize_map(len), self.attachments)
    }
    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        Compound::of(self.inner.serialize_struct(name, len), self.attachments)
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        Compound::of(
            self.inner
                .serialize_struct_variant(name, index, variant, len),
            self.attachments,
        )
    }
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        if self.key {
            return self.serialize_str(&value.to_string());
        }
        self.inner.collect_str(value)
    }
}

/// A sequence: held back until its first element shows whether it is bytes.
struct Seq<'a, S: Serializer> {
    state: SeqState<S>,
    len: Option<usize>,
    attachments: &'a Attachments,
}

enum SeqState<S: Serializer> {
    /// No element yet.
    Undecided(S),
    /// Every element so far was a `u8`.
    Bytes(S, Vec<u8>),
    /// Some element was not: a JSON array.
    Json(S::SerializeSeq),
    /// Between two states, or after an error.
    Gone,
}

impl<S: Serializer> SerializeSeq for Seq<'_, S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), S::Error> {
        if let SeqState::Json(seq) = &mut self.state {
            return seq.serialize_element(&wrap(value, self.attachments));
        }
        if let (SeqState::Bytes(_, bytes), Ok(byte)) = (&mut self.state, value.serialize(Byte)) {
            bytes.push(byte);
            return Ok(());
        }
        let (inner, bytes) = match std::mem::replace(&mut self.state, SeqState::Gone) {
            SeqState::Undecided(inner) => match value.serialize(Byte) {
                Ok(byte) => {
                    let mut bytes = Vec::with_capacity(self.len.unwrap_or(0));
                    bytes.push(byte);
                    self.state = SeqState::Bytes(inner, bytes);
                    return Ok(());
                }
                Err(NotAByte) => (inner, Vec::new()),
            },
            SeqState::Bytes(inner, bytes) => (inner, bytes),
            SeqState::Json(_) | SeqState::Gone => {
                return Err(ser::Error::custom("a sequence was used after it failed"));
            }
        };
        // Not bytes after all: the elements so far go into a JSON array, as numbers.
        let mut seq = inner.serialize_seq(self.len)?;
        for byte in bytes {
            seq.serialize_element(&byte)?;
        }
        seq.serialize_element(&wrap(value, self.attachments))?;
        self.state = SeqState::Json(seq);
        Ok(())
    }

    fn end(self) -> Result<S::Ok, S::Error> {
        match self.state {
            // Empty: `[]` reads back as any empty sequence.
            SeqState::Undecided(inner) => inner.serialize_seq(Some(0))?.end(),
            SeqState::Bytes(inner, bytes) => attach(inner, self.attachments, bytes),
            SeqState::Json(seq) => seq.end(),
            SeqState::Gone => Err(ser::Error::custom("a sequence was used after it failed")),
        }
    }
}

/// Every other compound: its parts are serialised through [`Encoder`]s.
struct Compound<'a, C> {
    inner: C,
    attachments: &'a Attachments,
}

impl<'a, C> Compound<'a, C> {
    fn of<E>(inner: Result<C, E>, attachments: &'a Attachments) -> Result<Self, E> {
        inner.map(|inner| Compound { inner, attachments })
    }
}

impl<C: SerializeTuple> SerializeTuple for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        self.inner.serialize_element(&wrap(value, self.attachments))
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: SerializeTupleStruct> SerializeTupleStruct for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        self.inner.serialize_field(&wrap(value, self.attachments))
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: SerializeTupleVariant> SerializeTupleVariant for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        self.inner.serialize_field(&wrap(value, self.attachments))
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: SerializeMap> SerializeMap for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), C::Error> {
        self.inner.serialize_key(&Wrap {
            value: key,
            attachments: self.attachments,
            key: true,
        })
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        self.inner.serialize_value(&wrap(value, self.attachments))
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: SerializeStruct> SerializeStruct for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), C::Error> {
        if key == REFERENCE_KEY {
            return Err(reserved());
        }
        self.inner
            .serialize_field(key, &wrap(value, self.attachments))
    }
    fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
        self.inner.skip_field(key)
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: SerializeStructVariant> SerializeStructVariant for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), C::Error> {
        if key == REFERENCE_KEY {
            return Err(reserved());
        }
        self.inner
            .serialize_field(key, &wrap(value, self.attachments))
    }
    fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
        self.inner.skip_field(key)
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

/// Whether a sequence's element is a `u8`: serialising it to [`Byte`] succeeds only then.
struct Byte;

/// What [`Byte`] says of anything but a `u8`.
#[derive(Debug)]
struct NotAByte;

impl Display for NotAByte {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a byte")
    }
}

impl std::error::Error for NotAByte {}

impl ser::Error for NotAByte {
    fn custom<T: Display>(_: T) -> Self {
        NotAByte
    }
}

impl Serializer for Byte {
    type Ok = u8;
    type Error = NotAByte;
    type SerializeSeq = Impossible<u8, NotAByte>;
    type SerializeTuple = Impossible<u8, NotAByte>;
    type SerializeTupleStruct = Impossible<u8, NotAByte>;
    type SerializeTupleVariant = Impossible<u8, NotAByte>;
    type SerializeMap = Impossible<u8, NotAByte>;
    type SerializeStruct = Impossible<u8, NotAByte>;
    type SerializeStructVariant = Impossible<u8, NotAByte>;

    #[inline]
    fn serialize_u8(self, v: u8) -> Result<u8, NotAByte> {
        Ok(v)
    }
    fn serialize_bool(self, _: bool) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_i8(self, _: i8) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_i16(self, _: i16) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_i32(self, _: i32) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_i64(self, _: i64) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_u16(self, _: u16) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_u32(self, _: u32) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_u64(self, _: u64) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_f32(self, _: f32) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_f64(self, _: f64) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_char(self, _: char) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_str(self, _: &str) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_none(self) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_unit(self) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotAByte> {
        Err(NotAByte)
    }
    fn collect_str<T: Display + ?Sized>(self, _: &T) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
}
