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
        expected: u64,
        found: u64,
    },
    #[error("{found} trailing bytes after the data of shape {shape:?}")]
    Trailing { shape: Vec<usize>, found: u64 },
    #[error("shape {0:?} needs more than 2^64 bytes")]
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

/// Where a 2-D embeddings array sits in a `.npy` file: enough to read its rows in chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NpyLayout {
    pub kind: NpyFloat,
    pub rows: usize,
    pub dim: usize,
    /// Offset of the first value (the header's length).
    pub data_start: usize,
    /// Bytes of data after the header: `rows × dim × width`. A u64, so that a 32-bit target
    /// (wasm32) can stream a file of more than 4 GiB that it could never hold.
    pub data_bytes: u64,
}

impl NpyLayout {
    /// Bytes per value.
    pub fn width(&self) -> usize {
        match self.kind {
            NpyFloat::F32 => 4,
            NpyFloat::F16 => 2,
        }
    }

    /// Fails unless `found` bytes follow the header: a file's size is checked before any row is
    /// read, so a truncated file is refused up front instead of after minutes of encoding.
    pub fn check_data_bytes(&self, found: u64) -> Result<(), NpyError> {
        let shape = vec![self.rows, self.dim];
        let expected = self.data_bytes;
        if found < expected {
            return Err(NpyError::Truncated {
                shape,
                expected,
                found,
            });
        }
        if found > expected {
            return Err(NpyError::Trailing {
                shape,
                found: found - expected,
            });
        }
        Ok(())
    }

    /// Widens one chunk of whole rows (`bytes.len()` a multiple of the row size) into checked
    /// embeddings; `first_row` makes a non-finite value's row number the file's, not the chunk's.
    pub fn rows_from_bytes(&self, bytes: &[u8], first_row: usize) -> Result<Embeddings, NpyError> {
        let data: Vec<f32> = match self.kind {
            NpyFloat::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            NpyFloat::F16 => bytes
                .chunks_exact(2)
                .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        };
        Embeddings::new(data, self.dim).map_err(|e| match e {
            EmbeddingsError::NonFinite { row, col, value } => EmbeddingsError::NonFinite {
                row: row + first_row,
                col,
                value,
            }
            .into(),
            other => other.into(),
        })
    }
}

/// What the first bytes of a `.npy` stream say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderProbe {
    /// The header is longer than the bytes given: read at least this many, then probe again.
    NeedBytes(usize),
    Ready(NpyLayout),
}

/// Reads a `.npy` header from the start of a stream. `at_end` says that `prefix` is the whole
/// stream: a short prefix is then an error (the file is truncated) rather than a request for more.
pub fn probe_header(prefix: &[u8], at_end: bool) -> Result<HeaderProbe, NpyError> {
    if !at_end {
        let magic_ok = prefix.iter().zip(MAGIC).all(|(a, b)| a == b);
        if magic_ok && prefix.len() < 12 {
            return Ok(HeaderProbe::NeedBytes(12));
        }
        if magic_ok {
            let end = match prefix[6] {
                1 => 10 + u16::from_le_bytes([prefix[8], prefix[9]]) as usize,
                _ => 12usize.saturating_add(u32::from_le_bytes([
                    prefix[8], prefix[9], prefix[10], prefix[11],
                ]) as usize),
            };
            if matches!(prefix[6], 1..=3) && prefix.len() < end {
                return Ok(HeaderProbe::NeedBytes(end));
            }
        }
    }
    layout(parse_header(prefix)?).map(HeaderProbe::Ready)
}

fn layout(header: Header) -> Result<NpyLayout, NpyError> {
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
    let data_bytes = (rows as u64)
        .checked_mul(dim as u64)
        .and_then(|n| n.checked_mul(width))
        .filter(|n| n.checked_add(header.data_start as u64).is_some())
        .ok_or_else(|| NpyError::TooLarge(header.shape.clone()))?;
    Ok(NpyLayout {
        kind,
        rows,
        dim,
        data_start: header.data_start,
        data_bytes,
    })
}

/// Parses `.npy` bytes into embeddings (f16 is widened to f32) and reports the stored precision.
pub fn read_embeddings_bytes(bytes: &[u8]) -> Result<(Embeddings, NpyFloat), NpyError> {
    let layout = layout(parse_header(bytes)?)?;
    let body = &bytes[layout.data_start..];
    layout.check_data_bytes(body.len() as u64)?;
    if layout.rows == 0 {
        return Err(EmbeddingsError::Empty.into());
    }
    if layout.dim == 0 {
        return Err(EmbeddingsError::ZeroDim.into());
    }
    Ok((layout.rows_from_bytes(body, 0)?, layout.kind))
}

