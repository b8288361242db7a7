//! A restricted unpickler for PyTorch state dicts: builds plain values (dicts, lists, numbers,
//! strings) and tensor references, and refuses every other class by name, the way
//! `torch.load(weights_only=True)` does. Nothing in the file is ever called: the few callables
//! a state dict needs (`_rebuild_tensor_v2`, `OrderedDict`, …) are recognised by name and
//! interpreted here.
//!
//! burn-store's reader (the Rust one of the field) was not enough: it ignores strides, fills
//! storage bytes it cannot find with zeros, and keeps unknown classes built with `NEWOBJ`
//! instead of refusing them, each a silent wrong answer for an importer.

use super::error::ImportError;
use std::collections::HashMap;

/// A pickled value, as far as a weights checkpoint may hold one.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    /// Insertion order kept (a state dict's order is its modules').
    Dict(Vec<(Value, Value)>),
    Tensor(TensorRef),
    /// A class or function named by the pickle; only the allowed ones are ever made.
    Global(Global),
    /// A persistent id: `('storage', <storage class>, key, location, numel)`.
    Storage(StorageRef),
}

/// A callable the pickle names (`GLOBAL module name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    pub module: String,
    pub name: String,
}

impl std::fmt::Display for Global {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.module, self.name)
    }
}

/// Element types of PyTorch storages (`torch.FloatStorage` …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F16,
    BF16,
    F64,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl Dtype {
    fn from_storage(name: &str) -> Option<Self> {
        Some(match name {
            "FloatStorage" => Self::F32,
            "HalfStorage" => Self::F16,
            "BFloat16Storage" => Self::BF16,
            "DoubleStorage" => Self::F64,
            "LongStorage" => Self::I64,
            "IntStorage" => Self::I32,
            "ShortStorage" => Self::I16,
            "CharStorage" => Self::I8,
            "ByteStorage" => Self::U8,
            "BoolStorage" => Self::Bool,
            _ => return None,
        })
    }

    pub fn size(self) -> usize {
        match self {
            Self::F64 | Self::I64 => 8,
            Self::F32 | Self::I32 => 4,
            Self::F16 | Self::BF16 | Self::I16 => 2,
            Self::I8 | Self::U8 | Self::Bool => 1,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, Self::F32 | Self::F16 | Self::BF16 | Self::F64)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "float32",
            Self::F16 => "float16",
            Self::BF16 => "bfloat16",
            Self::F64 => "float64",
            Self::I64 => "int64",
            Self::I32 => "int32",
            Self::I16 => "int16",
            Self::I8 => "int8",
            Self::U8 => "uint8",
            Self::Bool => "bool",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageRef {
    pub key: String,
    pub dtype: Dtype,
    /// Elements in the storage, when the pickle says (it does since PyTorch 1.6).
    pub numel: Option<usize>,
}

/// A tensor as the pickle describes it: a strided view of a storage record in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorRef {
    pub storage: StorageRef,
    pub offset: usize,
    pub shape: Vec<usize>,
    pub stride: Vec<usize>,
}

/// The callables a state dict may use; anything else is refused by name.
const ALLOWED: &[(&str, &str)] = &[
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch", "Tensor"),
    ("torch.nn.parameter", "Parameter"),
    ("_codecs", "encode"),
];

fn allowed(module: &str, name: &str) -> bool {
    (module == "torch" && Dtype::from_storage(name).is_some())
        || ALLOWED.iter().any(|&(m, n)| m == module && n == name)
}

fn bad(what: impl Into<String>) -> ImportError {
    ImportError::Pickle(what.into())
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ImportError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| bad(format!("ends inside an opcode at byte {}", self.pos)))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, ImportError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, ImportError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32, ImportError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64, ImportError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn line(&mut self) -> Result<String, ImportError> {
        let rest = &self.bytes[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("a GLOBAL name has no end of line"))?;
        self.pos += end + 1;
        String::from_utf8(rest[..end].to_vec()).map_err(|_| bad("a GLOBAL name is not UTF-8"))
    }
    fn text(&mut self, n: usize) -> Result<String, ImportError> {
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| bad("a string is not UTF-8"))
    }
}

enum Item {
    Mark,
    V(Value),
}

