//! Every decoder of user input, fuzzed within a fixed time budget on stable Rust: `.npy`
//! embeddings, `.safetensors` weights, ID tables and items files.
//!
//! Each target starts from valid inputs and hand-written edge cases, then mutates them (bit
//! flips, interesting bytes, truncation, insertion, duplication, number edits). The property:
//! the decoder returns a value that passes the target's consistency check, or an error with a
//! message, and never panics. `FUZZ_MS` sets each target's budget (default 2,000 ms) and
//! `FUZZ_SEED` the seed (default: from the clock, printed); a failing input is written to
//! `test-artifacts/fuzz/` and the message names the seed and the case.

use burn::backend::NdArray;
use burn::tensor::backend::Backend;
use half::f16;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rqvae::ids::assign::{assign, AssignOptions};
use rqvae::ids::table::{read_item_ids, IdTable, ItemId, Resolution};
use rqvae::npy::{read_embeddings_bytes, to_npy_bytes};
use rqvae::{HostModel, ModelWeights, Precision, RqVaeConfig};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

fn budget() -> Duration {
    let ms = std::env::var("FUZZ_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    Duration::from_millis(ms)
}

fn seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

/// One mutation of `input`.
fn mutate(input: &[u8], rng: &mut StdRng) -> Vec<u8> {
    const INTERESTING: &[u8] = b"\x00\xff\x7f\x80(),: '\"{}[]\n\r-0123456789eE.";
    const NUMBERS: &[&str] = &[
        "0",
        "-1",
        "65536",
        "4294967296",
        "2147483648",
        "18446744073709551615",
        "99999999999999999999999",
        "1e400",
        "NaN",
    ];
    let mut out = input.to_vec();
    let pos = |rng: &mut StdRng, len: usize| rng.random_range(0..=len);
    for _ in 0..rng.random_range(1..=4) {
        match rng.random_range(0..7) {
            0 if !out.is_empty() => {
                let i = rng.random_range(0..out.len());
                out[i] ^= 1 << rng.random_range(0..8);
            }
            1 if !out.is_empty() => {
                let i = rng.random_range(0..out.len());
                out[i] = INTERESTING[rng.random_range(0..INTERESTING.len())];
            }
            2 => out.truncate(pos(rng, out.len())),
            3 => {
                let at = pos(rng, out.len());
                let n = rng.random_range(1..16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                out.splice(at..at, bytes);
            }
            4 if !out.is_empty() => {
                let a = rng.random_range(0..out.len());
                let b = (a + rng.random_range(1..64)).min(out.len());
                let chunk = out[a..b].to_vec();
                let at = pos(rng, out.len());
                out.splice(at..at, chunk);
            }
            5 => {
                // Replace a run of digits (a size, a code, an id) with an edge number.
                let digits: Vec<usize> = (0..out.len())
                    .filter(|&i| out[i].is_ascii_digit())
                    .collect();
                if let Some(&start) = digits.get(rng.random_range(0..digits.len().max(1))) {
                    let end = (start..out.len())
                        .find(|&i| !out[i].is_ascii_digit())
                        .unwrap_or(out.len());
                    let number = NUMBERS[rng.random_range(0..NUMBERS.len())].as_bytes();
                    out.splice(start..end, number.iter().copied());
                }
            }
            _ => {
                let at = pos(rng, out.len());
                out.splice(at..at, [0xEF, 0xBB, 0xBF]);
            }
        }
    }
    out
}

/// Runs `check` on the seeds, then on mutations of them until the budget is spent. `check`
/// returns `Err(reason)` when a decoded value is inconsistent; a panic is caught and reported.
fn fuzz(name: &str, seeds: &[Vec<u8>], check: impl Fn(&[u8]) -> Result<(), String>) {
    let seed = seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let mut cases = 0usize;
    let fail = |input: &[u8], case: usize, what: String| -> ! {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/fuzz");
        std::fs::create_dir_all(&dir).ok();
        let path = dir.join(format!("{name}-{seed}-{case}.bin"));
        std::fs::write(&path, input).ok();
        panic!(
            "{name}: case {case} with FUZZ_SEED={seed}: {what}; input saved as {}",
            path.display()
        );
    };
    let mut run = |input: &[u8]| {
        match catch_unwind(AssertUnwindSafe(|| check(input))) {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => fail(input, cases, reason),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                fail(input, cases, format!("panicked: {msg}"))
            }
        }
        cases += 1;
    };
    for s in seeds {
        run(s);
    }
    while started.elapsed() < budget() {
        let base = &seeds[rng.random_range(0..seeds.len())];
        let input = mutate(base, &mut rng);
        run(&input);
    }
    eprintln!("{name}: {cases} cases, FUZZ_SEED={seed}");
}

fn npy_with_header(dict: &str, body: &[u8]) -> Vec<u8> {
    let mut header = dict.to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(body);
    out
}

#[test]
fn npy_reader() {
    let f32s: Vec<f32> = (0..12).map(|i| i as f32 * 0.25 - 1.0).collect();
    let halves: Vec<u8> = [0.5f32, -2.0, 6e-8, 65504.0, 1e-5, 0.0]
        .iter()
        .flat_map(|&v| f16::from_f32(v).to_le_bytes())
        .collect();
    let seeds = vec![
        to_npy_bytes(&f32s, 3, 4),
        npy_with_header(
            "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }",
            &halves,
        ),
        Vec::new(),
        b"\x93NUMPY".to_vec(),
        // Sizes whose product overflows 32 and 64 bits.
        npy_with_header(
            "{'descr': '<f2', 'fortran_order': False, 'shape': (70000, 70000), }",
            &[],
        ),
        npy_with_header(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
            &[],
        ),
        // NaN and infinity in the data.
        to_npy_bytes(&[f32::NAN, 1.0, f32::INFINITY, 0.0], 2, 2),
        // A version-2 header that claims 4 GiB.
        {
            let mut v = b"\x93NUMPY\x02\x00".to_vec();
            v.extend(u32::MAX.to_le_bytes());
            v.extend(b"{'descr': '<f4'");
            v
        },
    ];
    fuzz("npy", &seeds, |bytes| match read_embeddings_bytes(bytes) {
        Ok((e, _)) => {
            if e.rows() * e.dim() != e.as_slice().len() || e.rows() == 0 {
                return Err(format!(
                    "{} × {} but {} values",
                    e.rows(),
                    e.dim(),
                    e.as_slice().len()
                ));
            }
            if e.as_slice().iter().any(|v| !v.is_finite()) {
                return Err("accepted a non-finite value".into());
            }
            Ok(())
        }
        Err(err) if err.to_string().is_empty() => Err("an empty message".into()),
        Err(_) => Ok(()),
    });
}

fn small_weights() -> ModelWeights {
    let config = RqVaeConfig {
        input_dim: 6,
        hidden_dims: vec![5],
        latent_dim: 3,
        levels: 2,
        codebook_size: 4,
    };
    let device = Default::default();
    <NdArray<f32> as Backend>::seed(&device, 3);
    ModelWeights::from_model(&config.init::<NdArray<f32>>(&device), &config)
}

#[test]
fn weights_reader() {
    let w = small_weights();
    let seeds = vec![
        w.to_bytes(Precision::F32).unwrap(),
        w.to_bytes(Precision::F16).unwrap(),
        Vec::new(),
        u64::MAX.to_le_bytes().to_vec(),
    ];
    fuzz("weights", &seeds, |bytes| {
        match ModelWeights::from_bytes(bytes) {
            Ok(w) => {
                // Whatever loads must build a model and encode.
                let host = HostModel::new(&w).map_err(|e| format!("loaded but unusable: {e}"))?;
                let x = vec![0.1f32; w.config.input_dim];
                let ids = host.encode(&x, 1);
                if ids.len() != w.config.levels
                    || ids.iter().any(|&c| c as usize >= w.config.codebook_size)
                {
                    return Err(format!("encode gave {ids:?}"));
                }
                Ok(())
            }
            Err(err) if err.to_string().is_empty() => Err("an empty message".into()),
            Err(_) => Ok(()),
        }
    });
}

fn small_table() -> (String, HostModel) {
    let host = HostModel::new(&small_weights()).unwrap();
    let mut rng = StdRng::seed_from_u64(9);
    let rows = 24;
    let x: Vec<f32> = (0..rows * 6)
        .map(|_| rng.random::<f32>() * 2.0 - 1.0)
        .collect();
    let x = rqvae::Embeddings::new(x, 6).unwrap();
    let ids: Vec<ItemId> = (0..rows)
        .map(|i| {
            if i % 2 == 0 {
                ItemId::Int(i as i64)
            } else {
                ItemId::Str(format!("sku-{i}"))
            }
        })
        .collect();
    let mut table = IdTable::new(
        host.fingerprint(),
        host.levels(),
        host.codebook_size(),
        Resolution::Reassign,
    )
    .unwrap();
    assign(&mut table, &host, &x, &ids, AssignOptions::default()).unwrap();
    (table.to_jsonl(), host)
}

#[test]
fn id_table_reader() {
    let (text, _) = small_table();
    let crlf = text.replace('\n', "\r\n");
    let seeds = vec![
        text.clone().into_bytes(),
        crlf.into_bytes(),
        format!("\u{feff}{text}").into_bytes(),
        Vec::new(),
        b"\n\n".to_vec(),
    ];
    fuzz("id-table", &seeds, |bytes| {
        let text = String::from_utf8_lossy(bytes);
        match IdTable::from_jsonl(&text) {
            Ok(table) => {
                // A loaded table writes itself back and loads again unchanged.
                let again = IdTable::from_jsonl(&table.to_jsonl())
                    .map_err(|e| format!("its own output does not load: {e}"))?;
                if !again.entries().eq(table.entries()) {
                    return Err("a round trip changed the entries".into());
                }
                Ok(())
            }
            Err(err) if err.to_string().is_empty() => Err("an empty message".into()),
            Err(_) => Ok(()),
        }
    });
}

#[test]
fn items_reader() {
    let text: String = (0..20)
        .map(|i| format!("{{\"id\": \"sku-{i}\", \"title\": \"Item, \\\"{i}\\\"\"}}\n"))
        .collect();
    let seeds = vec![
        text.clone().into_bytes(),
        text.replace('\n', "\r\n").into_bytes(),
        b"{\"id\": 1}\n{\"id\": 2}\n".to_vec(),
        Vec::new(),
    ];
    fuzz("items", &seeds, |bytes| {
        let text = String::from_utf8_lossy(bytes);
        match read_item_ids(&text) {
            Ok(ids) => {
                let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
                if ids.len() > lines {
                    return Err(format!("{} ids from {lines} lines", ids.len()));
                }
                Ok(())
            }
            Err(err) if err.to_string().is_empty() => Err("an empty message".into()),
            Err(_) => Ok(()),
        }
    });
}