/// An embeddings file read in chunks of rows: memory stays bounded by the chunk, not the file.
pub struct NpyRowReader<R> {
    reader: R,
    layout: NpyLayout,
    next_row: usize,
    path: String,
}

impl NpyRowReader<std::io::BufReader<std::fs::File>> {
    /// Opens `path`, reads its header and checks the file's size against it; every error names
    /// the file.
    pub fn open(path: &Path) -> Result<Self, NpyFileError> {
        use std::io::Read;
        let fail = |e: NpyError| e.in_file(path);
        let file = std::fs::File::open(path).map_err(|e| fail(NpyError::Io(e)))?;
        let size = file.metadata().map_err(|e| fail(NpyError::Io(e)))?.len();
        let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
        let mut prefix = Vec::new();
        let layout = loop {
            let at_end = prefix.len() as u64 >= size;
            match probe_header(&prefix, at_end).map_err(fail)? {
                HeaderProbe::Ready(layout) => break layout,
                HeaderProbe::NeedBytes(n) => {
                    let want = (n as u64).min(size) as usize - prefix.len();
                    let start = prefix.len();
                    prefix.resize(start + want, 0);
                    reader
                        .read_exact(&mut prefix[start..])
                        .map_err(|e| fail(NpyError::Io(e)))?;
                }
            }
        };
        // The probe may have read past the header only if the file ends inside it.
        layout
            .check_data_bytes(size.saturating_sub(layout.data_start as u64))
            .map_err(fail)?;
        if layout.rows == 0 {
            return Err(fail(EmbeddingsError::Empty.into()));
        }
        if layout.dim == 0 {
            return Err(fail(EmbeddingsError::ZeroDim.into()));
        }
        let skip = layout.data_start - prefix.len();
        std::io::copy(&mut (&mut reader).take(skip as u64), &mut std::io::sink())
            .map_err(|e| fail(NpyError::Io(e)))?;
        Ok(Self {
            reader,
            layout,
            next_row: 0,
            path: path.display().to_string(),
        })
    }
}

impl<R: std::io::Read> NpyRowReader<R> {
    pub fn layout(&self) -> NpyLayout {
        self.layout
    }

    /// The next at most `max_rows` rows and the index of the first, or `None` after the last.
    pub fn next_chunk(
        &mut self,
        max_rows: usize,
    ) -> Result<Option<(usize, Embeddings)>, NpyFileError> {
        let first = self.next_row;
        let count = max_rows.max(1).min(self.layout.rows - first);
        if count == 0 {
            return Ok(None);
        }
        let fail = |e: NpyError| NpyFileError {
            path: self.path.clone(),
            error: e,
        };
        let mut bytes = vec![0u8; count * self.layout.dim * self.layout.width()];
        self.reader
            .read_exact(&mut bytes)
            .map_err(|e| fail(NpyError::Io(e)))?;
        let rows = self.layout.rows_from_bytes(&bytes, first).map_err(fail)?;
        self.next_row += count;
        Ok(Some((first, rows)))
    }
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

/// The `.npy` version 1.0 header of a 2-D C-order array of `T`: the data follows it directly,
/// so a writer can emit the header first and the rows as they are made.
pub fn npy_header<T: NpyElement>(rows: usize, cols: usize) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': ({rows}, {cols}), }}",
        T::DESCR
    );
    // The header, with its newline, pads the data start to a multiple of 64 bytes.
    let unpadded = MAGIC.len() + 2 + 2 + header.len() + 1;
    header.extend(std::iter::repeat_n(' ', (64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + header.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out
}

/// Appends `values` in the `.npy` byte layout (little-endian), e.g. after [`npy_header`].
pub fn push_npy_values<T: NpyElement>(values: &[T], out: &mut Vec<u8>) {
    for &v in values {
        v.write_le(out);
    }
}

/// Serialises a 2-D C-order array as `.npy` version 1.0 bytes.
pub fn to_npy_bytes<T: NpyElement>(values: &[T], rows: usize, cols: usize) -> Vec<u8> {
    assert_eq!(
        values.len(),
        rows * cols,
        "npy writer: shape does not match data"
    );
    let mut out = npy_header::<T>(rows, cols);
    out.reserve(values.len() * 4);
    push_npy_values(values, &mut out);
    out
}
