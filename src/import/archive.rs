//! The zip archive `torch.save` writes: `<name>/data.pkl` (the pickle), `<name>/data/<key>`
//! (one record per storage, stored uncompressed), `<name>/byteorder`. Records are read whole
//! and checked by the zip reader's CRC, so a damaged file is refused rather than half read;
//! tensors are gathered through their strides, so views and transposes come out as PyTorch
//! sees them.

use super::error::ImportError;
use super::pickle::{self, Dtype, TensorRef, Value};
use half::{bf16, f16};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{Cursor, Read};

/// A parsed checkpoint: its pickle as plain values, and its storage records.
pub struct Checkpoint {
    pub root: Value,
    records: HashMap<String, Vec<u8>>,
    /// `sha256:<hex>` of the file's bytes, recorded with the imported model.
    pub sha256: String,
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

impl Checkpoint {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ImportError> {
        if !bytes.starts_with(ZIP_MAGIC) {
            let what = if bytes.starts_with(b"\x80") {
                "a bare pickle, as PyTorch before 1.6 or pickle.dump write"
            } else if bytes.len() > 8 && bytes[8] == b'{' {
                "it looks like a .safetensors file: give it to --model directly"
            } else {
                "it does not start with a zip header"
            };
            return Err(ImportError::NotZip(what.into()));
        }
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| ImportError::Damaged(e.to_string()))?;
        let names: Vec<String> = zip.file_names().map(str::to_string).collect();
        let pkl = names
            .iter()
            .filter(|n| n.ends_with("data.pkl") && n.matches('/').count() <= 1)
            .min_by_key(|n| n.len())
            .ok_or(ImportError::NoPickle)?
            .clone();
        let prefix = pkl.trim_end_matches("data.pkl").to_string();
        let read = |zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str| {
            let mut entry = zip
                .by_name(name)
                .map_err(|e| ImportError::Damaged(format!("{name}: {e}")))?;
            let mut out = Vec::with_capacity(entry.size() as usize);
            entry
                .read_to_end(&mut out)
                .map_err(|e| ImportError::Damaged(format!("{name}: {e}")))?;
            Ok::<_, ImportError>(out)
        };
        if names.iter().any(|n| *n == format!("{prefix}byteorder")) {
            let order = read(&mut zip, &format!("{prefix}byteorder"))?;
            if order.trim_ascii() == b"big" {
                return Err(ImportError::BigEndian);
            }
        }
        let root = pickle::parse(&read(&mut zip, &pkl)?)?;
        let data_dir = format!("{prefix}data/");
        let mut records = HashMap::new();
        for name in &names {
            if let Some(key) = name.strip_prefix(&data_dir) {
                if !key.is_empty() && !key.contains('/') {
                    records.insert(key.to_string(), read(&mut zip, name)?);
                }
            }
        }
        Ok(Self {
            root,
            records,
            sha256: format!("sha256:{:x}", Sha256::digest(bytes)),
        })
    }

    /// The tensor's values as float32, in row-major order of its shape.
    pub fn read_f32(&self, name: &str, t: &TensorRef) -> Result<Vec<f32>, ImportError> {
        let dtype = t.storage.dtype;
        if !dtype.is_float() {
            return Err(ImportError::NotFloat {
                name: name.to_string(),
                dtype: dtype.name(),
            });
        }
        let record =
            self.records
                .get(&t.storage.key)
                .ok_or_else(|| ImportError::MissingStorage {
                    name: name.to_string(),
                    record: t.storage.key.clone(),
                })?;
        let numel: usize = t.shape.iter().product();
        let size = dtype.size();
        if numel > 0 {
            let last = t.offset
                + t.shape
                    .iter()
                    .zip(&t.stride)
                    .map(|(&n, &s)| (n - 1) * s)
                    .sum::<usize>();
            let needed = (last + 1) * size;
            if needed > record.len() {
                return Err(ImportError::StorageTooSmall {
                    name: name.to_string(),
                    record: t.storage.key.clone(),
                    needed,
                    found: record.len(),
                });
            }
        }
        let element = |i: usize| -> f32 {
            let b = &record[i * size..(i + 1) * size];
            match dtype {
                Dtype::F32 => f32::from_le_bytes(b.try_into().unwrap()),
                Dtype::F16 => f16::from_le_bytes(b.try_into().unwrap()).to_f32(),
                Dtype::BF16 => bf16::from_le_bytes(b.try_into().unwrap()).to_f32(),
                Dtype::F64 => f64::from_le_bytes(b.try_into().unwrap()) as f32,
                _ => unreachable!("checked to be a float type above"),
            }
        };
        let mut out = Vec::with_capacity(numel);
        let mut index = vec![0usize; t.shape.len()];
        for _ in 0..numel {
            let at = t.offset
                + index
                    .iter()
                    .zip(&t.stride)
                    .map(|(&i, &s)| i * s)
                    .sum::<usize>();
            out.push(element(at));
            for d in (0..index.len()).rev() {
                index[d] += 1;
                if index[d] < t.shape[d] {
                    break;
                }
                index[d] = 0;
            }
        }
        if out.iter().any(|v| !v.is_finite()) {
            return Err(ImportError::NonFinite(name.to_string()));
        }
        Ok(out)
    }
}
