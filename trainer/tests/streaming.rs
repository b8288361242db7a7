//! `encode` streams its input: memory is bounded by the chunk it reads, not by the file.
//!
//! A 250,000-row float16 file (the shipped sample's rows, tiled) is encoded; the binary's peak
//! resident memory must stay far below what holding the rows would take, and every row must get
//! the ID its original row gets when the sample is encoded on its own.

mod common;
use common::{assert_success, data, run, s, scratch};
use rqvae::npy::{npy_header, probe_header, HeaderProbe};
use std::io::Write;
use std::path::Path;

const ROWS: usize = 250_000;

/// The int32 IDs of an `encode --out *.npy` file, row-major.
fn read_ids(path: &Path) -> Vec<i32> {
    let bytes = std::fs::read(path).unwrap();
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The largest resident set of any finished child of this process, in bytes.
fn children_peak_rss() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage only writes the struct it is given.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage failed");
    // SAFETY: initialised by the successful call above; Linux reports kilobytes.
    (unsafe { usage.assume_init() }.ru_maxrss as u64) * 1024
}

#[test]
fn encode_streams_a_file_larger_than_its_memory_peak() {
    let dir = scratch("streaming");
    let source = std::fs::read(data::sample_npy()).unwrap();
    let HeaderProbe::Ready(layout) = probe_header(&source, true).unwrap() else {
        panic!("sample header incomplete");
    };
    let body = &source[layout.data_start..];
    let row_bytes = layout.dim * 2;

    let big = dir.join("tiled.f16.npy");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
    out.write_all(&npy_header::<half::f16>(ROWS, layout.dim))
        .unwrap();
    for r in 0..ROWS {
        let src = r % layout.rows;
        out.write_all(&body[src * row_bytes..(src + 1) * row_bytes])
            .unwrap();
    }
    out.flush().unwrap();
    drop(out);

    let model = data::default_model_path();
    let small_ids = dir.join("sample.ids.npy");
    let sample = data::sample_npy();
    assert_success(&run(&[
        "encode",
        "--model",
        s(&model),
        "--embeddings",
        s(&sample),
        "--out",
        s(&small_ids),
    ]));
    let big_ids = dir.join("tiled.ids.npy");
    assert_success(&run(&[
        "encode",
        "--model",
        s(&model),
        "--embeddings",
        s(&big),
        "--out",
        s(&big_ids),
    ]));

    let peak = children_peak_rss();
    // Holding the rows as f32, as a whole-file reader must, takes 768 MB; the stream needs a
    // chunk of them plus the model.
    let whole_f32 = (ROWS * layout.dim * 4) as u64;
    assert!(
        peak < whole_f32 / 2,
        "peak resident memory {} MB, holding the rows would take {} MB",
        peak >> 20,
        whole_f32 >> 20
    );

    let small = read_ids(&small_ids);
    let tiled = read_ids(&big_ids);
    assert_eq!(tiled.len(), ROWS * 3);
    for (r, ids) in tiled.chunks_exact(3).enumerate() {
        let src = r % layout.rows;
        assert_eq!(
            ids,
            &small[src * 3..src * 3 + 3],
            "row {r} (sample row {src})"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
