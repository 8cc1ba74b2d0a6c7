//! Python semantics that the reference's output depends on.
//!
//! The reference converter is a Python program: its text-to-number conversions (`int()`,
//! `float()`), integer division and modulo (floor semantics), `'%.0f'` formatting and negative
//! list indices all leak into the ABC it prints, and the inputs on which those operations raise
//! decide whether it prints anything at all. The helpers here reproduce exactly those
//! behaviours so that the converter can stay in plain Rust terms elsewhere.

use crate::XmlError;

/// Python's `int(text)` for base-10 strings: surrounding whitespace, an optional sign, ASCII
/// digits with single underscores between them. Returns `None` where Python raises
/// `ValueError` (and, a documented divergence, for non-ASCII decimal digits and values outside
/// `i64`, which Python would accept).
pub fn int(text: &str) -> Option<i64> {
    let t = text.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
        return None;
    }
    let mut value: i64 = 0;
    let mut prev_underscore = false;
    for c in digits.chars() {
        if c == '_' {
            if prev_underscore {
                return None;
            }
            prev_underscore = true;
            continue;
        }
        prev_underscore = false;
        if !c.is_ascii_digit() {
            return None;
        }
        let d = i64::from(c.to_digit(10)?);
        // Accumulate with the sign so that i64::MIN is representable.
        value = value.checked_mul(10)?;
        value = if neg {
            value.checked_sub(d)?
        } else {
            value.checked_add(d)?
        };
    }
    Some(value)
}

/// [`int`] with an error naming the field, for the places where the reference lets the
/// `ValueError` end the conversion (a well-formed integer beyond `i64` is
/// [`XmlError::Unsupported`] instead: Python would accept it).
pub fn int_of(text: &str, what: &str) -> Result<i64, XmlError> {
    int(text).ok_or_else(|| {
        if is_integer_syntax(text) {
            XmlError::unsupported(format!("integer {text:?} in {what} beyond 64 bits"))
        } else {
            XmlError::invalid(format!("invalid integer {text:?} in {what}"))
        }
    })
}

/// Whether Python's `int()` would accept the text (ASCII digits only), whatever its size.
fn is_integer_syntax(text: &str) -> bool {
    let t = text.trim();
    let d = t.strip_prefix(['+', '-']).unwrap_or(t);
    !d.is_empty()
        && !d.starts_with('_')
        && !d.ends_with('_')
        && !d.contains("__")
        && d.chars().all(|c| c.is_ascii_digit() || c == '_')
}

/// Python's `float(text)`: surrounding whitespace, `inf`/`infinity`/`nan` in any case,
/// underscores between digits. `None` where Python raises `ValueError`.
pub fn float(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" || lower == "nan" {
        return t.parse::<f64>().ok();
    }
    // Python accepts one underscore between two digits; Rust accepts none.
    let cleaned: String = if t.contains('_') {
        let chars: Vec<char> = t.chars().collect();
        let mut out = String::with_capacity(t.len());
        for (i, &c) in chars.iter().enumerate() {
            if c == '_' {
                let before = i.checked_sub(1).and_then(|j| chars.get(j));
                let after = chars.get(i + 1);
                match (before, after) {
                    (Some(b), Some(a)) if b.is_ascii_digit() && a.is_ascii_digit() => continue,
                    _ => return None,
                }
            }
            out.push(c);
        }
        out
    } else {
        t.to_string()
    };
    if !cleaned
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'))
    {
        return None;
    }
    cleaned.parse::<f64>().ok()
}

/// [`float`] with an error naming the field.
pub fn float_of(text: &str, what: &str) -> Result<f64, XmlError> {
    float(text).ok_or_else(|| XmlError::invalid(format!("invalid number {text:?} in {what}")))
}

/// Python's `'%.0f' % x`. Rust's `{:.0}` rounds the exact binary value half-to-even, as C's
/// printf does, so only the non-finite spellings need care.
pub fn fmt_f0(x: f64) -> String {
    if x.is_nan() {
        "nan".to_string()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format!("{x:.0}")
    }
}

/// Python's `a // b` (floor division); `ZeroDivisionError` becomes an error.
pub fn floor_div(a: i64, b: i64) -> Result<i64, XmlError> {
    if b == 0 {
        return Err(XmlError::invalid("division by zero"));
    }
    let q = a.checked_div(b).ok_or_else(overflow)?;
    if (a % b != 0) && ((a < 0) != (b < 0)) {
        Ok(q - 1)
    } else {
        Ok(q)
    }
}

/// Python's `a % b` (the result takes the sign of `b`).
pub fn floor_mod(a: i64, b: i64) -> Result<i64, XmlError> {
    if b == 0 {
        return Err(XmlError::invalid("division by zero"));
    }
    let r = a.checked_rem(b).ok_or_else(overflow)?;
    if r != 0 && ((r < 0) != (b < 0)) {
        Ok(r + b)
    } else {
        Ok(r)
    }
}

