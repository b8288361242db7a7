//! Matrix products on host slices, natively: the CPU training engine's and the text encoder's.
//!
//! The `gemm` crate packs its operands and runs register-blocked FMA kernels (AVX-512 where the
//! CPU has it, chosen at run time) on rayon's threads or, for callers that split the work
//! themselves, on the calling thread. On the training step's shapes it runs near the cores' peak
//! ([performance](../../docs/performance.md)), where burn-ndarray's autodiff step did not.

/// A read-only matrix view: `rows × cols` with arbitrary strides, so a transpose is a view.
#[derive(Clone, Copy)]
pub struct View<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> View<'a> {
    /// A row-major `rows × cols` matrix.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert!(data.len() >= rows * cols, "matrix view past its data");
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// `out = a · b` (`out` row-major `a.rows × b.cols`), or `out += a · b` with `accumulate`, on
/// all of rayon's threads.
pub fn matmul(out: &mut [f32], a: View, b: View, accumulate: bool) {
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    product(out, a, b, accumulate, parallelism);
}

/// [`matmul`] on the calling thread: for callers that already spread their work over threads.
pub fn matmul_serial(out: &mut [f32], a: View, b: View, accumulate: bool) {
    product(out, a, b, accumulate, gemm::Parallelism::None);
}

fn product(out: &mut [f32], a: View, b: View, accumulate: bool, parallelism: gemm::Parallelism) {
    assert_eq!(a.cols, b.rows, "inner dimensions differ");
    let (m, n, k) = (a.rows, b.cols, a.cols);
    assert!(out.len() >= m * n, "output smaller than the product");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            out[..m * n].fill(0.0);
        }
        return;
    }
    // SAFETY: the asserts above and in `View::new` keep every index the strides reach inside
    // the three slices, and `out` is borrowed mutably, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// For each of the `n` rows of `points` (`[n, dim]`), the index of the nearest row of
/// `codebook` (`[k, dim]`) in squared L2, ties to the lower index, and that squared distance.
/// Scored as `‖c‖² − 2 x·c` in one product, like the burn path's `nearest_code`.
pub fn nearest_rows(points: &[f32], codebook: &[f32], dim: usize) -> (Vec<u32>, Vec<f32>) {
    let (n, k) = (points.len() / dim, codebook.len() / dim);
    let norms: Vec<f32> = codebook
        .chunks_exact(dim)
        .map(|c| c.iter().map(|v| v * v).sum())
        .collect();
    let mut ids = Vec::with_capacity(n);
    let mut errors = Vec::with_capacity(n);
    let mut scores = Vec::new();
    // Blocks bound the score matrix for large samples.
    for block in points.chunks(4096 * dim) {
        let rows = block.len() / dim;
        scores.resize(rows * k, 0.0);
        matmul(
            &mut scores,
            View::new(block, rows, dim),
            View::new(codebook, k, dim).t(),
            false,
        );
        for (point, s) in block.chunks_exact(dim).zip(scores.chunks_exact(k)) {
            let (mut best, mut best_score) = (0usize, f32::INFINITY);
            for (c, (&dot, &norm)) in s.iter().zip(&norms).enumerate() {
                let score = norm - 2.0 * dot;
                if score < best_score {
                    best_score = score;
                    best = c;
                }
            }
            let code = &codebook[best * dim..(best + 1) * dim];
            errors.push(point.iter().zip(code).map(|(a, b)| (a - b) * (a - b)).sum());
            ids.push(best as u32);
        }
    }
    (ids, errors)
}
