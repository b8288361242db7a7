//! Reading and writing NumPy `.npy` files (format versions 1–3): 2-D, C order, little-endian
//! f32 or f16 for embeddings; f32 and integer arrays are also written for results.

use crate::embeddings::{Embeddings, EmbeddingsError};
use half::f16;
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";

/// Why bytes are not a usable `.npy` embeddings array.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    #[error("cannot read: {0}")]
    Io(std::io::Error),
    #[error("file is empty (0 bytes)")]
    EmptyFile,
    #[error("not a .npy file: it does not start with the \\x93NUMPY magic")]
    BadMagic,
    #[error("truncated .npy header: {0}")]
    TruncatedHeader(String),
    #[error("unsupported .npy format version {0}.{1}")]
    Version(u8, u8),
    #[error("malformed .npy header {header:?}: {reason}")]
    Header { header: String, reason: String },
    #[error("dtype {0} is not supported: embeddings must be little-endian float32 ('<f4') or float16 ('<f2')")]
    Dtype(String),
    #[error("array is in Fortran order; save it in C order (np.ascontiguousarray)")]
    FortranOrder,
    #[error("array has shape {0:?}: embeddings must be a 2-D array [items, dim]")]
    NotTwoD(Vec<usize>),
    #[error(
        "truncated data: shape {shape:?} needs {expected} bytes after the header, found {found}"
    )]
    Truncated {
        shape: Vec<usize>,
        expected: usize,
        found: usize,
    },
    #[error("{found} trailing bytes after the data of shape {shape:?}")]
    Trailing { shape: Vec<usize>, found: usize },
    #[error(
        "shape {0:?} needs more bytes than this platform can address ({bits}-bit)",
        bits = usize::BITS
    )]
    TooLarge(Vec<usize>),
    #[error(transparent)]
    Embeddings(#[from] EmbeddingsError),
}

impl NpyError {
    /// Prefixes the file name, so a message says which of several inputs was wrong.
    pub fn in_file(self, path: &Path) -> NpyFileError {
        NpyFileError {
            path: path.display().to_string(),
            error: self,
        }
    }
}

/// An [`NpyError`] with the file it came from. The message already holds the error's, so it is
/// not also exposed as the source: error reporters that print the chain said it twice.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {error}")]
pub struct NpyFileError {
    pub path: String,
    pub error: NpyError,
}

/// Element types the reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpyFloat {
    F32,
    F16,
}

struct Header {
    descr: String,
    fortran: bool,
    shape: Vec<usize>,
    data_start: usize,
}

fn parse_header(bytes: &[u8]) -> Result<Header, NpyError> {
    if bytes.is_empty() {
        return Err(NpyError::EmptyFile);
    }
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(NpyError::BadMagic);
    }
    if bytes.len() < 10 {
        return Err(NpyError::TruncatedHeader(format!(
            "{} bytes, a header needs at least 10",
            bytes.len()
        )));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (len, start): (usize, usize) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(NpyError::TruncatedHeader(format!(
                    "{} bytes, a v{major} header needs at least 12",
                    bytes.len()
                )));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        _ => return Err(NpyError::Version(major, minor)),
    };
    let end = start
        .checked_add(len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| {
            NpyError::TruncatedHeader(format!(
                "header says {len} bytes but only {} follow",
                bytes.len() - start
            ))
        })?;
    let text = std::str::from_utf8(&bytes[start..end]).map_err(|_| NpyError::Header {
        header: String::from_utf8_lossy(&bytes[start..end]).into_owned(),
        reason: "not UTF-8".into(),
    })?;
    let bad = |reason: &str| NpyError::Header {
        header: text.trim().to_string(),
        reason: reason.to_string(),
    };
    let descr = dict_value(text, "descr")
        .ok_or_else(|| bad("no 'descr' key"))?
        .trim()
        .trim_matches(|c| c == '\'' || c == '"')
        .to_string();
    let fortran = match dict_value(text, "fortran_order").map(str::trim) {
        Some("False") => false,
        Some("True") => true,
        _ => return Err(bad("no boolean 'fortran_order' key")),
    };
    let shape_text = dict_value(text, "shape").ok_or_else(|| bad("no 'shape' key"))?;
    let shape_text = shape_text
        .trim()
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| bad("'shape' is not a tuple"))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad("'shape' holds a non-integer"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Header {
        descr,
        fortran,
        shape,
        data_start: end,
    })
}

