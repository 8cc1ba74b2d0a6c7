//! A restricted reader for Python pickles, as written by `torch.save`.
//!
//! Unpickling in Python executes code named by the file (`GLOBAL` + `REDUCE`). This reader never
//! does: a global is kept as an inert name, a call as an inert [`Value::Call`] record, and it is
//! up to the caller (see [`crate::pth`]) to recognise the few shapes it trusts (tensor rebuilds,
//! `OrderedDict`). Every length is checked against the remaining input and nesting is bounded, so
//! garbage or hostile input gives an error, never a panic, an unbounded allocation or a stack
//! overflow.

use std::collections::HashMap;
use std::rc::Rc;

/// Deepest nesting of tuples/persistent ids accepted while reading, and of containers when the
/// result is resolved into a [`Value`] tree.
const MAX_DEPTH: usize = 256;
/// Most nodes a resolved [`Value`] tree may hold; bounds the blow-up of shared references.
const MAX_NODES: usize = 2_000_000;

/// Why a pickle could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PickleError {
    /// The stream ended inside an opcode or before `STOP`.
    #[error("pickle data is truncated (at byte {0})")]
    Truncated(usize),
    /// An opcode this reader does not know or does not allow.
    #[error("unsupported pickle opcode 0x{op:02x} at byte {pos}")]
    UnsupportedOpcode {
        /// The opcode byte.
        op: u8,
        /// Its offset in the stream.
        pos: usize,
    },
    /// The opcodes do not form a valid pickle (stack underflow, missing mark, bad memo key...).
    #[error("malformed pickle at byte {pos}: {msg}")]
    Malformed {
        /// Offset of the offending opcode.
        pos: usize,
        /// What was wrong.
        msg: String,
    },
    /// Nesting deeper than [`MAX_DEPTH`] or more than [`MAX_NODES`] values.
    #[error("pickle is nested too deeply or holds too many values")]
    TooLarge,
}

/// A value read from a pickle. Calls and globals are records, never executed.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Python `None`.
    None,
    /// Python `bool`.
    Bool(bool),
    /// Python `int` that fits in 64 bits.
    Int(i64),
    /// Python `int` beyond 64 bits: little-endian two's-complement bytes.
    BigInt(Vec<u8>),
    /// Python `float`.
    Float(f64),
    /// Python `str`.
    Str(String),
    /// Python `bytes` / `bytearray`.
    Bytes(Vec<u8>),
    /// Python `tuple`.
    Tuple(Vec<Value>),
    /// Python `list`.
    List(Vec<Value>),
    /// Python `dict`, in insertion order (also `collections.OrderedDict`).
    Dict(Vec<(Value, Value)>),
    /// Python `set` / `frozenset`.
    Set(Vec<Value>),
    /// A global name (`module.name`), e.g. `torch.FloatStorage`.
    Global {
        /// Module path.
        module: String,
        /// Attribute name.
        name: String,
    },
    /// A persistent id (`BINPERSID`): how torch refers to tensor storages.
    PersistentId(Box<Value>),
    /// An object construction (`REDUCE`, `NEWOBJ`, `INST`, `OBJ`) that was recorded, not run.
    Call {
        /// What would have been called (usually a [`Value::Global`]).
        func: Box<Value>,
        /// The argument tuple.
        args: Box<Value>,
        /// Items added by `SETITEM(S)` after construction.
        items: Vec<(Value, Value)>,
        /// Items added by `APPEND(S)` after construction.
        list: Vec<Value>,
        /// State given by `BUILD`, if any.
        state: Option<Box<Value>>,
    },
}

impl Value {
    /// The entries of a dict (plain or `OrderedDict`), if this is one.
    pub fn as_dict(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Dict(items) => Some(items),
            _ => None,
        }
    }

    /// Looks up a string key in a dict.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_dict()?
            .iter()
            .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
            .map(|(_, v)| v)
    }

    /// The elements of a tuple or list.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(v) | Value::List(v) => Some(v),
            _ => None,
        }
    }

    /// The integer value, if this is a small int (or a bool, as in Python).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// The string, if this is a `str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// `(module, name)` if this is a global.
    pub fn as_global(&self) -> Option<(&str, &str)> {
        match self {
            Value::Global { module, name } => Some((module, name)),
            _ => None,
        }
    }
}