/// How deep containers may nest. A state dict nests a few levels; a crafted pickle could nest
/// millions, and dropping such a value would overflow the stack.
const MAX_DEPTH: usize = 32;
/// How many values memo reads and `DUP` may copy in all: the memo holds copies (a state dict
/// never reads back a container it is still filling), so a crafted pickle doubling a value
/// each step must stop long before memory runs out.
const COPY_BUDGET: usize = 5_000_000;

fn check_depth(v: &Value, depth: usize) -> Result<(), ImportError> {
    if depth > MAX_DEPTH {
        return Err(bad(format!(
            "containers nest deeper than {MAX_DEPTH} levels"
        )));
    }
    match v {
        Value::List(items) | Value::Tuple(items) => {
            items.iter().try_for_each(|i| check_depth(i, depth + 1))
        }
        Value::Dict(pairs) => pairs.iter().try_for_each(|(k, v)| {
            check_depth(k, depth + 1)?;
            check_depth(v, depth + 1)
        }),
        _ => Ok(()),
    }
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::List(items) | Value::Tuple(items) => items.iter().map(count).sum(),
        Value::Dict(pairs) => pairs.iter().map(|(k, v)| count(k) + count(v)).sum(),
        _ => 0,
    }
}

struct Machine {
    stack: Vec<Item>,
    memo: HashMap<u32, Value>,
    copied: usize,
}

impl Machine {
    fn push(&mut self, v: Value) -> Result<(), ImportError> {
        check_depth(&v, 0)?;
        self.stack.push(Item::V(v));
        Ok(())
    }
    /// Counts `v` against the copy budget, then copies it.
    fn copy(&mut self, v: &Value) -> Result<Value, ImportError> {
        self.copied += count(v);
        if self.copied > COPY_BUDGET {
            return Err(bad(format!(
                "the pickle copies more than {COPY_BUDGET} values (a crafted file?)"
            )));
        }
        Ok(v.clone())
    }
    fn pop(&mut self) -> Result<Value, ImportError> {
        match self.stack.pop() {
            Some(Item::V(v)) => Ok(v),
            Some(Item::Mark) => Err(bad("a MARK where a value was expected")),
            None => Err(bad("the stack is empty where a value was expected")),
        }
    }
    fn top(&self) -> Result<&Value, ImportError> {
        match self.stack.last() {
            Some(Item::V(v)) => Ok(v),
            _ => Err(bad("no value on the stack to build")),
        }
    }
    fn top_mut(&mut self) -> Result<&mut Value, ImportError> {
        match self.stack.last_mut() {
            Some(Item::V(v)) => Ok(v),
            _ => Err(bad("no container on the stack")),
        }
    }
    fn pop_mark(&mut self) -> Result<Vec<Value>, ImportError> {
        let mut items = Vec::new();
        loop {
            match self.stack.pop() {
                Some(Item::Mark) => break,
                Some(Item::V(v)) => items.push(v),
                None => return Err(bad("no MARK before a collection's items")),
            }
        }
        items.reverse();
        Ok(items)
    }
    fn memo_get(&mut self, i: u32) -> Result<Value, ImportError> {
        let memo = std::mem::take(&mut self.memo);
        let v = match memo.get(&i) {
            Some(v) => self.copy(v),
            None => Err(bad(format!("memo entry {i} is read before it is written"))),
        };
        self.memo = memo;
        v
    }
    /// A copy of the top value, counted against the copy budget.
    fn copy_top(&mut self) -> Result<Value, ImportError> {
        let Some(Item::V(top)) = self.stack.pop() else {
            return Err(bad("no value on the stack to copy"));
        };
        let v = self.copy(&top);
        self.stack.push(Item::V(top));
        v
    }
    fn memo_put(&mut self, i: u32) -> Result<(), ImportError> {
        let v = self.copy_top()?;
        self.memo.insert(i, v);
        Ok(())
    }
}