/// The text of `key`'s value in the header's Python dict literal, up to the next top-level comma.
fn dict_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text
        .find(&format!("'{key}'"))
        .or_else(|| text.find(&format!("\"{key}\"")))?;
    let rest = &text[at + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?;
    let mut depth = 0i32;
    for (i, c) in rest.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(&rest[..i]),
            _ => {}
        }
    }
    Some(rest)
}

fn float_kind(descr: &str) -> Result<NpyFloat, NpyError> {
    match descr {
        "<f4" | "f4" | "float32" => Ok(NpyFloat::F32),
        "<f2" | "f2" | "float16" => Ok(NpyFloat::F16),
        // Single-byte types have no byte order ('|'), so "|f4" cannot occur; anything else is wrong.
        other => Err(NpyError::Dtype(other.to_string())),
    }
}

/// Parses `.npy` bytes into embeddings (f16 is widened to f32) and reports the stored precision.
pub fn read_embeddings_bytes(bytes: &[u8]) -> Result<(Embeddings, NpyFloat), NpyError> {
    let header = parse_header(bytes)?;
    let kind = float_kind(&header.descr)?;
    if header.fortran {
        return Err(NpyError::FortranOrder);
    }
    if header.shape.len() != 2 {
        return Err(NpyError::NotTwoD(header.shape));
    }
    let (rows, dim) = (header.shape[0], header.shape[1]);
    let width = match kind {
        NpyFloat::F32 => 4,
        NpyFloat::F16 => 2,
    };
    let body = &bytes[header.data_start..];
    let expected = rows
        .checked_mul(dim)
        .and_then(|n| n.checked_mul(width))
        .ok_or_else(|| NpyError::TooLarge(header.shape.clone()))?;
    if body.len() < expected {
        return Err(NpyError::Truncated {
            shape: header.shape,
            expected,
            found: body.len(),
        });
    }
    if body.len() > expected {
        return Err(NpyError::Trailing {
            shape: header.shape,
            found: body.len() - expected,
        });
    }
    if rows == 0 {
        return Err(EmbeddingsError::Empty.into());
    }
    let data: Vec<f32> = match kind {
        NpyFloat::F32 => body
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        NpyFloat::F16 => body
            .chunks_exact(2)
            .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
    };
    Ok((Embeddings::new(data, dim)?, kind))
}

/// Reads an embeddings file; every error names the file.
pub fn read_embeddings(path: &Path) -> Result<Embeddings, NpyFileError> {
    let bytes = std::fs::read(path).map_err(|e| NpyError::Io(e).in_file(path))?;
    read_embeddings_bytes(&bytes)
        .map(|(e, _)| e)
        .map_err(|e| e.in_file(path))
}

/// Element types the writer produces.
pub trait NpyElement: Copy {
    const DESCR: &'static str;
    fn write_le(self, out: &mut Vec<u8>);
}

impl NpyElement for f32 {
    const DESCR: &'static str = "<f4";
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl NpyElement for f16 {
    const DESCR: &'static str = "<f2";
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl NpyElement for i32 {
    const DESCR: &'static str = "<i4";
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl NpyElement for u16 {
    const DESCR: &'static str = "<u2";
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

/// Serialises a 2-D C-order array as `.npy` version 1.0 bytes.
pub fn to_npy_bytes<T: NpyElement>(values: &[T], rows: usize, cols: usize) -> Vec<u8> {
    assert_eq!(
        values.len(),
        rows * cols,
        "npy writer: shape does not match data"
    );
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': ({rows}, {cols}), }}",
        T::DESCR
    );
    // The header, with its newline, pads the data start to a multiple of 64 bytes.
    let unpadded = MAGIC.len() + 2 + 2 + header.len() + 1;
    header.extend(std::iter::repeat_n(' ', (64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + header.len() + values.len() * 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for &v in values {
        v.write_le(&mut out);
    }
    out
}
