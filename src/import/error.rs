//! Why a PyTorch checkpoint cannot become an rqvae model: each error names the file's part
//! (archive entry, pickle, tensor) and, for shapes, what was expected and found.

/// A checkpoint that cannot be imported. Nothing is written when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read the checkpoint: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a PyTorch zip checkpoint ({0}); save it with torch.save (PyTorch 1.6 or later writes a zip archive)")]
    NotZip(String),
    #[error("the checkpoint's zip archive is truncated or damaged: {0}")]
    Damaged(String),
    #[error("the archive holds no data.pkl: not a checkpoint written by torch.save")]
    NoPickle,
    #[error(
        "the checkpoint was written on a big-endian machine; re-save it on a little-endian one"
    )]
    BigEndian,
    #[error("refused: the pickle names {0}, which is not a plain tensor, dict or list. Only state dicts are imported, and nothing in a checkpoint is ever run; save `model.state_dict()` (torch.save(model) pickles the Python classes)")]
    RefusedClass(String),
    #[error("the pickle is not a state dict this reader understands: {0}")]
    Pickle(String),
    #[error("tensor '{name}': storage record '{record}' is missing from the archive")]
    MissingStorage { name: String, record: String },
    #[error("tensor '{name}' reads {needed} bytes of storage '{record}', which holds {found}")]
    StorageTooSmall {
        name: String,
        record: String,
        needed: usize,
        found: usize,
    },
    #[error("tensor '{name}' is {dtype}; weights must be float32, float16, bfloat16 or float64")]
    NotFloat { name: String, dtype: &'static str },
    #[error("tensor '{0}' holds NaN or infinite values")]
    NonFinite(String),
    #[error("no state dict in the checkpoint: {0}")]
    NoStateDict(String),
    #[error("{0}")]
    Layout(String),
    #[error("tensor '{name}' has shape {found:?}; expected {expected}")]
    Shape {
        name: String,
        expected: String,
        found: Vec<usize>,
    },
    #[error("tensor '{0}' (named by the key map) is not in the state dict")]
    MissingKey(String),
    #[error("{count} tensor(s) in the state dict are not part of an RQ-VAE: {names}. Leave them out with --ignore NAME (a prefix ending in '.' takes a module), if encoding does not use them")]
    ExtraKeys { count: usize, names: String },
    #[error("the checkpoint's config says {field} = {config}, but the tensors give {tensors}")]
    ConfigMismatch {
        field: &'static str,
        config: String,
        tensors: String,
    },
    #[error("key map {path}: {message}")]
    KeyMap { path: String, message: String },
    #[error("the imported weights are not a usable model: {0}")]
    Weights(#[from] crate::weights::WeightsError),
}
