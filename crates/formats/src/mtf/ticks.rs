//! Tick counts of unbounded size.
//!
//! mido reads a MIDI variable-length quantity into a Python `int`, which has no upper bound: a
//! delta time may have any number of 7-bit groups, and the absolute times that `merged_track`
//! sums up are unbounded too. Real files fit in `u64` by a wide margin, so the converter runs
//! on `u64` first and, only if a value does not fit, runs again on [`BigTicks`], a minimal
//! arbitrary-precision unsigned integer. Both implement [`Tick`], the few operations the merge
//! needs (sum, difference, order, decimal text).

use std::cmp::Ordering;

use super::MtfError;

/// The operations the MTF merge needs on tick counts.
pub(crate) trait Tick: Clone + Ord {
    /// Zero ticks.
    fn zero() -> Self;
    /// The value of a variable-length quantity (its bytes, continuation bits included);
    /// `None` if it does not fit this type.
    fn from_vlq(bytes: &[u8]) -> Option<Self>;
    /// `self + other`, or `None` on overflow.
    fn checked_add(&self, other: &Self) -> Option<Self>;
    /// `self - other`; the caller guarantees `self >= other`.
    fn sub_le(&self, other: &Self) -> Self;
    /// Whether the value is zero.
    fn is_zero(&self) -> bool;
    /// Append the decimal digits (Python `str()` of a non-negative int). Fails, as Python
    /// does, for a number of more than [`MAX_STR_DIGITS`] digits.
    fn push_decimal(&self, out: &mut String) -> Result<(), MtfError>;
}

/// CPython's default `sys.get_int_max_str_digits()` (since 3.10.7, so also in the reference's
/// Python 3.10.16): `str()` of an int with more decimal digits raises ValueError.
pub(crate) const MAX_STR_DIGITS: usize = 4300;

impl Tick for u64 {
    fn zero() -> Self {
        0
    }

    fn from_vlq(bytes: &[u8]) -> Option<Self> {
        let mut value: u64 = 0;
        for &b in bytes {
            if value >> 57 != 0 {
                return None;
            }
            value = (value << 7) | u64::from(b & 0x7f);
        }
        Some(value)
    }

    fn checked_add(&self, other: &Self) -> Option<Self> {
        u64::checked_add(*self, *other)
    }

    fn sub_le(&self, other: &Self) -> Self {
        self.saturating_sub(*other)
    }

    fn is_zero(&self) -> bool {
        *self == 0
    }

    fn push_decimal(&self, out: &mut String) -> Result<(), MtfError> {
        push_u64(out, *self);
        Ok(())
    }
}

/// Append the decimal digits of `n`.
pub(crate) fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        // `n % 10` is below 10, so the cast cannot truncate.
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &buf[i..] {
        out.push(char::from(d));
    }
}

/// An arbitrary-precision unsigned integer: little-endian base-2^32 limbs, no trailing zero
/// limbs (so zero is the empty vector and equal values have equal limbs).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct BigTicks {
    limbs: Vec<u32>,
}

impl BigTicks {
    /// `2**exp`.
    pub(crate) fn pow2(exp: u32) -> Self {
        let mut limbs = vec![0u32; (exp / 32) as usize];
        limbs.push(1u32 << (exp % 32));
        BigTicks { limbs }
    }

    fn trim(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }

    /// Divide in place by `d` (non-zero), returning the remainder.
    fn div_rem_small(&mut self, d: u32) -> u32 {
        let mut rem: u64 = 0;
        for limb in self.limbs.iter_mut().rev() {
            let cur = (rem << 32) | u64::from(*limb);
            *limb = (cur / u64::from(d)) as u32; // quotient digit < 2^32 since rem < d
            rem = cur % u64::from(d);
        }
        self.trim();
        rem as u32 // rem < d
    }
}

impl Ord for BigTicks {
    fn cmp(&self, other: &Self) -> Ordering {
        self.limbs
            .len()
            .cmp(&other.limbs.len())
            .then_with(|| self.limbs.iter().rev().cmp(other.limbs.iter().rev()))
    }
}

impl PartialOrd for BigTicks {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Tick for BigTicks {
    fn zero() -> Self {
        BigTicks::default()
    }

    fn from_vlq(bytes: &[u8]) -> Option<Self> {
        // Place each 7-bit group at its bit offset, counted from the last byte: linear time,
        // where shifting the whole number for every byte would be quadratic.
        let mut limbs = vec![0u32; (bytes.len() * 7).div_ceil(32) + 1];
        for (k, &b) in bytes.iter().rev().enumerate() {
            let bit = k * 7;
            let v = u64::from(b & 0x7f) << (bit % 32);
            if let Some(l) = limbs.get_mut(bit / 32) {
                *l |= v as u32; // low 32 bits
            }
            if let Some(l) = limbs.get_mut(bit / 32 + 1) {
                *l |= (v >> 32) as u32;
            }
        }
        let mut r = BigTicks { limbs };
        r.trim();
        Some(r)
    }

    fn checked_add(&self, other: &Self) -> Option<Self> {
        let (long, short) = if self.limbs.len() >= other.limbs.len() {
            (self, other)
        } else {
            (other, self)
        };
        let mut limbs = Vec::with_capacity(long.limbs.len() + 1);
        let mut carry = 0u64;
        for (i, &a) in long.limbs.iter().enumerate() {
            let b = short.limbs.get(i).copied().unwrap_or(0);
            let s = u64::from(a) + u64::from(b) + carry;
            limbs.push(s as u32); // low 32 bits
            carry = s >> 32;
        }
        if carry != 0 {
            limbs.push(carry as u32);
        }
        Some(BigTicks { limbs })
    }