/// The error for integer results that Python's unbounded ints would still hold.
pub fn overflow() -> XmlError {
    XmlError::unsupported("integer beyond 64 bits")
}

/// Checked multiplication reporting [`overflow`].
pub fn mul(a: i64, b: i64) -> Result<i64, XmlError> {
    a.checked_mul(b).ok_or_else(overflow)
}

/// Checked addition reporting [`overflow`].
pub fn add(a: i64, b: i64) -> Result<i64, XmlError> {
    a.checked_add(b).ok_or_else(overflow)
}

/// Checked subtraction reporting [`overflow`].
pub fn sub(a: i64, b: i64) -> Result<i64, XmlError> {
    a.checked_sub(b).ok_or_else(overflow)
}

/// The reference's fraction reduction: Euclid with Python's modulo, then floor division of
/// both terms by the result (so a zero pair is a `ZeroDivisionError`, and signs follow Python).
pub fn simplify(a: i64, b: i64) -> Result<(i64, i64), XmlError> {
    let (x, y) = (a, b);
    let (mut a, mut b) = (a, b);
    while b != 0 {
        let r = floor_mod(a, b)?;
        a = b;
        b = r;
    }
    Ok((floor_div(x, a)?, floor_div(y, a)?))
}

/// Python's `seq[i]` for a possibly negative index: `None` where Python raises `IndexError`.
pub fn index<T>(seq: &[T], i: i64) -> Option<&T> {
    let len = i64::try_from(seq.len()).ok()?;
    let j = if i < 0 { i + len } else { i };
    if j < 0 {
        return None;
    }
    seq.get(usize::try_from(j).ok()?)
}

/// Python's `str.lower()` for the pitch letters the reference lowers.
pub fn lower(s: &str) -> String {
    s.to_lowercase()
}

/// Whether `c` is a Python regex `\w` character in a str pattern (Unicode alphanumerics and
/// the underscore). Rust's `is_alphanumeric` is the nearest Unicode property.
pub fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether `c` is a Python regex `\d` character (Unicode decimal digit). Rust has no
/// `Nd`-only test; `to_digit(10)` covers ASCII, and other scripts' digits are numeric too,
/// so a numeric character counts as a digit here.
pub fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (c.is_numeric() && !c.is_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_follows_python() {
        assert_eq!(int(" 12 "), Some(12));
        assert_eq!(int("+3"), Some(3));
        assert_eq!(int("-0"), Some(0));
        assert_eq!(int("1_000"), Some(1000));
        assert_eq!(int("007"), Some(7));
        assert_eq!(int(""), None);
        assert_eq!(int("1.0"), None);
        assert_eq!(int("_1"), None);
        assert_eq!(int("1__0"), None);
        assert_eq!(int("chorus"), None);
        assert_eq!(int("- 1"), None);
        assert_eq!(int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(int("9223372036854775808"), None);
    }

    #[test]
    fn float_follows_python() {
        assert_eq!(float(" 1.5 "), Some(1.5));
        assert_eq!(float("5."), Some(5.0));
        assert_eq!(float(".5"), Some(0.5));
        assert_eq!(float("1_0.5"), Some(10.5));
        assert_eq!(float("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(float("nan").is_some_and(f64::is_nan));
        assert_eq!(float("1..2"), None);
        assert_eq!(float("."), None);
        assert_eq!(float("0x10"), None);
        assert_eq!(float(""), None);
    }

    #[test]
    fn percent_zero_f_rounds_half_even() {
        assert_eq!(fmt_f0(0.5), "0");
        assert_eq!(fmt_f0(1.5), "2");
        assert_eq!(fmt_f0(2.5), "2");
        assert_eq!(fmt_f0(-0.4), "-0");
        assert_eq!(fmt_f0(f64::INFINITY), "inf");
        assert_eq!(fmt_f0(f64::NAN), "nan");
    }

    #[test]
    fn floor_ops_and_simplify() {
        assert_eq!(floor_div(-7, 2).ok(), Some(-4));
        assert_eq!(floor_mod(-7, 2).ok(), Some(1));
        assert_eq!(floor_mod(7, -2).ok(), Some(-1));
        assert_eq!(simplify(8, 12).ok(), Some((2, 3)));
        assert_eq!(simplify(-8, 12).ok(), Some((-2, 3)));
        assert_eq!(simplify(8, 0).ok(), Some((1, 0)));
        assert!(simplify(0, 0).is_err());
    }

    #[test]
    fn negative_index_wraps() {
        let v = [1, 2, 3];
        assert_eq!(index(&v, -1), Some(&3));
        assert_eq!(index(&v, -4), None);
        assert_eq!(index(&v, 3), None);
    }
}
