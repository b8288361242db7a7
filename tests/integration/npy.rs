//! The `.npy` reader: round trips through the writer, the real sample file, and one specific
//! error for every kind of bad input.

use crate::common::unique_temp_path;
use half::f16;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rqvae::npy::{
    probe_header, read_embeddings, read_embeddings_bytes, to_npy_bytes, HeaderProbe, NpyError,
    NpyFloat, NpyRowReader,
};
use rqvae::EmbeddingsError;

/// Version 1.0 `.npy` bytes with a hand-written header dict and raw data.
fn npy_with_header(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.to_string();
    let unpadded = 10 + header.len() + 1;
    header.extend(std::iter::repeat_n(' ', (64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn err(bytes: &[u8]) -> NpyError {
    match read_embeddings_bytes(bytes) {
        Ok((e, kind)) => panic!(
            "expected an error, read {} × {} {kind:?}",
            e.rows(),
            e.dim()
        ),
        Err(e) => e,
    }
}

fn assert_mentions(e: &NpyError, words: &[&str]) {
    let msg = e.to_string();
    for w in words {
        assert!(msg.contains(w), "message {msg:?} does not mention {w:?}");
    }
}

#[test]
fn f32_round_trip() {
    let mut rng = StdRng::seed_from_u64(1);
    let (rows, cols) = (37, 13);
    let values: Vec<f32> = (0..rows * cols)
        .map(|_| rng.random::<f32>() * 200.0 - 100.0)
        .collect();
    let bytes = to_npy_bytes(&values, rows, cols);
    // The writer pads the header so data starts on a 64-byte boundary.
    assert_eq!((bytes.len() - rows * cols * 4) % 64, 0);
    let (e, kind) = read_embeddings_bytes(&bytes).unwrap();
    assert_eq!(kind, NpyFloat::F32);
    assert_eq!((e.rows(), e.dim()), (rows, cols));
    assert_eq!(e.as_slice(), &values[..]);
    assert_eq!(e.row(5), &values[5 * cols..6 * cols]);
}

#[test]
fn f16_widens_exactly() {
    let mut rng = StdRng::seed_from_u64(2);
    let (rows, cols) = (9, 7);
    let mut halves: Vec<f16> = (0..rows * cols)
        .map(|_| f16::from_f32(rng.random::<f32>() * 8.0 - 4.0))
        .collect();
    // Values with known widenings: the largest f16, the smallest subnormal, 0.1's f16 neighbour.
    halves[0] = f16::MAX;
    halves[1] = f16::from_bits(1);
    halves[2] = f16::from_f32(0.1);
    let bytes = to_npy_bytes(&halves, rows, cols);
    let (e, kind) = read_embeddings_bytes(&bytes).unwrap();
    assert_eq!(kind, NpyFloat::F16);
    assert_eq!((e.rows(), e.dim()), (rows, cols));
    assert_eq!(e.as_slice()[0], 65504.0);
    assert_eq!(e.as_slice()[1], 2f32.powi(-24));
    assert_eq!(e.as_slice()[2], 0.099975586);
    assert_eq!(e.as_slice().len(), halves.len());
    for (i, (&got, h)) in e.as_slice().iter().zip(&halves).enumerate() {
        assert_eq!(got, h.to_f32(), "element {i}");
    }
}

#[test]
fn real_sample_file() {
    let e = read_embeddings(&crate::data::sample_npy()).unwrap();
    assert_eq!((e.rows(), e.dim()), (crate::data::SAMPLE_ROWS, 768));
    for i in 0..e.rows() {
        let norm = e.row(i).iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "row {i} has norm {norm}");
    }
}

#[test]
fn empty_bytes() {
    let e = err(&[]);
    assert!(matches!(e, NpyError::EmptyFile), "{e:?}");
    assert_mentions(&e, &["empty"]);
}

#[test]
fn bad_magic() {
    let e = err(b"PK\x03\x04 this is a zip file, not numpy");
    assert!(matches!(e, NpyError::BadMagic), "{e:?}");
    assert_mentions(&e, &["magic"]);
    // Shorter than the magic itself.
    let e = err(b"\x93NU");
    assert!(matches!(e, NpyError::BadMagic), "{e:?}");
}

#[test]
fn truncated_header() {
    // Magic and version, but no header length.
    let e = err(b"\x93NUMPY\x01\x00");
    assert!(matches!(e, NpyError::TruncatedHeader(_)), "{e:?}");
    assert_mentions(&e, &["truncated", "header"]);
    // The header length promises more bytes than follow.
    let full = to_npy_bytes(&[1.0f32, 2.0], 1, 2);
    let e = err(&full[..40]);
    assert!(matches!(e, NpyError::TruncatedHeader(_)), "{e:?}");
    assert_mentions(&e, &["truncated", "header"]);
}

#[test]
fn truncated_data() {
    let full = to_npy_bytes(&[1.0f32; 12], 3, 4);
    let e = err(&full[..full.len() - 4]);
    match &e {
        NpyError::Truncated {
            shape,
            expected,
            found,
        } => {
            assert_eq!(shape, &[3, 4]);
            assert_eq!((*expected, *found), (48, 44));
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    assert_mentions(&e, &["truncated", "48", "44"]);
}

#[test]
fn trailing_bytes() {
    let mut bytes = to_npy_bytes(&[1.0f32; 12], 3, 4);
    bytes.extend_from_slice(&[0, 0, 0, 0, 0]);
    let e = err(&bytes);
    match &e {
        NpyError::Trailing { shape, found } => {
            assert_eq!(shape, &[3, 4]);
            assert_eq!(*found, 5);
        }
        other => panic!("expected Trailing, got {other:?}"),
    }
    assert_mentions(&e, &["5 trailing bytes"]);
}

#[test]
fn one_d_shape() {
    let bytes = npy_with_header(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (12,), }",
        &f32_bytes(&[0.5; 12]),
    );
    let e = err(&bytes);
    match &e {
        NpyError::NotTwoD(shape) => assert_eq!(shape, &[12]),
        other => panic!("expected NotTwoD, got {other:?}"),
    }
    assert_mentions(&e, &["[12]", "2-D"]);
}

#[test]
fn three_d_shape() {
    let bytes = npy_with_header(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 2), }",
        &f32_bytes(&[0.5; 12]),
    );
    let e = err(&bytes);
    match &e {
        NpyError::NotTwoD(shape) => assert_eq!(shape, &[2, 3, 2]),
        other => panic!("expected NotTwoD, got {other:?}"),
    }
    assert_mentions(&e, &["[2, 3, 2]", "2-D"]);
}

#[test]
fn int_dtype() {
    let data: Vec<u8> = (0..12i32).flat_map(|v| v.to_le_bytes()).collect();
    let bytes = npy_with_header(
        "{'descr': '<i4', 'fortran_order': False, 'shape': (3, 4), }",
        &data,
    );
    let e = err(&bytes);
    match &e {
        NpyError::Dtype(d) => assert_eq!(d, "<i4"),
        other => panic!("expected Dtype, got {other:?}"),
    }
    assert_mentions(&e, &["<i4"]);
    // The writer's own i32 output is refused the same way.
    let e = err(&to_npy_bytes(&[1i32, 2, 3, 4], 2, 2));
    assert!(matches!(&e, NpyError::Dtype(d) if d == "<i4"), "{e:?}");
}

#[test]
fn big_endian_f32() {
    let data: Vec<u8> = [1.0f32; 12].iter().flat_map(|v| v.to_be_bytes()).collect();
    let bytes = npy_with_header(
        "{'descr': '>f4', 'fortran_order': False, 'shape': (3, 4), }",
        &data,
    );
    let e = err(&bytes);
    match &e {
        NpyError::Dtype(d) => assert_eq!(d, ">f4"),
        other => panic!("expected Dtype, got {other:?}"),
    }
    assert_mentions(&e, &[">f4", "little-endian"]);
}

#[test]
fn fortran_order() {
    let bytes = npy_with_header(
        "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 4), }",
        &f32_bytes(&[1.0; 12]),
    );
    let e = err(&bytes);
    assert!(matches!(e, NpyError::FortranOrder), "{e:?}");
    assert_mentions(&e, &["Fortran"]);
}

#[test]
fn nan_value_reports_row_and_column() {
    let mut values = vec![0.25f32; 12];
    values[6] = f32::NAN; // row 1, column 2 of a 3 × 4 array
    let e = err(&to_npy_bytes(&values, 3, 4));
    match &e {
        NpyError::Embeddings(EmbeddingsError::NonFinite { row, col, value }) => {
            assert_eq!((*row, *col), (1, 2));
            assert!(value.is_nan());
        }
        other => panic!("expected NonFinite, got {other:?}"),
    }
    assert_mentions(&e, &["row 1", "column 2", "NaN"]);

    // Infinity in f16 data is refused too: row 2, column 0 of 3 × 2.
    let mut halves = vec![f16::from_f32(1.0); 6];
    halves[4] = f16::INFINITY;
    let e = err(&to_npy_bytes(&halves, 3, 2));
    assert!(
        matches!(
            e,
            NpyError::Embeddings(EmbeddingsError::NonFinite { row: 2, col: 0, .. })
        ),
        "{e:?}"
    );
}

#[test]
fn zero_rows() {
    let e = err(&to_npy_bytes::<f32>(&[], 0, 768));
    assert!(
        matches!(e, NpyError::Embeddings(EmbeddingsError::Empty)),
        "{e:?}"
    );
    assert_mentions(&e, &["0 rows"]);
}

#[test]
fn read_embeddings_missing_file_names_the_path() {
    let path = unique_temp_path("missing.npy");
    let e = read_embeddings(&path).unwrap_err();
    let shown = path.display().to_string();
    assert_eq!(e.path, shown);
    assert!(matches!(e.error, NpyError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains(&shown), "{e}");
}

#[test]
fn read_embeddings_bad_file_names_the_path() {
    let path = unique_temp_path("bad.npy");
    std::fs::write(&path, b"id,title\n1,hello\n").unwrap();
    let result = read_embeddings(&path);
    std::fs::remove_file(&path).unwrap();
    let e = result.unwrap_err();
    let shown = path.display().to_string();
    assert!(matches!(e.error, NpyError::BadMagic), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains(&shown) && msg.contains("magic"), "{msg}");
}

/// Writes `bytes` to a fresh temporary file for the chunked reader.
fn temp_npy(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = unique_temp_path(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn row_reader_chunks_equal_the_whole_read_for_both_precisions() {
    let mut rng = StdRng::seed_from_u64(7);
    let (rows, cols) = (37, 13);
    let values: Vec<f32> = (0..rows * cols)
        .map(|_| rng.random::<f32>() - 0.5)
        .collect();
    let halves: Vec<f16> = values.iter().map(|&v| f16::from_f32(v)).collect();
    for (name, bytes) in [
        ("rows-f32.npy", to_npy_bytes(&values, rows, cols)),
        ("rows-f16.npy", to_npy_bytes(&halves, rows, cols)),
    ] {
        let path = temp_npy(name, &bytes);
        let whole = read_embeddings(&path).unwrap();
        for chunk in [1, 5, 36, 37, 1000] {
            let mut reader = NpyRowReader::open(&path).unwrap();
            assert_eq!((reader.layout().rows, reader.layout().dim), (rows, cols));
            let mut read = Vec::new();
            let mut starts = Vec::new();
            while let Some((start, part)) = reader.next_chunk(chunk).unwrap() {
                assert!(part.rows() <= chunk);
                starts.push(start);
                read.extend_from_slice(part.as_slice());
            }
            assert_eq!(read, whole.as_slice(), "{name}, chunks of {chunk}");
            let expected: Vec<usize> = (0..rows).step_by(chunk).collect();
            assert_eq!(starts, expected, "{name}, chunks of {chunk}");
            assert!(reader.next_chunk(chunk).unwrap().is_none());
        }
        std::fs::remove_file(path).unwrap();
    }
}

#[test]
fn row_reader_refuses_a_bad_size_before_reading_any_row() {
    let full = to_npy_bytes(&[1.0f32; 12], 3, 4);
    let truncated = temp_npy("truncated.npy", &full[..full.len() - 4]);
    let e = NpyRowReader::open(&truncated)
        .err()
        .expect("truncated file opened");
    assert!(matches!(e.error, NpyError::Truncated { .. }), "{e:?}");
    assert!(e.to_string().contains(truncated.to_str().unwrap()), "{e}");
    let mut long = full.clone();
    long.extend_from_slice(&[0; 3]);
    let trailing = temp_npy("trailing.npy", &long);
    let e = NpyRowReader::open(&trailing)
        .err()
        .expect("file with trailing bytes opened");
    assert!(
        matches!(e.error, NpyError::Trailing { found: 3, .. }),
        "{e:?}"
    );
    // A file that ends inside its header is the whole-file reader's error, with the file named.
    let short = temp_npy("short-header.npy", &full[..40]);
    let e = NpyRowReader::open(&short).err().expect("short file opened");
    assert!(matches!(e.error, NpyError::TruncatedHeader(_)), "{e:?}");
    for p in [truncated, trailing, short] {
        std::fs::remove_file(p).unwrap();
    }
}

#[test]
fn row_reader_names_the_files_row_of_a_non_finite_value() {
    let (rows, cols) = (30, 4);
    let mut values = vec![0.5f32; rows * cols];
    values[23 * cols + 2] = f32::NAN;
    let path = temp_npy("nan-row.npy", &to_npy_bytes(&values, rows, cols));
    let mut reader = NpyRowReader::open(&path).unwrap();
    let mut result = Ok(None);
    for _ in 0..rows {
        result = reader.next_chunk(5);
        if result.is_err() {
            break;
        }
    }
    let e = result.expect_err("NaN not reported");
    assert!(
        matches!(
            e.error,
            NpyError::Embeddings(EmbeddingsError::NonFinite {
                row: 23,
                col: 2,
                ..
            })
        ),
        "{e:?}"
    );
    std::fs::remove_file(path).unwrap();
}

#[test]
fn header_probe_asks_for_more_bytes_until_the_header_is_whole() {
    let bytes = to_npy_bytes(&[1.0f32; 12], 3, 4);
    let (whole, _) = read_embeddings_bytes(&bytes).unwrap();
    let data_start = bytes.len() - 48;
    for len in 0..=bytes.len() {
        match probe_header(&bytes[..len], false).unwrap() {
            HeaderProbe::NeedBytes(n) => {
                assert!(n > len && n <= data_start, "prefix {len}: asked for {n}")
            }
            HeaderProbe::Ready(layout) => {
                assert!(len >= data_start, "ready with a {len}-byte prefix");
                assert_eq!((layout.rows, layout.dim), (whole.rows(), whole.dim()));
                assert_eq!(layout.data_start, data_start);
                assert_eq!(layout.data_bytes, 48);
            }
        }
    }
    // At the end of a stream, a short prefix is the whole-file reader's error.
    for len in [0, 3, 8, 40] {
        let probed = probe_header(&bytes[..len], true).unwrap_err().to_string();
        assert_eq!(probed, err(&bytes[..len]).to_string(), "prefix {len}");
    }
    // A bad magic is refused at once, without asking for more.
    assert!(matches!(
        probe_header(b"PK\x03", false),
        Err(NpyError::BadMagic)
    ));
}