/// Reads one pickle from `data` and returns the value `STOP` leaves on the stack.
pub fn read(data: &[u8]) -> Result<Value, PickleError> {
    let mut m = Machine::new(data);
    let root = m.run()?;
    let mut budget = MAX_NODES;
    m.resolve(&root, 0, &mut budget)
}

/// A value on the machine's stack. Mutable containers live in an arena and are referred to by
/// index, so that memo entries and the stack share them as Python objects are shared.
#[derive(Clone, Debug)]
enum Val {
    None,
    Bool(bool),
    Int(i64),
    BigInt(Rc<[u8]>),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Tuple(Rc<Nested>),
    Global(Rc<(String, String)>),
    PersId(Rc<Nested>),
    Ref(usize),
}

/// Children of a tuple or persistent id, with the nesting depth they reach.
#[derive(Debug)]
struct Nested {
    depth: usize,
    items: Vec<Val>,
}

#[derive(Debug)]
enum Node {
    List(Vec<Val>),
    Dict(Vec<(Val, Val)>),
    Set(Vec<Val>),
    Object {
        func: Val,
        args: Val,
        items: Vec<(Val, Val)>,
        list: Vec<Val>,
        state: Option<Val>,
    },
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    op_pos: usize,
    stack: Vec<Val>,
    marks: Vec<usize>,
    memo: HashMap<u64, Val>,
    arena: Vec<Node>,
}

fn depth_of(v: &Val) -> usize {
    match v {
        Val::Tuple(n) | Val::PersId(n) => n.depth,
        _ => 0,
    }
}

impl<'a> Machine<'a> {
    fn new(data: &'a [u8]) -> Self {
        Machine {
            data,
            pos: 0,
            op_pos: 0,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            arena: Vec::new(),
        }
    }

