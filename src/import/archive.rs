//! The zip archive `torch.save` writes: `<name>/data.pkl` (the pickle), `<name>/data/<key>`
//! (one record per storage, stored uncompressed), `<name>/byteorder`. Only the records the
//! model's tensors use are read (a checkpoint may also hold optimiser state), each whole and
//! checked by the zip reader's CRC, so a damaged record is refused rather than half read;
//! tensors are gathered through their strides, so views and transposes come out as PyTorch
//! sees them.

use super::error::ImportError;
use super::pickle::{self, Dtype, TensorRef, Value};
use half::{bf16, f16};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::rc::Rc;

type Archive<'a> = zip::ZipArchive<Cursor<&'a [u8]>>;

/// A parsed checkpoint: its pickle as plain values, and its archive, whose storage records are
/// read when a tensor needs them (and kept: views share records).
pub struct Checkpoint<'a> {
    pub root: Value,
    zip: RefCell<Archive<'a>>,
    data_dir: String,
    records: RefCell<HashMap<String, Rc<Vec<u8>>>>,
    /// `sha256:<hex>` of the file's bytes, recorded with the imported model.
    pub sha256: String,
}

/// One archive entry, whole; a read error (a CRC mismatch, a short entry) is damage.
fn read_entry(zip: &mut Archive<'_>, name: &str) -> Result<Vec<u8>, ImportError> {
    let mut entry = zip
        .by_name(name)
        .map_err(|e| ImportError::Damaged(format!("{name}: {e}")))?;
    let mut out = Vec::with_capacity(entry.size() as usize);
    entry
        .read_to_end(&mut out)
        .map_err(|e| ImportError::Damaged(format!("{name}: {e}")))?;
    Ok(out)
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

impl<'a> Checkpoint<'a> {
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, ImportError> {
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
        let byteorder = format!("{prefix}byteorder");
        if zip.index_for_name(&byteorder).is_some() {
            let order = read_entry(&mut zip, &byteorder)?;
            if order.trim_ascii() == b"big" {
                return Err(ImportError::BigEndian);
            }
        }
        let root = pickle::parse(&read_entry(&mut zip, &pkl)?)?;
        Ok(Self {
            root,
            zip: RefCell::new(zip),
            data_dir: format!("{prefix}data/"),
            records: RefCell::new(HashMap::new()),
            sha256: format!("sha256:{:x}", Sha256::digest(bytes)),
        })
    }

    /// Storage record `key`, read on first use.
    fn record(&self, name: &str, key: &str) -> Result<Rc<Vec<u8>>, ImportError> {
        if let Some(bytes) = self.records.borrow().get(key) {
            return Ok(bytes.clone());
        }
        let entry = format!("{}{key}", self.data_dir);
        let mut zip = self.zip.borrow_mut();
        if zip.index_for_name(&entry).is_none() {
            return Err(ImportError::MissingStorage {
                name: name.to_string(),
                record: key.to_string(),
            });
        }
        let bytes = Rc::new(read_entry(&mut zip, &entry)?);
        self.records
            .borrow_mut()
            .insert(key.to_string(), bytes.clone());
        Ok(bytes)
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
        let record = self.record(name, &t.storage.key)?;
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
