//! Decoding a value: a deserializer that wraps serde_json's and puts each attachment back
//! where the JSON refers to it (see `encode.rs`). A reference is honoured where the
//! value asks for a sequence or bytes (and where it takes any value); each attachment is
//! used exactly once, and a reference that is malformed, out of range or used twice, or
//! an attachment left unused, is an error.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};

use super::REFERENCE_KEY;

/// Decodes a `T` from `json` and its `attachments`.
pub(super) fn decode<'de, T: de::Deserialize<'de>>(
    json: &'de [u8],
    attachments: Vec<Cow<'_, [u8]>>,
) -> serde_json::Result<T> {
    let attachments = RefCell::new(attachments.into_iter().map(Some).collect::<Vec<_>>());
    let mut json = serde_json::Deserializer::from_slice(json);
    let value = Seed {
        seed: PhantomData::<T>,
        attachments: &attachments,
    }
    .deserialize(&mut json)?;
    json.end()?;
    if let Some(unused) = attachments.borrow().iter().position(Option::is_some) {
        return Err(de::Error::custom(format_args!(
            "attachment {unused} is not referred to"
        )));
    }
    Ok(value)
}

/// The attachments not yet used.
type Attachments<'b> = RefCell<Vec<Option<Cow<'b, [u8]>>>>;

/// A deserializer that passes everything to `inner` but references to attachments.
struct Decoder<'a, 'b, D> {
    inner: D,
    attachments: &'a Attachments<'b>,
}

/// What a value asked for, which decides what a reference to an attachment gives it.
#[derive(Clone, Copy, PartialEq)]
enum Wants {
    /// Something that is never bytes: a reference is an ordinary map.
    Other,
    /// A sequence: the attachment's bytes, one `u8` element each.
    Seq,
    /// Bytes: the attachment itself.
    Bytes,
    /// Any value (or none, to be ignored): the attachment as a sequence of `u8`s.
    Any,
}

/// A visitor that wraps every deserializer handed to `visitor` in a [`Decoder`], and
/// resolves a reference when the value wanted bytes or a sequence.
struct Wrap<'a, 'b, V> {
    visitor: V,
    attachments: &'a Attachments<'b>,
    wants: Wants,
}

/// A seed that decodes through a [`Decoder`].
struct Seed<'a, 'b, S> {
    seed: S,
    attachments: &'a Attachments<'b>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'_, '_, S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        let decoder = Decoder {
            inner: deserializer,
            attachments: self.attachments,
        };
        // A `Vec<u8>` or `Box<[u8]>` takes its attachment whole (moved when it is owned),
        // where its own `Deserialize` would take a sequence byte by byte.
        let id = typeid::of::<S>();
        if id == typeid::of::<PhantomData<Vec<u8>>>() {
            let bytes = decoder.deserialize_byte_buf(ByteBuf)?;
            return Ok(crate::sys::into_same_type::<Vec<u8>, S::Value>(bytes)
                .unwrap_or_else(|_| unreachable!("the seed of a Vec<u8> makes one")));
        }
        if id == typeid::of::<PhantomData<Box<[u8]>>>() {
            let bytes = decoder.deserialize_byte_buf(ByteBuf)?.into_boxed_slice();
            return Ok(crate::sys::into_same_type::<Box<[u8]>, S::Value>(bytes)
                .unwrap_or_else(|_| unreachable!("the seed of a Box<[u8]> makes one")));
        }
        self.seed.deserialize(decoder)
    }
}

/// Makes a `Vec<u8>` of an attachment, or of a JSON array of numbers.
struct ByteBuf;

impl<'de> Visitor<'de> for ByteBuf {
    type Value = Vec<u8>;
    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a byte sequence")
    }
    fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(bytes)
    }
    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
        Ok(bytes.to_vec())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(byte) = seq.next_element()? {
            bytes.push(byte);
        }
        Ok(bytes)
    }
}

impl<'a, 'b, D> Decoder<'a, 'b, D> {
    fn wrap<V>(&self, visitor: V, wants: Wants) -> Wrap<'a, 'b, V> {
        Wrap {
            visitor,
            attachments: self.attachments,
            wants,
        }
    }
}

macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
                let visitor = self.wrap(visitor, Wants::Other);
                self.inner.$method($($arg,)* visitor)
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Decoder<'_, '_, D> {
    type Error = D::Error;

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = self.wrap(visitor, Wants::Any);
        self.inner.deserialize_any(visitor)
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        // Read as any value, so that a reference in it still uses its attachment.
        let visitor = self.wrap(visitor, Wants::Any);
        self.inner.deserialize_any(visitor)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = self.wrap(visitor, Wants::Seq);
        self.inner.deserialize_any(visitor)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = self.wrap(visitor, Wants::Bytes);
        self.inner.deserialize_any(visitor)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = self.wrap(visitor, Wants::Bytes);
        self.inner.deserialize_any(visitor)
    }

    forward! {
        deserialize_bool(), deserialize_i8(), deserialize_i16(), deserialize_i32(),
        deserialize_i64(), deserialize_i128(), deserialize_u8(), deserialize_u16(),
        deserialize_u32(), deserialize_u64(), deserialize_u128(), deserialize_f32(),
        deserialize_f64(), deserialize_char(), deserialize_str(), deserialize_string(),
        deserialize_option(), deserialize_unit(), deserialize_identifier(),
        deserialize_map(),
        deserialize_unit_struct(name: &'static str),
        deserialize_newtype_struct(name: &'static str),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_struct(name: &'static str, fields: &'static [&'static str]),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
    }
}

