//! The residual quantizer: nearest-code search, the rotation trick (value and gradient), its
//! degenerate rows, and encode / decode of residual IDs, each checked against plain-Rust
//! reference computations.

use burn::backend::{Autodiff, NdArray};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rqvae::quantizer::{nearest_code, rotate_to, ResidualQuantizer};

type B = NdArray<f32>;
type AD = Autodiff<NdArray<f32>>;

fn uniform(rng: &mut StdRng, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale)
        .collect()
}

fn tensor<Bk: Backend>(values: &[f32], rows: usize, cols: usize) -> Tensor<Bk, 2> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), [rows, cols]),
        &Default::default(),
    )
}

fn floats<Bk: Backend, const D: usize>(t: Tensor<Bk, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec::<f32>().unwrap()
}

fn ints<Bk: Backend, const D: usize>(t: Tensor<Bk, D, Int>) -> Vec<usize> {
    t.into_data()
        .convert::<i64>()
        .to_vec::<i64>()
        .unwrap()
        .into_iter()
        .map(|v| usize::try_from(v).expect("non-negative index"))
        .collect()
}

/// Squared L2 distance in f64.
fn sq_dist(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum()
}

/// Brute-force nearest row of `codebook` (`k × dim`): (index, squared distance).
fn brute_nearest(x: &[f32], codebook: &[f32], dim: usize) -> (usize, f64) {
    codebook
        .chunks_exact(dim)
        .map(|c| sq_dist(x, c))
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap()
}

fn assert_close(actual: &[f32], expected: &[f32], tol: f32, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tol,
            "{what}: element {i} is {a}, expected {e} (tolerance {tol})"
        );
    }
}

#[test]
fn nearest_code_matches_brute_force() {
    let mut rng = StdRng::seed_from_u64(7);
    let (k, dim, n) = (64, 8, 200);
    let codebook = uniform(&mut rng, k * dim, 1.0);
    let x = uniform(&mut rng, n * dim, 1.0);
    let idx = ints(nearest_code(
        tensor::<B>(&x, n, dim),
        tensor::<B>(&codebook, k, dim),
    ));
    assert_eq!(idx.len(), n);

    let mut exact = 0;
    for (row, &chosen) in x.chunks_exact(dim).zip(&idx) {
        assert!(chosen < k, "index {chosen} out of range");
        let (best, best_d) = brute_nearest(row, &codebook, dim);
        let chosen_d = sq_dist(row, &codebook[chosen * dim..(chosen + 1) * dim]);
        assert!(
            chosen_d - best_d <= 1e-5,
            "code {chosen} is at {chosen_d}, but code {best} is at {best_d}"
        );
        exact += (chosen == best) as usize;
    }
    assert!(
        exact * 100 >= n * 99,
        "only {exact} of {n} rows picked exactly the brute-force code"
    );
}

#[test]
fn rotate_to_forward_value_is_q() {
    let mut rng = StdRng::seed_from_u64(11);
    let (n, dim) = (50, 6);
    let e = uniform(&mut rng, n * dim, 1.0);
    let q = uniform(&mut rng, n * dim, 2.0);
    let out = floats(rotate_to(tensor::<B>(&e, n, dim), tensor::<B>(&q, n, dim)));
    assert_close(&out, &q, 1e-5, "rotate_to(e, q)");
}

/// λ · Rᵀ g for one row, R = I − 2 r rᵀ + 2 q̂ êᵀ, in f64.
fn rotation_grad(e: &[f32], q: &[f32], g: &[f32]) -> Vec<f64> {
    let e: Vec<f64> = e.iter().map(|&v| v as f64).collect();
    let q: Vec<f64> = q.iter().map(|&v| v as f64).collect();
    let g: Vec<f64> = g.iter().map(|&v| v as f64).collect();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let (ne, nq) = (norm(&e), norm(&q));
    let e_hat: Vec<f64> = e.iter().map(|v| v / ne).collect();
    let q_hat: Vec<f64> = q.iter().map(|v| v / nq).collect();
    let s: Vec<f64> = e_hat.iter().zip(&q_hat).map(|(a, b)| a + b).collect();
    let ns = norm(&s);
    let r: Vec<f64> = s.iter().map(|v| v / ns).collect();
    let lambda = nq / ne;
    let d = e.len();
    // R[i][j] = δij − 2 r_i r_j + 2 q̂_i ê_j; (Rᵀ g)_j = Σ_i R[i][j] g_i.
    let rt_g: Vec<f64> = (0..d)
        .map(|j| {
            (0..d)
                .map(|i| {
                    let delta = if i == j { 1.0 } else { 0.0 };
                    (delta - 2.0 * r[i] * r[j] + 2.0 * q_hat[i] * e_hat[j]) * g[i]
                })
                .sum::<f64>()
        })
        .collect();
    // Sanity of the reference itself: λ R e = q.
    for i in 0..d {
        let re_i: f64 = (0..d)
            .map(|j| {
                let delta = if i == j { 1.0 } else { 0.0 };
                (delta - 2.0 * r[i] * r[j] + 2.0 * q_hat[i] * e_hat[j]) * e[j]
            })
            .sum();
        assert!((lambda * re_i - q[i]).abs() < 1e-9, "reference R is wrong");
    }
    rt_g.into_iter().map(|v| lambda * v).collect()
}