    fn malformed(&self, msg: impl Into<String>) -> PickleError {
        PickleError::Malformed {
            pos: self.op_pos,
            msg: msg.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or(PickleError::Truncated(self.data.len()))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, PickleError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, PickleError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, PickleError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn len_u64(&mut self) -> Result<usize, PickleError> {
        let n = self.u64()?;
        usize::try_from(n).map_err(|_| PickleError::Truncated(self.data.len()))
    }

    fn line(&mut self) -> Result<&'a str, PickleError> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(PickleError::Truncated(self.data.len()))?;
        let line = &rest[..n];
        self.pos += n + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        std::str::from_utf8(line).map_err(|_| self.malformed("text field is not UTF-8"))
    }

    fn pop(&mut self) -> Result<Val, PickleError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.malformed("stack underflow"));
        }
        self.stack
            .pop()
            .ok_or_else(|| self.malformed("stack underflow"))
    }

    fn top(&mut self) -> Result<&mut Val, PickleError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.malformed("stack underflow"));
        }
        let pos = self.op_pos;
        self.stack.last_mut().ok_or(PickleError::Malformed {
            pos,
            msg: "stack underflow".into(),
        })
    }

    fn pop_mark(&mut self) -> Result<Vec<Val>, PickleError> {
        let mark = self.marks.pop().ok_or_else(|| self.malformed("no MARK"))?;
        Ok(self.stack.split_off(mark))
    }

    fn push(&mut self, v: Val) {
        self.stack.push(v);
    }

    fn alloc(&mut self, n: Node) -> Val {
        self.arena.push(n);
        Val::Ref(self.arena.len() - 1)
    }

    fn nested(&self, items: Vec<Val>) -> Result<Rc<Nested>, PickleError> {
        let depth = 1 + items.iter().map(depth_of).max().unwrap_or(0);
        if depth > MAX_DEPTH {
            return Err(PickleError::TooLarge);
        }
        Ok(Rc::new(Nested { depth, items }))
    }

    fn tuple(&self, items: Vec<Val>) -> Result<Val, PickleError> {
        Ok(Val::Tuple(self.nested(items)?))
    }

    fn str_val(&self, b: &[u8]) -> Result<Val, PickleError> {
        let s = std::str::from_utf8(b).map_err(|_| self.malformed("string is not valid UTF-8"))?;
        Ok(Val::Str(Rc::from(s)))
    }

    /// Python 2 `str` (BINSTRING): torch never writes it; read it as latin-1 text.
    fn latin1(b: &[u8]) -> Val {
        Val::Str(Rc::from(
            b.iter().map(|&c| char::from(c)).collect::<String>(),
        ))
    }

    fn memo_get(&self, key: u64) -> Result<Val, PickleError> {
        self.memo
            .get(&key)
            .cloned()
            .ok_or_else(|| self.malformed(format!("memo key {key} not found")))
    }

    fn memo_put(&mut self, key: u64) -> Result<(), PickleError> {
        let v = self
            .stack
            .last()
            .cloned()
            .ok_or_else(|| self.malformed("PUT on an empty stack"))?;
        self.memo.insert(key, v);
        Ok(())
    }

    fn node_mut(&mut self, v: &Val) -> Result<&mut Node, PickleError> {
        match v {
            Val::Ref(i) => {
                let pos = self.op_pos;
                self.arena.get_mut(*i).ok_or(PickleError::Malformed {
                    pos,
                    msg: "dangling reference".into(),
                })
            }
            _ => Err(self.malformed("target is not a mutable container")),
        }
    }

    fn set_items(&mut self, target: &Val, kv: Vec<Val>) -> Result<(), PickleError> {
        if !kv.len().is_multiple_of(2) {
            return Err(self.malformed("odd number of items for SETITEMS"));
        }
        let mut pairs = Vec::with_capacity(kv.len() / 2);
        let mut it = kv.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            pairs.push((k, v));
        }
        match self.node_mut(target)? {
            Node::Dict(d) | Node::Object { items: d, .. } => {
                d.extend(pairs);
                Ok(())
            }
            _ => Err(self.malformed("SETITEM target is not a dict")),
        }
    }

    fn append(&mut self, target: &Val, vals: Vec<Val>) -> Result<(), PickleError> {
        match self.node_mut(target)? {
            Node::List(l) | Node::Set(l) | Node::Object { list: l, .. } => {
                l.extend(vals);
                Ok(())
            }
            Node::Dict(_) => Err(self.malformed("APPEND target is a dict")),
        }
    }

    fn parse_int_text(&self, s: &str) -> Result<Val, PickleError> {
        let s = s.trim_end_matches('L');
        match s {
            "00" => return Ok(Val::Bool(false)),
            "01" => return Ok(Val::Bool(true)),
            _ => {}
        }
        s.parse::<i64>()
            .map(Val::Int)
            .map_err(|_| self.malformed(format!("bad integer literal {s:?}")))
    }

    fn long_bytes(&self, b: &[u8]) -> Val {
        if b.is_empty() {
            return Val::Int(0);
        }
        if b.len() <= 8 {
            let neg = b[b.len() - 1] & 0x80 != 0;
            let mut a = if neg { [0xffu8; 8] } else { [0u8; 8] };
            a[..b.len()].copy_from_slice(b);
            Val::Int(i64::from_le_bytes(a))
        } else {
            Val::BigInt(Rc::from(b))
        }
    }

    fn run(&mut self) -> Result<Val, PickleError> {
        loop {
            self.op_pos = self.pos;
            let op = self.u8()?;
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return Err(self.malformed(format!("unknown protocol {proto}")));
                    }
                }
                0x95 => {
                    self.u64()?;
                }
                b'.' => {
                    return self.pop();
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.push(v);
                }
                b'N' => self.push(Val::None),
                0x88 => self.push(Val::Bool(true)),
                0x89 => self.push(Val::Bool(false)),
                b'I' => {
                    let s = self.line()?;
                    let v = self.parse_int_text(s)?;
                    self.push(v);
                }
                b'L' => {
                    let s = self.line()?;
                    let v = self.parse_int_text(s)?;
                    self.push(v);
                }
                b'J' => {
                    let v = self.u32()? as i32;
                    self.push(Val::Int(i64::from(v)));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Val::Int(i64::from(v)));
                }
                b'M' => {
                    let v = self.u16()?;
                    self.push(Val::Int(i64::from(v)));
                }
                0x8a => {
                    let n = usize::from(self.u8()?);
                    let b = self.take(n)?;
                    let v = self.long_bytes(b);
                    self.push(v);
                }
                0x8b => {
                    let n = self.u32()? as i32;
                    let n =
                        usize::try_from(n).map_err(|_| self.malformed("negative LONG4 size"))?;
                    let b = self.take(n)?;
                    let v = self.long_bytes(b);
                    self.push(v);
                }
                b'F' => {
                    let s = self.line()?;
                    let f = s
                        .trim()
                        .parse::<f64>()
                        .map_err(|_| self.malformed(format!("bad float literal {s:?}")))?;
                    self.push(Val::Float(f));
                }
                b'G' => {
                    let b = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    self.push(Val::Float(f64::from_be_bytes(a)));
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let b = self.take(n)?;
                    let v = self.str_val(b)?;
                    self.push(v);
                }
                0x8c => {
                    let n = usize::from(self.u8()?);
                    let b = self.take(n)?;
                    let v = self.str_val(b)?;
                    self.push(v);
                }
                0x8d => {
                    let n = self.len_u64()?;
                    let b = self.take(n)?;
                    let v = self.str_val(b)?;
                    self.push(v);
                }
                b'V' => {
                    let s = self.line()?;
                    self.push(Val::Str(Rc::from(s)));
                }
                b'T' => {
                    let n = self.u32()? as i32;
                    let n = usize::try_from(n)
                        .map_err(|_| self.malformed("negative BINSTRING size"))?;
                    let b = self.take(n)?;
                    self.push(Self::latin1(b));
                }
                b'U' => {
                    let n = usize::from(self.u8()?);
                    let b = self.take(n)?;
                    self.push(Self::latin1(b));
                }
                b'B' => {
                    let n = self.u32()? as usize;
                    let b = self.take(n)?;
                    self.push(Val::Bytes(Rc::from(b)));
                }
                b'C' => {
                    let n = usize::from(self.u8()?);
                    let b = self.take(n)?;
                    self.push(Val::Bytes(Rc::from(b)));
                }
                0x8e | 0x96 => {
                    let n = self.len_u64()?;
                    let b = self.take(n)?;
                    self.push(Val::Bytes(Rc::from(b)));
                }
                b')' => {
                    let t = self.tuple(Vec::new())?;
                    self.push(t);
                }
                b't' => {
                    let items = self.pop_mark()?;
                    let t = self.tuple(items)?;
                    self.push(t);
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    let t = self.tuple(items)?;
                    self.push(t);
                }
                b']' => {
                    let v = self.alloc(Node::List(Vec::new()));
                    self.push(v);
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    let v = self.alloc(Node::List(items));
                    self.push(v);
                }
                b'a' => {
                    let v = self.pop()?;
                    let target = self.top()?.clone();
                    self.append(&target, vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let target = self.top()?.clone();
                    self.append(&target, items)?;
                }
                b'}' => {
                    let v = self.alloc(Node::Dict(Vec::new()));
                    self.push(v);
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let v = self.alloc(Node::Dict(Vec::new()));
                    self.set_items(&v, items)?;
                    self.push(v);
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let target = self.top()?.clone();
                    self.set_items(&target, vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let target = self.top()?.clone();
                    self.set_items(&target, items)?;
                }
                0x8f => {
                    let v = self.alloc(Node::Set(Vec::new()));
                    self.push(v);
                }
                0x90 => {
                    let items = self.pop_mark()?;
                    let target = self.top()?.clone();
                    self.append(&target, items)?;
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    let v = self.alloc(Node::Set(items));
                    self.push(v);
                }
                b'c' => {
                    let module = self.line()?.to_string();
                    let name = self.line()?.to_string();
                    self.push(Val::Global(Rc::new((module, name))));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Val::Str(m), Val::Str(n)) => {
                            self.push(Val::Global(Rc::new((m.to_string(), n.to_string()))))
                        }
                        _ => return Err(self.malformed("STACK_GLOBAL needs two strings")),
                    }
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let func = self.pop()?;
                    let v = self.alloc(Node::Object {
                        func,
                        args,
                        items: Vec::new(),
                        list: Vec::new(),
                        state: None,
                    });
                    self.push(v);
                }
                0x92 => {
                    let _kwargs = self.pop()?;
                    let args = self.pop()?;
                    let func = self.pop()?;
                    let v = self.alloc(Node::Object {
                        func,
                        args,
                        items: Vec::new(),
                        list: Vec::new(),
                        state: None,
                    });
                    self.push(v);
                }
                b'i' => {
                    let module = self.line()?.to_string();
                    let name = self.line()?.to_string();
                    let args = self.pop_mark()?;
                    let args = self.tuple(args)?;
                    let v = self.alloc(Node::Object {
                        func: Val::Global(Rc::new((module, name))),
                        args,
                        items: Vec::new(),
                        list: Vec::new(),
                        state: None,
                    });
                    self.push(v);
                }
                b'o' => {
                    let mut items = self.pop_mark()?;
                    if items.is_empty() {
                        return Err(self.malformed("OBJ without a class"));
                    }
                    let func = items.remove(0);
                    let args = self.tuple(items)?;
                    let v = self.alloc(Node::Object {
                        func,
                        args,
                        items: Vec::new(),
                        list: Vec::new(),
                        state: None,
                    });
                    self.push(v);
                }
                b'b' => {
                    let state = self.pop()?;
                    let target = self.top()?.clone();
                    // BUILD on a plain dict/list (e.g. an OrderedDict's `_metadata`) is
                    // attribute state we do not need.
                    if let Node::Object { state: s, .. } = self.node_mut(&target)? {
                        *s = Some(state);
                    }
                }
                b'P' => {
                    let s = self.line()?;
                    let inner = Val::Str(Rc::from(s));
                    let n = self.nested(vec![inner])?;
                    self.push(Val::PersId(n));
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let n = self.nested(vec![pid])?;
                    self.push(Val::PersId(n));
                }
                b'p' => {
                    let s = self.line()?;
                    let key = s
                        .parse::<u64>()
                        .map_err(|_| self.malformed("bad PUT key"))?;
                    self.memo_put(key)?;
                }
                b'q' => {
                    let key = u64::from(self.u8()?);
                    self.memo_put(key)?;
                }
                b'r' => {
                    let key = u64::from(self.u32()?);
                    self.memo_put(key)?;
                }
                0x94 => {
                    let key = self.memo.len() as u64;
                    self.memo_put(key)?;
                }
                b'g' => {
                    let s = self.line()?;
                    let key = s
                        .parse::<u64>()
                        .map_err(|_| self.malformed("bad GET key"))?;
                    let v = self.memo_get(key)?;
                    self.push(v);
                }
                b'h' => {
                    let key = u64::from(self.u8()?);
                    let v = self.memo_get(key)?;
                    self.push(v);
                }
                b'j' => {
                    let key = u64::from(self.u32()?);
                    let v = self.memo_get(key)?;
                    self.push(v);
                }
                _ => {
                    return Err(PickleError::UnsupportedOpcode {
                        op,
                        pos: self.op_pos,
                    })
                }
            }
        }
    }

    /// Turns a machine value into an owned tree, following arena references.
    fn resolve(&self, v: &Val, depth: usize, budget: &mut usize) -> Result<Value, PickleError> {
        if depth > MAX_DEPTH || *budget == 0 {
            return Err(PickleError::TooLarge);
        }
        *budget -= 1;
        let seq = |items: &[Val], budget: &mut usize| -> Result<Vec<Value>, PickleError> {
            items
                .iter()
                .map(|x| self.resolve(x, depth + 1, budget))
                .collect()
        };
        let pairs = |items: &[(Val, Val)],
                     budget: &mut usize|
         -> Result<Vec<(Value, Value)>, PickleError> {
            items
                .iter()
                .map(|(k, x)| {
                    Ok((
                        self.resolve(k, depth + 1, budget)?,
                        self.resolve(x, depth + 1, budget)?,
                    ))
                })
                .collect()
        };
        Ok(match v {
            Val::None => Value::None,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::Int(*i),
            Val::BigInt(b) => Value::BigInt(b.to_vec()),
            Val::Float(f) => Value::Float(*f),
            Val::Str(s) => Value::Str(s.to_string()),
            Val::Bytes(b) => Value::Bytes(b.to_vec()),
            Val::Tuple(n) => Value::Tuple(seq(&n.items, budget)?),
            Val::Global(g) => Value::Global {
                module: g.0.clone(),
                name: g.1.clone(),
            },
            Val::PersId(n) => {
                let inner = n.items.first().ok_or(PickleError::TooLarge)?;
                Value::PersistentId(Box::new(self.resolve(inner, depth + 1, budget)?))
            }
            Val::Ref(i) => match self.arena.get(*i) {
                None => return Err(PickleError::TooLarge),
                Some(Node::List(l)) => Value::List(seq(l, budget)?),
                Some(Node::Set(l)) => Value::Set(seq(l, budget)?),
                Some(Node::Dict(d)) => Value::Dict(pairs(d, budget)?),
                Some(Node::Object {
                    func,
                    args,
                    items,
                    list,
                    state,
                }) => {
                    let func = self.resolve(func, depth + 1, budget)?;
                    let args = self.resolve(args, depth + 1, budget)?;
                    let items = pairs(items, budget)?;
                    // `collections.OrderedDict()` filled by SETITEMS is just a dict to us.
                    let is_ordered_dict =
                        matches!(func.as_global(), Some(("collections", "OrderedDict")))
                            && matches!(&args, Value::Tuple(a) if a.is_empty());
                    if is_ordered_dict && list.is_empty() {
                        Value::Dict(items)
                    } else {
                        Value::Call {
                            func: Box::new(func),
                            args: Box::new(args),
                            items,
                            list: seq(list, budget)?,
                            state: match state {
                                Some(s) => Some(Box::new(self.resolve(s, depth + 1, budget)?)),
                                None => None,
                            },
                        }
                    }
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_protocol_2_dict_with_shared_memo() {
        // {'a': [1, 2], 'b': <same list>} as pickle protocol 2 would write it.
        let data = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01K\x02eX\x01\x00\x00\x00bq\x03h\x02u.";
        let v = read(data).unwrap();
        let expected = Value::List(vec![Value::Int(1), Value::Int(2)]);
        assert_eq!(v.get("a"), Some(&expected));
        assert_eq!(v.get("b"), Some(&expected));
    }

    #[test]
    fn never_calls_globals() {
        // os.system('echo hi') as a pickle: must come back as an inert record.
        let data = b"cos\nsystem\n(X\x07\x00\x00\x00echo hitR.";
        let v = read(data).unwrap();
        match v {
            Value::Call { func, args, .. } => {
                assert_eq!(func.as_global(), Some(("os", "system")));
                assert_eq!(args.as_seq().map(|a| a.len()), Some(1));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn rejects_truncated_and_garbage() {
        assert!(matches!(
            read(b"\x80\x02}q\x00(X\x05\x00"),
            Err(PickleError::Truncated(_))
        ));
        assert!(read(b"").is_err());
        assert!(read(b"\xff\xfe").is_err());
        // A length far beyond the input must not allocate.
        assert!(read(b"X\xff\xff\xff\xff").is_err());
        assert!(read(b"\x8d\xff\xff\xff\xff\xff\xff\xff\xff").is_err());
    }

    #[test]
    fn bounds_nesting() {
        let mut data = vec![b'N'];
        data.extend(std::iter::repeat_n(0x85u8, 10_000));
        data.push(b'.');
        assert!(matches!(read(&data), Err(PickleError::TooLarge)));
    }

    #[test]
    fn bounds_shared_reference_blowup() {
        // t0 = (); t1 = (t0, t0); ... each level doubles the resolved size.
        let mut data = b")q\x00".to_vec();
        for i in 0..60u8 {
            data.extend_from_slice(&[b'h', i, b'h', i, 0x86, b'q', i + 1]);
        }
        data.push(b'.');
        assert!(matches!(read(&data), Err(PickleError::TooLarge)));
    }

    #[test]
    fn big_and_negative_longs() {
        let data = b"\x8a\x02\xff\x7f.";
        assert_eq!(read(data).unwrap(), Value::Int(0x7fff));
        let data = b"\x8a\x01\xff.";
        assert_eq!(read(data).unwrap(), Value::Int(-1));
        let data = b"\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.";
        assert!(matches!(read(data).unwrap(), Value::BigInt(_)));
    }
}
