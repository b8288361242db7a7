//! `rqvae::sample`: a uniform sample of rows drawn while a source is read in chunks.

use crate::common::unique_temp_path;
use rqvae::npy::{to_npy_bytes, NpyRowReader};
use rqvae::sample::{sample_rows, RowSample, SampleError};
use rqvae::Embeddings;
use std::convert::Infallible;
use std::num::NonZeroUsize;

type Chunk = Result<Option<(usize, Embeddings)>, Infallible>;

/// `rows` rows of dimension 2 whose values name their row (`[i, -i]`), served in chunks.
fn numbered(rows: usize) -> impl FnMut(usize) -> Chunk {
    let mut next = 0;
    move |max| {
        let count = max.min(rows - next);
        if count == 0 {
            return Ok(None);
        }
        let data = (next..next + count)
            .flat_map(|i| [i as f32, -(i as f32)])
            .collect();
        let first = next;
        next += count;
        Ok(Some((first, Embeddings::new(data, 2).unwrap())))
    }
}

fn nz(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

fn draw(rows: usize, n: usize, seed: u64, chunk: usize) -> RowSample {
    sample_rows(&mut numbered(rows), nz(n), seed, chunk).unwrap()
}

#[test]
fn a_seed_draws_the_same_sample_every_time() {
    let first = draw(10_000, 300, 7, 512);
    assert_eq!(first.indices.len(), 300);
    assert_eq!(first.source_rows, 10_000);
    assert_eq!(draw(10_000, 300, 7, 512), first);
}

#[test]
fn different_seeds_draw_different_samples() {
    let a = draw(10_000, 300, 1, 512).indices;
    let b = draw(10_000, 300, 2, 512).indices;
    let shared = a.iter().filter(|i| b.binary_search(i).is_ok()).count();
    // Two independent draws share 300 · 300 / 10,000 = 9 rows on average.
    assert!(shared < 60, "seeds 1 and 2 share {shared} of 300 rows");
}

#[test]
fn sampled_rows_come_in_source_order_with_the_indices_they_had() {
    for seed in 0..20 {
        let s = draw(1000, 37, seed, 64);
        assert!(!s.is_whole());
        assert!(s.indices.windows(2).all(|w| w[0] < w[1]), "{:?}", s.indices);
        for (k, &i) in s.indices.iter().enumerate() {
            assert_eq!(s.rows.row(k), &[i as f32, -(i as f32)]);
        }
    }
}

#[test]
fn a_sample_at_least_as_large_as_the_source_is_every_row_in_order() {
    for n in [100, 101, 1_000_000] {
        let s = draw(100, n, 3, 16);
        assert!(s.is_whole());
        assert_eq!(s.indices, (0..100).collect::<Vec<_>>());
        let all: Vec<f32> = (0..100).flat_map(|i| [i as f32, -(i as f32)]).collect();
        assert_eq!(s.rows.as_slice(), &all[..], "n = {n}");
    }
}

#[test]
fn how_the_source_cuts_its_chunks_does_not_change_the_sample() {
    let whole = draw(500, 40, 9, 500);
    for chunk in [1, 7, 64, 499] {
        assert_eq!(draw(500, 40, 9, chunk), whole, "chunks of {chunk}");
    }
}

/// Over 2,000 fixed seeds, every row of 20 is picked close to 2,000 · 5 / 20 = 500 times: the
/// chi-square statistic of the counts stays under 43.8, the 99.9th percentile of chi-square with
/// 19 degrees of freedom (a sampler that favoured the first or last rows, or the rows at chunk
/// edges, lands in the hundreds or thousands). Chunks of 3 rows put edges everywhere.
#[test]
fn every_row_is_picked_equally_often_over_many_seeds() {
    let (rows, n, seeds) = (20usize, 5usize, 2000u64);
    let mut counts = vec![0u32; rows];
    for seed in 0..seeds {
        for i in draw(rows, n, seed, 3).indices {
            counts[i] += 1;
        }
    }
    let expected = (seeds as usize * n) as f64 / rows as f64;
    let chi2: f64 = counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum();
    assert!(chi2 < 43.8, "chi-square {chi2:.1}, counts {counts:?}");
}

#[test]
fn an_npy_file_read_in_chunks_is_a_source() {
    let (rows, dim) = (3000, 4);
    let values: Vec<f32> = (0..rows * dim).map(|i| (i as f32 * 0.37).sin()).collect();
    let path = unique_temp_path("sample.npy");
    std::fs::write(&path, to_npy_bytes(&values, rows, dim)).unwrap();
    let mut reader = NpyRowReader::open(&path).unwrap();
    let s = sample_rows(&mut reader, nz(250), 11, 128).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!((s.rows.rows(), s.rows.dim(), s.source_rows), (250, 4, 3000));
    let x = Embeddings::new(values, dim).unwrap();
    assert_eq!(s.rows.as_slice(), &x.gather(&s.indices)[..]);
}

#[test]
fn a_source_that_skips_rows_changes_width_or_is_empty_is_refused() {
    let chunks = |second: (usize, usize)| {
        let mut calls = 0;
        move |_max: usize| -> Chunk {
            calls += 1;
            Ok(match calls {
                1 => Some((0, Embeddings::new(vec![1.0; 4], 2).unwrap())),
                2 => Some((second.0, Embeddings::new(vec![1.0; 6], second.1).unwrap())),
                _ => None,
            })
        }
    };
    let err = sample_rows(&mut chunks((5, 2)), nz(1), 0, 2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a chunk starts at row 5, but 2 rows were read before it"
    );
    let err = sample_rows(&mut chunks((2, 3)), nz(1), 0, 2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "rows 2.. have dimension 3, the rows before them 2"
    );
    let mut empty = |_max: usize| -> Chunk { Ok(None) };
    assert!(matches!(
        sample_rows(&mut empty, nz(1), 0, 2),
        Err(SampleError::Empty)
    ));
}