    fn sub_le(&self, other: &Self) -> Self {
        let mut limbs = Vec::with_capacity(self.limbs.len());
        let mut borrow = 0i64;
        for (i, &a) in self.limbs.iter().enumerate() {
            let b = other.limbs.get(i).copied().unwrap_or(0);
            let mut d = i64::from(a) - i64::from(b) - borrow;
            if d < 0 {
                d += 1 << 32;
                borrow = 1;
            } else {
                borrow = 0;
            }
            limbs.push(d as u32); // 0 <= d < 2^32
        }
        let mut r = BigTicks { limbs };
        r.trim();
        r
    }

    fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    fn push_decimal(&self, out: &mut String) -> Result<(), MtfError> {
        const CHUNK: u32 = 1_000_000_000;
        if self.limbs.len() <= 2 {
            let lo = self.limbs.first().copied().unwrap_or(0);
            let hi = self.limbs.get(1).copied().unwrap_or(0);
            push_u64(out, (u64::from(hi) << 32) | u64::from(lo));
            return Ok(());
        }
        // 2**14300 already has 4305 digits: refuse longer numbers without converting them.
        let bits =
            self.limbs.len() * 32 - self.limbs.last().map_or(32, |l| l.leading_zeros() as usize);
        if bits > 14300 {
            return Err(MtfError::IntegerTooLong {
                limit: MAX_STR_DIGITS,
            });
        }
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.div_rem_small(CHUNK));
        }
        let mut digits = String::with_capacity(chunks.len() * 9);
        let mut iter = chunks.iter().rev();
        if let Some(&first) = iter.next() {
            push_u64(&mut digits, u64::from(first));
        }
        for &c in iter {
            let mut s = String::with_capacity(9);
            push_u64(&mut s, u64::from(c));
            for _ in s.len()..9 {
                digits.push('0');
            }
            digits.push_str(&s);
        }
        if digits.len() > MAX_STR_DIGITS {
            return Err(MtfError::IntegerTooLong {
                limit: MAX_STR_DIGITS,
            });
        }
        out.push_str(&digits);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec<T: Tick>(t: &T) -> String {
        let mut s = String::new();
        if let Err(e) = t.push_decimal(&mut s) {
            return e.to_string();
        }
        s
    }

    fn vlq(mut n: u128) -> Vec<u8> {
        let mut out = vec![(n & 0x7f) as u8];
        n >>= 7;
        while n != 0 {
            out.push(0x80 | (n & 0x7f) as u8);
            n >>= 7;
        }
        out.reverse();
        out
    }

    #[test]
    fn u64_vlq_and_overflow() {
        assert_eq!(u64::from_vlq(&[0x81, 0x00]), Some(128));
        assert_eq!(
            u64::from_vlq(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x05]),
            Some(5)
        );
        assert_eq!(u64::from_vlq(&vlq(u128::from(u64::MAX))), Some(u64::MAX));
        assert_eq!(u64::from_vlq(&vlq(u128::from(u64::MAX) + 1)), None);
    }

    #[test]
    fn big_matches_u128() {
        let values: [u128; 6] = [0, 1, 127, u128::from(u64::MAX), 1 << 70, u128::MAX / 3];
        for &a in &values {
            let ba = BigTicks::from_vlq(&vlq(a)).unwrap_or_default();
            assert_eq!(dec(&ba), a.to_string());
            for &b in &values {
                let bb = BigTicks::from_vlq(&vlq(b)).unwrap_or_default();
                assert_eq!(ba.cmp(&bb), a.cmp(&b), "{a} vs {b}");
                if let Some(s) = a.checked_add(b) {
                    let bs = ba.checked_add(&bb).unwrap_or_default();
                    assert_eq!(dec(&bs), s.to_string());
                }
                if a >= b {
                    assert_eq!(dec(&ba.sub_le(&bb)), (a - b).to_string());
                }
            }
        }
    }

    #[test]
    fn pow2_decimal() {
        // 2**255, as Python prints it.
        assert_eq!(
            dec(&BigTicks::pow2(255)),
            "57896044618658097711785492504343953926634992332820282019728792003956564819968"
        );
        assert_eq!(dec(&BigTicks::pow2(64)), "18446744073709551616");
        assert_eq!(dec(&BigTicks::pow2(0)), "1");
        assert_eq!(dec(&BigTicks::zero()), "0");
    }

    #[test]
    fn python_int_max_str_digits() {
        // 10**4299 has 4300 digits (allowed), 10**4300 has 4301 (refused by str()).
        let mut ten_pow = BigTicks::pow2(0);
        for _ in 0..4299 {
            let twice = ten_pow.checked_add(&ten_pow).unwrap_or_default();
            let four = twice.checked_add(&twice).unwrap_or_default();
            let eight = four.checked_add(&four).unwrap_or_default();
            ten_pow = eight.checked_add(&twice).unwrap_or_default();
        }
        let s = dec(&ten_pow);
        assert_eq!(s.len(), 4300);
        assert!(s.starts_with('1') && s[1..].bytes().all(|b| b == b'0'));
        let next = {
            let twice = ten_pow.checked_add(&ten_pow).unwrap_or_default();
            let eight = twice
                .checked_add(&twice)
                .and_then(|f| f.checked_add(&f))
                .unwrap_or_default();
            eight.checked_add(&twice).unwrap_or_default()
        };
        let mut out = String::new();
        assert_eq!(
            next.push_decimal(&mut out),
            Err(MtfError::IntegerTooLong { limit: 4300 })
        );
        assert!(out.is_empty());
        let mut out = String::new();
        assert!(BigTicks::pow2(20000).push_decimal(&mut out).is_err());
    }
}