fn pairs(items: Vec<Value>) -> Result<Vec<(Value, Value)>, ImportError> {
    if !items.len().is_multiple_of(2) {
        return Err(bad("a dict has an odd number of keys and values"));
    }
    let mut it = items.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

fn as_usize(v: &Value, what: &str) -> Result<usize, ImportError> {
    match v {
        Value::Int(i) if *i >= 0 => Ok(*i as usize),
        other => Err(bad(format!(
            "{what} must be a non-negative int, found {other:?}"
        ))),
    }
}

fn usize_list(v: &Value, what: &str) -> Result<Vec<usize>, ImportError> {
    match v {
        Value::Tuple(items) | Value::List(items) => {
            items.iter().map(|i| as_usize(i, what)).collect()
        }
        other => Err(bad(format!("{what} must be a tuple, found {other:?}"))),
    }
}

/// `_rebuild_tensor_v2(storage, offset, size, stride, …)` and the older `_rebuild_tensor`.
fn rebuild_tensor(args: Vec<Value>) -> Result<Value, ImportError> {
    let [storage, offset, size, stride, ..] = &args[..] else {
        return Err(bad("a tensor is rebuilt from fewer than 4 arguments"));
    };
    let Value::Storage(storage) = storage else {
        return Err(bad(format!(
            "a tensor's storage is not a persistent record: {storage:?}"
        )));
    };
    let shape = usize_list(size, "a tensor's size")?;
    let stride = usize_list(stride, "a tensor's stride")?;
    if shape.len() != stride.len() {
        return Err(bad("a tensor's size and stride differ in length"));
    }
    Ok(Value::Tensor(TensorRef {
        storage: storage.clone(),
        offset: as_usize(offset, "a tensor's storage offset")?,
        shape,
        stride,
    }))
}

fn tuple_args(args: Value, what: &Global) -> Result<Vec<Value>, ImportError> {
    match args {
        Value::Tuple(items) => Ok(items),
        other => Err(bad(format!(
            "{what} is called with {other:?} instead of a tuple"
        ))),
    }
}

/// Interprets an allowed callable (never runs anything from the file).
fn call(func: Value, args: Value) -> Result<Value, ImportError> {
    let Value::Global(g) = func else {
        return Err(bad(format!("REDUCE calls a non-class value {func:?}")));
    };
    let args = tuple_args(args, &g)?;
    match (g.module.as_str(), g.name.as_str()) {
        ("collections", "OrderedDict") => match args.into_iter().next() {
            None => Ok(Value::Dict(Vec::new())),
            Some(Value::List(items)) | Some(Value::Tuple(items)) => items
                .into_iter()
                .map(|item| match item {
                    Value::Tuple(kv) | Value::List(kv) if kv.len() == 2 => {
                        let mut kv = kv.into_iter();
                        Ok((kv.next().unwrap(), kv.next().unwrap()))
                    }
                    other => Err(bad(format!("an OrderedDict item is {other:?}"))),
                })
                .collect::<Result<_, _>>()
                .map(Value::Dict),
            Some(other) => Err(bad(format!("OrderedDict is built from {other:?}"))),
        },
        ("torch._utils", "_rebuild_tensor_v2") | ("torch._utils", "_rebuild_tensor") => {
            rebuild_tensor(args)
        }
        ("torch._utils", "_rebuild_parameter")
        | ("torch._utils", "_rebuild_parameter_with_state") => match args.into_iter().next() {
            Some(t @ Value::Tensor(_)) => Ok(t),
            other => Err(bad(format!("a Parameter wraps {other:?}, not a tensor"))),
        },
        ("torch._tensor", "_rebuild_from_type_v2") => {
            // (func, type, args, state): only plain tensors and Parameters.
            let mut it = args.into_iter();
            let (func, ty, inner) = (it.next(), it.next(), it.next());
            match ty {
                Some(Value::Global(t)) if allowed(&t.module, &t.name) => {}
                Some(Value::Global(t)) => return Err(ImportError::RefusedClass(t.to_string())),
                other => return Err(bad(format!("a tensor's type is {other:?}"))),
            }
            call(
                func.ok_or_else(|| bad("_rebuild_from_type_v2 without a function"))?,
                inner.unwrap_or(Value::Tuple(Vec::new())),
            )
        }
        ("_codecs", "encode") => match &args[..] {
            // Protocol 2 writes bytes as `_codecs.encode(text, 'latin1')`.
            [Value::Str(s), Value::Str(enc)] if enc == "latin1" || enc == "latin-1" => {
                Ok(Value::Bytes(s.chars().map(|c| c as u32 as u8).collect()))
            }
            other => Err(bad(format!("_codecs.encode with {other:?}"))),
        },
        _ => Err(ImportError::RefusedClass(g.to_string())),
    }
}

/// Reads a persistent id into a storage reference.
fn persistent(pid: Value) -> Result<Value, ImportError> {
    let Value::Tuple(items) = pid else {
        return Err(bad(format!(
            "a persistent id is {pid:?}, not a storage tuple"
        )));
    };
    match &items[..] {
        [Value::Str(kind), Value::Global(class), Value::Str(key), _location, numel, ..]
            if kind == "storage" =>
        {
            let dtype = if class.module == "torch" {
                Dtype::from_storage(&class.name)
            } else {
                None
            }
            .ok_or_else(|| ImportError::RefusedClass(class.to_string()))?;
            Ok(Value::Storage(StorageRef {
                key: key.clone(),
                dtype,
                numel: as_usize(numel, "a storage's size").ok(),
            }))
        }
        _ => Err(bad(format!("a persistent id is {items:?}"))),
    }
}

/// Parses one pickle (protocols 2 to 5) into a [`Value`].
pub fn parse(bytes: &[u8]) -> Result<Value, ImportError> {
    let mut r = Reader { bytes, pos: 0 };
    let mut m = Machine {
        stack: Vec::new(),
        memo: HashMap::new(),
        copied: 0,
    };
    loop {
        let at = r.pos;
        let op = r.u8()?;
        match op {
            0x80 => {
                let proto = r.u8()?;
                if proto > 5 {
                    return Err(bad(format!("pickle protocol {proto} is not supported")));
                }
            }
            0x95 => {
                r.u64()?; // FRAME: a length hint only
            }
            b'.' => break,
            b'(' => m.stack.push(Item::Mark),
            b'N' => m.push(Value::None)?,
            0x88 => m.push(Value::Bool(true))?,
            0x89 => m.push(Value::Bool(false))?,
            b'J' => {
                let v = r.u32()? as i32;
                m.push(Value::Int(v as i64))?
            }
            b'K' => {
                let v = r.u8()?;
                m.push(Value::Int(v as i64))?
            }
            b'M' => {
                let v = r.u16()?;
                m.push(Value::Int(v as i64))?
            }
            0x8a => {
                let n = r.u8()? as usize;
                let raw = r.take(n)?;
                if n > 8 {
                    return Err(bad("an integer wider than 64 bits"));
                }
                let mut buf = if raw.last().is_some_and(|&b| b & 0x80 != 0) {
                    [0xffu8; 8]
                } else {
                    [0u8; 8]
                };
                buf[..n].copy_from_slice(raw);
                m.push(Value::Int(i64::from_le_bytes(buf)))?
            }
            b'G' => {
                let raw: [u8; 8] = r.take(8)?.try_into().unwrap();
                m.push(Value::Float(f64::from_be_bytes(raw)))?
            }
            b'X' => {
                let n = r.u32()? as usize;
                let s = r.text(n)?;
                m.push(Value::Str(s))?
            }
            0x8c => {
                let n = r.u8()? as usize;
                let s = r.text(n)?;
                m.push(Value::Str(s))?
            }
            0x8d => {
                let n = r.u64()? as usize;
                let s = r.text(n)?;
                m.push(Value::Str(s))?
            }
            b'U' => {
                let n = r.u8()? as usize;
                let raw = r.take(n)?;
                m.push(Value::Str(raw.iter().map(|&b| b as char).collect()))?
            }
            b'T' => {
                let n = r.u32()? as usize;
                let raw = r.take(n)?;
                m.push(Value::Str(raw.iter().map(|&b| b as char).collect()))?
            }
            b'C' => {
                let n = r.u8()? as usize;
                let raw = r.take(n)?;
                m.push(Value::Bytes(raw.to_vec()))?
            }
            b'B' => {
                let n = r.u32()? as usize;
                let raw = r.take(n)?;
                m.push(Value::Bytes(raw.to_vec()))?
            }
            b'}' => m.push(Value::Dict(Vec::new()))?,
            b']' => m.push(Value::List(Vec::new()))?,
            b')' => m.push(Value::Tuple(Vec::new()))?,
            b'd' => {
                let items = m.pop_mark()?;
                m.push(Value::Dict(pairs(items)?))?
            }
            b'l' => {
                let items = m.pop_mark()?;
                m.push(Value::List(items))?
            }
            b't' => {
                let items = m.pop_mark()?;
                m.push(Value::Tuple(items))?
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                let mut items = (0..n).map(|_| m.pop()).collect::<Result<Vec<_>, _>>()?;
                items.reverse();
                m.push(Value::Tuple(items))?
            }
            b's' => {
                let v = m.pop()?;
                let k = m.pop()?;
                check_depth(&k, 1)?;
                check_depth(&v, 1)?;
                match m.top_mut()? {
                    Value::Dict(d) => d.push((k, v)),
                    _ => return Err(bad("SETITEM on a value that is not a dict")),
                }
            }
            b'u' => {
                let items = pairs(m.pop_mark()?)?;
                for (k, v) in &items {
                    check_depth(k, 1)?;
                    check_depth(v, 1)?;
                }
                match m.top_mut()? {
                    Value::Dict(d) => d.extend(items),
                    _ => return Err(bad("SETITEMS on a value that is not a dict")),
                }
            }
            b'a' => {
                let v = m.pop()?;
                check_depth(&v, 1)?;
                match m.top_mut()? {
                    Value::List(l) => l.push(v),
                    _ => return Err(bad("APPEND on a value that is not a list")),
                }
            }
            b'e' => {
                let items = m.pop_mark()?;
                items.iter().try_for_each(|v| check_depth(v, 1))?;
                match m.top_mut()? {
                    Value::List(l) => l.extend(items),
                    _ => return Err(bad("APPENDS on a value that is not a list")),
                }
            }
            b'q' => {
                let i = r.u8()? as u32;
                m.memo_put(i)?
            }
            b'r' => {
                let i = r.u32()?;
                m.memo_put(i)?
            }
            0x94 => {
                let i = m.memo.len() as u32;
                m.memo_put(i)?
            }
            b'h' => {
                let i = r.u8()? as u32;
                let v = m.memo_get(i)?;
                m.push(v)?
            }
            b'j' => {
                let i = r.u32()?;
                let v = m.memo_get(i)?;
                m.push(v)?
            }
            b'0' => {
                m.stack.pop();
            }
            b'1' => {
                m.pop_mark()?;
            }
            b'2' => {
                let v = m.copy_top()?;
                m.push(v)?
            }
            b'c' => {
                let module = r.line()?;
                let name = r.line()?;
                if !allowed(&module, &name) {
                    return Err(ImportError::RefusedClass(format!("{module}.{name}")));
                }
                m.push(Value::Global(Global { module, name }))?
            }
            0x93 => {
                let name = m.pop()?;
                let module = m.pop()?;
                let (Value::Str(module), Value::Str(name)) = (module, name) else {
                    return Err(bad("STACK_GLOBAL names are not strings"));
                };
                if !allowed(&module, &name) {
                    return Err(ImportError::RefusedClass(format!("{module}.{name}")));
                }
                m.push(Value::Global(Global { module, name }))?
            }
            b'Q' => {
                let pid = m.pop()?;
                m.push(persistent(pid)?)?
            }
            b'R' => {
                let args = m.pop()?;
                let func = m.pop()?;
                m.push(call(func, args)?)?
            }
            0x81 => {
                // NEWOBJ cls(*args): only an OrderedDict may be made this way.
                let args = m.pop()?;
                let cls = m.pop()?;
                m.push(call(cls, args)?)?
            }
            b'b' => {
                // BUILD: a state dict's `_metadata`, a tensor's (empty) Python state. Only
                // containers and tensors are ever built, so the state is dropped.
                let _state = m.pop()?;
                match m.top()? {
                    Value::Dict(_) | Value::Tensor(_) => {}
                    other => return Err(bad(format!("BUILD on {other:?}"))),
                }
            }
            other => {
                return Err(bad(format!(
                    "opcode 0x{other:02x} at byte {at} is not one a weights checkpoint uses"
                )))
            }
        }
    }
    m.pop()
}