#[test]
fn rotate_to_gradient_is_lambda_r_transpose_g() {
    let (n, dim) = (3, 4);
    let e = [
        0.5f32, -1.0, 0.25, 2.0, //
        -0.3, 0.8, 1.5, -0.2, //
        1.2, 0.1, -0.7, 0.4,
    ];
    let q = [
        1.0f32, 0.5, -0.5, 0.3, //
        0.2, -0.9, 0.6, 1.1, //
        -0.4, 0.3, 0.9, -1.3,
    ];
    let mut rng = StdRng::seed_from_u64(3);
    let g = uniform(&mut rng, n * dim, 1.0);

    let e_t = tensor::<AD>(&e, n, dim).require_grad();
    let q_t = tensor::<AD>(&q, n, dim).detach();
    let g_t = tensor::<AD>(&g, n, dim);
    let out = rotate_to(e_t.clone(), q_t);
    let loss = (out * g_t).sum();
    let grads = loss.backward();
    let grad = floats(e_t.grad(&grads).expect("e has a gradient"));

    let mut expected = Vec::with_capacity(n * dim);
    for row in 0..n {
        let s = row * dim..(row + 1) * dim;
        expected.extend(rotation_grad(&e[s.clone()], &q[s.clone()], &g[s]));
    }
    // The rotation gradient must differ from straight-through (g itself), or this test could not
    // tell the two apart.
    assert_eq!(expected.len(), g.len());
    let st_gap = expected
        .iter()
        .zip(&g)
        .map(|(a, &b)| (a - b as f64).abs())
        .fold(0.0, |m, d| if d.is_nan() { f64::NAN } else { m.max(d) });
    assert!(
        st_gap > 0.1,
        "test case does not separate rotation from STE"
    );
    assert_eq!(grad.len(), expected.len(), "gradient length");
    for (i, (&a, &x)) in grad.iter().zip(&expected).enumerate() {
        assert!(
            (a as f64 - x).abs() <= 1e-4,
            "grad[{}][{}] = {a}, expected λRᵀg = {x}",
            i / dim,
            i % dim
        );
    }
}

#[test]
fn rotate_to_degenerate_rows_fall_back_to_q() {
    let dim = 4;
    let q = [
        0.5f32, -1.0, 2.0, 0.25, //
        -0.7, 0.3, 0.9, 1.4, //
        1.0, 1.0, -1.0, 0.5,
    ];
    // Row 0: e = 0; row 1: e = −q; row 2: an ordinary row.
    let e = [
        0.0f32, 0.0, 0.0, 0.0, //
        0.7, -0.3, -0.9, -1.4, //
        0.2, 0.4, 0.6, -0.8,
    ];
    let n = 3;

    let out = floats(rotate_to(tensor::<B>(&e, n, dim), tensor::<B>(&q, n, dim)));
    assert!(
        out.iter().all(|v| v.is_finite()),
        "non-finite output {out:?}"
    );
    assert_close(&out, &q, 1e-5, "degenerate rotate_to");

    // Gradients stay finite; degenerate rows get the straight-through gradient g.
    let g = [
        0.3f32, -0.2, 0.5, 0.1, //
        -0.6, 0.4, 0.2, 0.9, //
        0.1, 0.1, 0.1, 0.1,
    ];
    let e_t = tensor::<AD>(&e, n, dim).require_grad();
    let out = rotate_to(e_t.clone(), tensor::<AD>(&q, n, dim));
    let grads = (out * tensor::<AD>(&g, n, dim)).sum().backward();
    let grad = floats(e_t.grad(&grads).expect("e has a gradient"));
    assert!(
        grad.iter().all(|v| v.is_finite()),
        "non-finite gradient {grad:?}"
    );
    assert_close(
        &grad[..2 * dim],
        &g[..2 * dim],
        1e-6,
        "degenerate-row gradient",
    );
}

#[test]
fn encode_then_decode_reconstructs_sum_of_nearest_residual_codes() {
    let mut rng = StdRng::seed_from_u64(21);
    let (levels, k, dim, n) = (3, 16, 6, 80);
    // Shrinking codebooks, as trained residual codebooks are.
    let books: Vec<Vec<f32>> = (0..levels)
        .map(|l| uniform(&mut rng, k * dim, 0.5f32.powi(l as i32)))
        .collect();
    let latent = uniform(&mut rng, n * dim, 1.0);
    let quantizer = ResidualQuantizer::<B>::from_codebooks(
        books.iter().map(|b| tensor::<B>(b, k, dim)).collect(),
    );
    assert_eq!(quantizer.levels(), levels);

    let ids_t = quantizer.encode(tensor::<B>(&latent, n, dim));
    assert_eq!(ids_t.dims(), [n, levels]);
    let ids = ints(ids_t.clone());
    let decoded = floats(quantizer.decode_ids(ids_t));
    assert_eq!(decoded.len(), n * dim);

    let mut exact = 0;
    for row in 0..n {
        let x = &latent[row * dim..(row + 1) * dim];
        let mut sum = vec![0f32; dim];
        for (level, book) in books.iter().enumerate() {
            let id = ids[row * levels + level];
            assert!(id < k);
            // This level's residual: the latent minus the codes chosen at earlier levels.
            let residual: Vec<f32> = x.iter().zip(&sum).map(|(a, s)| a - s).collect();
            let (best, best_d) = brute_nearest(&residual, book, dim);
            let chosen_d = sq_dist(&residual, &book[id * dim..(id + 1) * dim]);
            assert!(
                chosen_d - best_d <= 1e-5,
                "row {row} level {level}: code {id} at {chosen_d}, code {best} at {best_d}"
            );
            exact += (id == best) as usize;
            for (s, c) in sum.iter_mut().zip(&book[id * dim..(id + 1) * dim]) {
                *s += c;
            }
        }
        assert_close(
            &decoded[row * dim..(row + 1) * dim],
            &sum,
            1e-5,
            &format!("decode_ids row {row}"),
        );
    }
    assert!(exact * 100 >= n * levels * 99, "only {exact} exact picks");
}
