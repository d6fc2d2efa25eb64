//! Payload codec throughput beside raw AES-256-GCM on the same data, in the same run.
//!
//! `cargo bench --bench codec` prints one line per size and operation: the codec (protobuf
//! framing, random nonce, authenticated data, metadata) against `aes-gcm` alone encrypting or
//! decrypting the same bytes. Python's `cryptography` AESGCM figures come from
//! `benches/codec_python_aesgcm.py`, run in the same command (see docs/benchmarks.md).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use engram::codec::{KeyId, Keyring, Payload, PayloadCodec};
use engram::kms::SecretBytes;

const SIZES: [(usize, &str); 4] = [
    (256, "256 B"),
    (4 << 10, "4 KiB"),
    (64 << 10, "64 KiB"),
    (1 << 20, "1 MiB"),
];

/// MiB/s of `f` over `bytes` per call, run for about `budget`.
fn throughput(bytes: usize, budget: Duration, f: &mut dyn FnMut()) -> f64 {
    f();
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < budget {
        f();
        calls += 1;
    }
    (bytes as f64 * calls as f64) / start.elapsed().as_secs_f64() / (1024.0 * 1024.0)
}

/// Measures `a` and `b` in alternating short rounds and keeps each one's best round, so load
/// from other processes on the machine hits both alike.
fn compare(bytes: usize, a: &mut dyn FnMut(), b: &mut dyn FnMut()) -> (f64, f64) {
    let round = Duration::from_millis(150);
    let (mut best_a, mut best_b) = (0f64, 0f64);
    for _ in 0..6 {
        best_a = best_a.max(throughput(bytes, round, a));
        best_b = best_b.max(throughput(bytes, round, b));
    }
    (best_a, best_b)
}

fn main() {
    let key = [7u8; 32];
    let codec = PayloadCodec::new(
        Arc::new(
            Keyring::from_keys([(
                KeyId::new("bench").unwrap(),
                engram::codec::KeyTimes::ALWAYS,
                SecretBytes::new(key.to_vec()),
            )])
            .unwrap(),
        ),
        engram::codec::Namespace::new("default").unwrap(),
    );
    let raw = Aes256Gcm::new(&key.into());
    println!(
        "{:>7}  {:>14}  {:>14}  {:>7}  {:>14}  {:>14}  {:>7}",
        "size",
        "codec enc MiB/s",
        "raw enc MiB/s",
        "ratio",
        "codec dec MiB/s",
        "raw dec MiB/s",
        "ratio"
    );
    for (size, label) in SIZES {
        let data = vec![0x5au8; size];
        let payload = Payload::new("binary/plain", data.clone());

        let nonce = Nonce::from([1u8; 12]);
        let (codec_enc, raw_enc) = compare(
            size,
            &mut || {
                black_box(codec.encode_one(black_box(&payload)).unwrap());
            },
            &mut || {
                let mut buffer = Vec::with_capacity(size + 16);
                buffer.extend_from_slice(black_box(&data));
                let tag = raw
                    .encrypt_in_place_detached(&nonce, b"", &mut buffer)
                    .unwrap();
                buffer.extend_from_slice(&tag);
                black_box(buffer);
            },
        );

        let sealed = codec.encode_one(&payload).unwrap();
        let mut raw_sealed = data.clone();
        let raw_tag = raw
            .encrypt_in_place_detached(&nonce, b"", &mut raw_sealed)
            .unwrap();
        let (codec_dec, raw_dec) = compare(
            size,
            &mut || {
                black_box(codec.decode_one(black_box(sealed.clone())).unwrap());
            },
            &mut || {
                let mut buffer = black_box(raw_sealed.clone());
                raw.decrypt_in_place_detached(&nonce, b"", &mut buffer, &raw_tag)
                    .unwrap();
                black_box(buffer);
            },
        );
        println!(
            "{label:>7}  {codec_enc:>15.0}  {raw_enc:>14.0}  {:>7.2}  {codec_dec:>15.0}  {raw_dec:>14.0}  {:>7.2}",
            codec_enc / raw_enc,
            codec_dec / raw_dec
        );
    }
}
