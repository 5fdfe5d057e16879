//! Byte sequences beside the JSON, end to end: every shape of bytes in an argument or a
//! result crosses as an attachment and comes back equal, with and without a zygote; the
//! memory limit holds for attachments both ways; and a sandbox that writes a lying
//! frame (a false count, length or reference) onto its response pipe gets a clear error
//! in the caller, never a hang, while a well-formed forged frame shows the path is live.

use std::collections::BTreeMap;

use boxed::{ErrorKind, Policy, sandboxed};
use boxed_tests::e2e;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Document {
    title: String,
    body: Vec<u8>,
    #[serde(with = "serde_bytes")]
    marked: Vec<u8>,
    pages: Vec<Vec<u8>>,
    thumbnail: Option<Box<[u8]>>,
    shared: bytes::Bytes,
    index: BTreeMap<String, Vec<u8>>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
enum Packet {
    Raw(Vec<u8>),
    Pair(u32, Vec<u8>),
    Framed { header: Vec<u8>, body: Vec<u8> },
}

/// Each byte reversed and the sequence reversed, so nothing comes back by accident.
fn flip(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().rev().map(|b| !b).collect()
}

#[sandboxed]
fn flip_vec(data: Vec<u8>) -> Vec<u8> {
    flip(&data)
}

#[sandboxed]
fn flip_slice(data: &[u8]) -> Box<[u8]> {
    flip(data).into_boxed_slice()
}

#[sandboxed]
fn flip_document(document: &Document) -> Document {
    Document {
        title: document.title.to_uppercase(),
        body: flip(&document.body),
        marked: flip(&document.marked),
        pages: document.pages.iter().map(|page| flip(page)).collect(),
        thumbnail: document.thumbnail.as_deref().map(|t| flip(t).into()),
        shared: flip(&document.shared).into(),
        index: document
            .index
            .iter()
            .map(|(key, value)| (key.clone(), flip(value)))
            .collect(),
    }
}

#[sandboxed]
fn flip_packets(packets: Vec<Packet>) -> Vec<Packet> {
    packets
        .into_iter()
        .map(|packet| match packet {
            Packet::Raw(data) => Packet::Raw(flip(&data)),
            Packet::Pair(n, data) => Packet::Pair(n, flip(&data)),
            Packet::Framed { header, body } => Packet::Framed {
                header: flip(&header),
                body: flip(&body),
            },
        })
        .collect()
}

fn document() -> Document {
    Document {
        title: "report".into(),
        body: (0..=255).cycle().take(3 << 20).collect(),
        marked: b"marked with serde_bytes".to_vec(),
        pages: vec![vec![1, 2, 3], vec![], vec![0xff; 70_000]],
        thumbnail: Some(vec![9u8; 100].into_boxed_slice()),
        shared: bytes::Bytes::from_static(b"shared bytes"),
        index: [("a".to_string(), vec![1u8]), ("b".to_string(), vec![])]
            .into_iter()
            .collect(),
    }
}

/// One-shot, then through a zygote.
fn both_ways(test: impl Fn(&str)) {
    for zygote in [false, true] {
        let how = if zygote { "zygote" } else { "one-shot" };
        Policy::new().zygote(zygote).run(|| test(how));
    }
}

#[test]
fn byte_sequences_of_every_shape_cross_both_ways() {
    e2e();
    both_ways(|how| {
        let data: Vec<u8> = (0..=255).cycle().take(5 << 20).collect();
        assert!(flip_vec(data.clone()) == flip(&data), "{how}");
        assert_eq!(flip_vec(Vec::new()), Vec::<u8>::new(), "{how}");
        assert_eq!(
            &*flip_slice(&data[..1000]),
            &flip(&data[..1000])[..],
            "{how}"
        );

        let document = document();
        let flipped = flip_document(&document);
        assert_eq!(flipped.title, "REPORT", "{how}");
        // Compared without printing megabytes on a failure.
        assert!(flipped.body == flip(&document.body), "{how}");
        assert_eq!(flipped.marked, flip(&document.marked), "{how}");
        assert!(flipped.pages[2] == flip(&document.pages[2]), "{how}");
        let back = Document {
            title: document.title.clone(),
            ..flip_document(&flipped)
        };
        assert!(back == document, "{how}: the document came back different");

        let packets = vec![
            Packet::Raw(vec![1, 2]),
            Packet::Pair(1, vec![3]),
            Packet::Framed {
                header: vec![4],
                body: vec![5; 1 << 20],
            },
        ];
        assert!(
            flip_packets(flip_packets(packets.clone())) == packets,
            "{how}"
        );
    });
}

/// How many bytes the sandbox was given.
#[sandboxed]
fn length(data: &[u8]) -> usize {
    data.len()
}

/// `mib` MiB of bytes, made in the sandbox.
#[sandboxed]
fn make(mib: usize) -> Vec<u8> {
    vec![1u8; mib << 20]
}

#[test]
fn the_memory_limit_holds_for_attachments() {
    e2e();
    let big = vec![7u8; 512 << 20];
    for zygote in [false, true] {
        let policy = Policy::new().memory(256 << 20).zygote(zygote);
        // Control: what fits, fits.
        assert_eq!(policy.run(|| length(&big[..4 << 20])), 4 << 20);
        assert_eq!(policy.run(|| make(4)).len(), 4 << 20);
        // An argument larger than the sandbox may hold, and a result larger than it may
        // make, are memory-limit failures.
        let error = policy.run(|| boxed::try_call(|| length(&big))).unwrap_err();
        assert_eq!(
            error.kind(),
            ErrorKind::MemoryLimit,
            "zygote {zygote}: {error}"
        );
        let error = policy.run(|| boxed::try_call(|| make(512))).unwrap_err();
        assert_eq!(
            error.kind(),
            ErrorKind::MemoryLimit,
            "zygote {zygote}: {error}"
        );
    }
}

#[test]
fn the_response_bound_holds_for_attachments() {
    e2e();
    for zygote in [false, true] {
        // Control: 4 MiB of bytes under a bound of 5 MiB.
        let policy = Policy::new().max_response(5 << 20).zygote(zygote);
        assert_eq!(policy.run(|| make(4)).len(), 4 << 20);
        // The same bytes under a bound of 1 MiB: the JSON is a few bytes, the attachment
        // is what the bound refuses.
        let policy = Policy::new().max_response(1 << 20).zygote(zygote);
        let error = policy.run(|| boxed::try_call(|| make(4))).unwrap_err();
        assert_eq!(
            error.kind(),
            ErrorKind::ResponseLimit,
            "zygote {zygote}: {error}"
        );
    }
}

/// Writes `frame` to the response pipe (descriptor 4 in the sandbox) ahead of the real
/// answer, then ends the sandbox at once if `then_exit`.
#[sandboxed]
fn forge_frame(frame: Vec<u8>, then_exit: bool) -> Vec<u8> {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    // SAFETY: descriptor 4 is the sandbox's response pipe; taking it over is the attack.
    let mut pipe = unsafe { std::fs::File::from_raw_fd(4) };
    pipe.write_all(&frame).unwrap();
    if then_exit {
        // SAFETY: ends the process at once; nothing runs after it.
        unsafe { libc::_exit(0) };
    }
    std::mem::forget(pipe);
    b"the real answer".to_vec()
}

/// A result frame: the tag, the payload's length, the JSON's length and the JSON, the
/// attachment count, the lengths, the bytes.
fn result_frame(json: &[u8], count: u32, lengths: &[u64], bytes: &[u8]) -> Vec<u8> {
    let mut payload = (json.len() as u64).to_le_bytes().to_vec();
    payload.extend_from_slice(json);
    payload.extend_from_slice(&count.to_le_bytes());
    for length in lengths {
        payload.extend_from_slice(&length.to_le_bytes());
    }
    payload.extend_from_slice(bytes);
    let mut frame = vec![b'R'];
    frame.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    frame.extend_from_slice(&payload);
    frame
}

#[test]
fn lying_attachments_from_the_sandbox_are_clear_errors() {
    e2e();
    let reference = br#"{"\u0000bytes":0}"#;
    both_ways(|how| {
        // Control: a well-formed forged frame is taken for the answer, so the frames
        // below reach the caller's reader the same way.
        let forged = result_frame(reference, 1, &[6], b"forged");
        assert_eq!(forge_frame(forged, false), b"forged", "{how}");

        let cases: Vec<(Vec<u8>, ErrorKind, &str)> = vec![
            // More attachments announced than the frame has room for.
            (
                result_frame(reference, u32::MAX, &[6], b"forged"),
                ErrorKind::Protocol,
                "4294967295 attachments",
            ),
            // An attachment longer than the frame.
            (
                result_frame(reference, 1, &[1 << 40], b"forged"),
                ErrorKind::Protocol,
                "attachment 0 of 1099511627776 bytes",
            ),
            // A reference to an attachment that is not there.
            (
                result_frame(br#"{"\u0000bytes":3}"#, 1, &[6], b"forged"),
                ErrorKind::DecodeResponse,
                "a reference to attachment 3, of 1",
            ),
            // An attachment nothing refers to.
            (
                result_frame(br#"[]"#, 1, &[6], b"forged"),
                ErrorKind::DecodeResponse,
                "attachment 0 is not referred to",
            ),
        ];
        for (frame, kind, message) in cases {
            let error = boxed::try_call(|| forge_frame(frame, false)).unwrap_err();
            assert_eq!(error.kind(), kind, "{how}: {error}");
            assert!(error.to_string().contains(message), "{how}: {error}");
        }
        // A frame that announces a huge attachment and stops: refused from its header
        // (the bound holds for attachments), and nothing near that size is allocated.
        let mut frame = result_frame(reference, 1, &[u64::MAX / 4], b"");
        frame[1..9].copy_from_slice(&u64::MAX.to_le_bytes());
        let error = boxed::try_call(|| forge_frame(frame, true)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ResponseLimit, "{how}: {error}");
        // One within the bound that stops short: no answer, at once.
        let mut frame = result_frame(reference, 1, &[1 << 20], b"");
        frame[1..9].copy_from_slice(&(2u64 << 20).to_le_bytes());
        let error = boxed::try_call(|| forge_frame(frame, true)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NoAnswer, "{how}: {error}");
    });
}
