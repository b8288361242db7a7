//! `train --sample` streams its input: its memory is bounded by the sample and a chunk of rows,
//! not by the file.
//!
//! The same small model trains on a 2,000-row sample of two float16 files, one of 24,000 rows
//! and one 8 times larger (192,000 rows: 295 MB on disk, 590 MB as f32). The larger file's
//! run may not need more memory than the smaller's plus a small part of what its extra rows
//! would take. Its own test binary: getrusage reports the peak of every child of the process, so
//! another test's children running in parallel would blur it.

mod common;
use common::{assert_success, data, run, s, scratch};
use rqvae::npy::{npy_header, probe_header, HeaderProbe};
use std::io::Write;
use std::path::Path;

const SMALL_ROWS: usize = 24_000;
const BIG_ROWS: usize = 8 * SMALL_ROWS;

/// The largest resident set of any finished child of this process, in bytes.
fn children_peak_rss() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage only writes the struct it is given.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage failed");
    // SAFETY: initialised by the successful call above; Linux reports kilobytes.
    (unsafe { usage.assume_init() }.ru_maxrss as u64) * 1024
}

/// The shipped sample's float16 rows, tiled to `rows`.
fn write_tiled(path: &Path, rows: usize) -> usize {
    let source = std::fs::read(data::sample_npy()).unwrap();
    let HeaderProbe::Ready(layout) = probe_header(&source, true).unwrap() else {
        panic!("sample header incomplete");
    };
    let body = &source[layout.data_start..];
    let row_bytes = layout.dim * 2;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    out.write_all(&npy_header::<half::f16>(rows, layout.dim))
        .unwrap();
    for r in 0..rows {
        let src = r % layout.rows;
        out.write_all(&body[src * row_bytes..(src + 1) * row_bytes])
            .unwrap();
    }
    out.flush().unwrap();
    layout.dim
}

#[test]
fn train_sample_peak_memory_does_not_grow_with_the_file() {
    let dir = scratch("sample-memory");
    let config = dir.join("cfg.json");
    std::fs::write(
        &config,
        r#"{"hidden_dims": [64], "latent_dim": 8, "levels": 2, "codebook_size": 16}"#,
    )
    .unwrap();
    let train = |file: &Path, name: &str| {
        assert_success(&run(&[
            "train",
            "--embeddings",
            s(file),
            "--out",
            s(&dir.join(name)),
            "--config",
            s(&config),
            "--sample",
            "2000",
            "--epochs",
            "1",
            "--batch-size",
            "500",
            "--eval-queries",
            "100",
        ]));
    };

    let small = dir.join("small.f16.npy");
    let dim = write_tiled(&small, SMALL_ROWS);
    train(&small, "small");
    let small_peak = children_peak_rss();
    std::fs::remove_file(&small).unwrap();

    let big = dir.join("big.f16.npy");
    write_tiled(&big, BIG_ROWS);
    train(&big, "big");
    // The peak of both runs: the big file's run only raises it if it needed more.
    let peak = children_peak_rss();
    let extra_rows_f32 = ((BIG_ROWS - SMALL_ROWS) * dim * 4) as u64;
    eprintln!(
        "peak resident memory: {} MB on {SMALL_ROWS} rows, {} MB with {BIG_ROWS}",
        small_peak >> 20,
        peak >> 20
    );
    assert!(
        peak < small_peak + extra_rows_f32 / 8,
        "peak resident memory {} MB on {BIG_ROWS} rows against {} MB on {SMALL_ROWS}; \
         holding the extra rows would take {} MB",
        peak >> 20,
        small_peak >> 20,
        extra_rows_f32 >> 20
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
