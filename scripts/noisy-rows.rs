// A large generated catalog for memory measurements (docs/training.md, "Training on a sample"):
// ROWS × 768 float32 rows, each a row of the shipped sample (cycled) plus gaussian noise of
// standard deviation SIGMA per value, renormalised to unit length. Standalone (std only), so that
// it builds in seconds without the workspace:
//
//   rustc --edition 2021 -O scripts/noisy-rows.rs -o /var/tmp/noisy-rows
//   /var/tmp/noisy-rows www/sample/games-3000.f16.npy /var/tmp/rows-1m.npy 1000000 0.01 1
//
// Arguments: SAMPLE.f16.npy OUT.npy ROWS SIGMA SEED [f16] (xorshift and Box-Muller: a seed always
// gives the same file). With `f16` the rows are written as float16 (rounded to nearest even),
// half the bytes: 10^7 rows are 15 GB instead of 31.
use std::io::{Read, Write};
fn f16_to_f32(h: u16) -> f32 {
    let s = ((h >> 15) as u32) << 31;
    let e = ((h >> 10) & 0x1f) as u32;
    let m = (h & 0x3ff) as u32;
    let bits = if e == 0 {
        if m == 0 {
            s
        } else {
            // subnormal
            let mut e2 = 127 - 15 + 1;
            let mut m2 = m;
            while m2 & 0x400 == 0 {
                m2 <<= 1;
                e2 -= 1;
            }
            s | ((e2 as u32) << 23) | ((m2 & 0x3ff) << 13)
        }
    } else if e == 31 {
        s | 0x7f80_0000 | (m << 13)
    } else {
        s | ((e + 127 - 15) << 23) | (m << 13)
    };
    f32::from_bits(bits)
}
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn gauss(&mut self) -> f64 {
        let (a, b) = (self.unit(), self.unit());
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    }
}
fn f32_to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let s = ((b >> 16) & 0x8000) as u16;
    let e = ((b >> 23) & 0xff) as i32;
    let m = b & 0x7f_ffff;
    if e == 255 {
        return s | 0x7c00 | if m != 0 { 0x200 } else { 0 };
    }
    let e16 = e - 127 + 15;
    if e16 >= 31 {
        return s | 0x7c00;
    }
    if e16 <= 0 {
        if e16 < -10 {
            return s;
        }
        let m = m | 0x80_0000;
        let shift = (14 - e16) as u32;
        let (r, rem, half) = (m >> shift, m & ((1 << shift) - 1), 1 << (shift - 1));
        let r = if rem > half || (rem == half && r & 1 == 1) { r + 1 } else { r };
        return s | r as u16;
    }
    let (r, rem) = (m >> 13, m & 0x1fff);
    let mut h = ((e16 as u32) << 10) | r;
    if rem > 0x1000 || (rem == 0x1000 && r & 1 == 1) {
        h += 1; // a carry out of the mantissa rounds up into the exponent, as it should
    }
    s | h as u16
}
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let rows: usize = a[3].parse().unwrap();
    let sigma: f64 = a[4].parse().unwrap();
    let mut rng = Rng(a[5].parse::<u64>().unwrap() | 1);
    let mut src = Vec::new();
    std::fs::File::open(&a[1])
        .unwrap()
        .read_to_end(&mut src)
        .unwrap();
    let hlen = u16::from_le_bytes([src[8], src[9]]) as usize;
    let header = std::str::from_utf8(&src[10..10 + hlen]).unwrap();
    assert!(
        header.contains("'<f2'") && header.contains("768)"),
        "{header}"
    );
    let body: Vec<f32> = src[10 + hlen..]
        .chunks_exact(2)
        .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
        .collect();
    let dim = 768;
    let n_src = body.len() / dim;
    let mut out = std::io::BufWriter::with_capacity(1 << 22, std::fs::File::create(&a[2]).unwrap());
    let half = a.get(6).is_some_and(|f| f == "f16");
    let descr = if half { "<f2" } else { "<f4" };
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {dim}), }}");
    let unpadded = 6 + 2 + 2 + h.len() + 1;
    h.extend(std::iter::repeat(' ').take((64 - unpadded % 64) % 64));
    h.push('\n');
    out.write_all(b"\x93NUMPY\x01\x00").unwrap();
    out.write_all(&(h.len() as u16).to_le_bytes()).unwrap();
    out.write_all(h.as_bytes()).unwrap();
    let mut row = vec![0f64; dim];
    let mut bytes = Vec::with_capacity(dim * 4);
    for r in 0..rows {
        let s = &body[(r % n_src) * dim..(r % n_src + 1) * dim];
        let mut norm = 0.0;
        for (o, &v) in row.iter_mut().zip(s) {
            *o = v as f64 + sigma * rng.gauss();
            norm += *o * *o;
        }
        let inv = 1.0 / norm.sqrt();
        bytes.clear();
        for &v in &row {
            let v = (v * inv) as f32;
            if half {
                bytes.extend_from_slice(&f32_to_f16(v).to_le_bytes());
            } else {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        out.write_all(&bytes).unwrap();
    }
    out.flush().unwrap();
}