macro_rules! visit {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
                self.visitor.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, '_, V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(formatter)
    }

    visit! {
        visit_bool(bool), visit_i8(i8), visit_i16(i16), visit_i32(i32), visit_i64(i64),
        visit_i128(i128), visit_u8(u8), visit_u16(u16), visit_u32(u32), visit_u64(u64),
        visit_u128(u128), visit_f32(f32), visit_f64(f64), visit_char(char),
        visit_str(&str), visit_borrowed_str(&'de str), visit_string(String),
        visit_bytes(&[u8]), visit_borrowed_bytes(&'de [u8]), visit_byte_buf(Vec<u8>),
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_none()
    }
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_unit()
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_some(Decoder {
            inner: deserializer,
            attachments: self.attachments,
        })
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        self.visitor.visit_newtype_struct(Decoder {
            inner: deserializer,
            attachments: self.attachments,
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_seq(Seq {
            inner: seq,
            attachments: self.attachments,
        })
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_enum(Enum {
            inner: data,
            attachments: self.attachments,
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<V::Value, A::Error> {
        if self.wants == Wants::Other {
            return self.visitor.visit_map(Map {
                inner: map,
                attachments: self.attachments,
                first: None,
            });
        }
        let Some(first) = map.next_key::<Cow<'de, str>>()? else {
            if self.wants == Wants::Any {
                return self.visitor.visit_map(Map {
                    inner: map,
                    attachments: self.attachments,
                    first: None,
                });
            }
            return Err(de::Error::invalid_type(Unexpected::Map, &self.visitor));
        };
        if first != REFERENCE_KEY {
            if self.wants == Wants::Any {
                return self.visitor.visit_map(Map {
                    inner: map,
                    attachments: self.attachments,
                    first: Some(first.into_owned()),
                });
            }
            return Err(de::Error::invalid_type(Unexpected::Map, &self.visitor));
        }
        let index: u64 = map.next_value()?;
        if map.next_key::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(
                "a reference to an attachment has more than one key",
            ));
        }
        let bytes = take(self.attachments, index)?;
        match self.wants {
            Wants::Bytes => match bytes {
                Cow::Owned(bytes) => self.visitor.visit_byte_buf(bytes),
                Cow::Borrowed(bytes) => self.visitor.visit_bytes(bytes),
            },
            _ => {
                let mut seq = Bytes {
                    bytes: &bytes,
                    at: 0,
                    error: PhantomData::<A::Error>,
                };
                let value = self.visitor.visit_seq(&mut seq)?;
                if seq.at != bytes.len() {
                    return Err(de::Error::invalid_length(
                        seq.at,
                        &"all bytes of the attachment",
                    ));
                }
                Ok(value)
            }
        }
    }
}

/// Takes attachment `index` out of the list: each is used once.
fn take<'b, E: de::Error>(attachments: &Attachments<'b>, index: u64) -> Result<Cow<'b, [u8]>, E> {
    let mut attachments = attachments.borrow_mut();
    let count = attachments.len();
    let slot = usize::try_from(index)
        .ok()
        .and_then(|index| attachments.get_mut(index))
        .ok_or_else(|| {
            E::custom(format_args!(
                "a reference to attachment {index}, of {count}"
            ))
        })?;
    slot.take()
        .ok_or_else(|| E::custom(format_args!("attachment {index} is referred to twice")))
}

/// An attachment read as a sequence of `u8`s.
struct Bytes<'x, E> {
    bytes: &'x [u8],
    at: usize,
    error: PhantomData<E>,
}

impl<'de, E: de::Error> SeqAccess<'de> for Bytes<'_, E> {
    type Error = E;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, E> {
        let Some(&byte) = self.bytes.get(self.at) else {
            return Ok(None);
        };
        self.at += 1;
        seed.deserialize(byte.into_deserializer()).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.bytes.len() - self.at)
    }
}

/// A JSON array whose elements decode through [`Decoder`]s.
struct Seq<'a, 'b, A> {
    inner: A,
    attachments: &'a Attachments<'b>,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<'_, '_, A> {
    type Error = A::Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.inner.next_element_seed(Seed {
            seed,
            attachments: self.attachments,
        })
    }
    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// A JSON object whose keys and values decode through [`Decoder`]s; `first` is a key
/// already read (to see whether the object was a reference).
struct Map<'a, 'b, A> {
    inner: A,
    attachments: &'a Attachments<'b>,
    first: Option<String>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<'_, '_, A> {
    type Error = A::Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        if let Some(first) = self.first.take() {
            return seed.deserialize(first.into_deserializer()).map(Some);
        }
        self.inner.next_key_seed(Seed {
            seed,
            attachments: self.attachments,
        })
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.inner.next_value_seed(Seed {
            seed,
            attachments: self.attachments,
        })
    }
    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// An enum whose variant's content decodes through [`Decoder`]s.
struct Enum<'a, 'b, A> {
    inner: A,
    attachments: &'a Attachments<'b>,
}

impl<'a, 'b, 'de, A: EnumAccess<'de>> EnumAccess<'de> for Enum<'a, 'b, A> {
    type Error = A::Error;
    type Variant = Enum<'a, 'b, A::Variant>;
    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let (value, variant) = self.inner.variant_seed(seed)?;
        Ok((
            value,
            Enum {
                inner: variant,
                attachments: self.attachments,
            },
        ))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Enum<'_, '_, A> {
    type Error = A::Error;
    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.inner.newtype_variant_seed(Seed {
            seed,
            attachments: self.attachments,
        })
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.inner.tuple_variant(
            len,
            Wrap {
                visitor,
                attachments: self.attachments,
                wants: Wants::Other,
            },
        )
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.inner.struct_variant(
            fields,
            Wrap {
                visitor,
                attachments: self.attachments,
                wants: Wants::Other,
            },
        )
    }
}
