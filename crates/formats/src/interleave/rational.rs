//! Exact rationals with Python `fractions.Fraction` semantics (unbounded, always reduced),
//! kept in `i64` while they fit: bar durations are small, and big rationals on every note made
//! the alignment check the slowest step.
//!
//! Big values are reduced with Lehmer's gcd (as CPython's `math.gcd` does): the binary gcd
//! behind `num-rational` is quadratic with a large constant, which made inputs with
//! thousand-digit note lengths many times slower than the reference.

use num_bigint::{BigInt, BigUint, Sign};
use num_traits::{One, Signed, ToPrimitive, Zero};

/// A rational number in lowest terms with a positive denominator.
#[derive(Debug, Clone)]
pub(crate) enum Rational {
    /// `numerator / denominator`, reduced, denominator > 0.
    Small(i64, i64),
    /// `numerator / denominator`, reduced, denominator > 0, not representable as `Small`.
    Big(BigInt, BigInt),
}

fn gcd_u128(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `(v >> shift) as u64` for a `v` with at most `shift + 64` bits, without shifting all of `v`.
fn top_bits(v: &BigUint, shift: u64) -> u64 {
    let digits = v.to_u64_digits();
    let (word, bit) = ((shift / 64) as usize, (shift % 64) as u32);
    let lo = digits.get(word).copied().unwrap_or(0) >> bit;
    let hi = match (bit, digits.get(word + 1)) {
        (0, _) | (_, None) => 0,
        (b, Some(&h)) => h << (64 - b),
    };
    lo | hi
}

/// Greatest common divisor of two big naturals: Lehmer's algorithm (Knuth, TAOCP vol. 2,
/// 4.5.2, Algorithm L) with 64-bit leading digits, finished in machine words.
pub(crate) fn gcd_big(a: &BigUint, b: &BigUint) -> BigUint {
    let (mut a, mut b) = if a >= b {
        (a.clone(), b.clone())
    } else {
        (b.clone(), a.clone())
    };
    while b.bits() > 64 {
        // leading 64 bits of a, and the bits of b at the same positions
        let shift = a.bits() - 64;
        let mut x = top_bits(&a, shift) as i128;
        let mut y = top_bits(&b, shift) as i128;
        let (mut ca, mut cb, mut cc, mut cd) = (1i128, 0i128, 0i128, 1i128);
        // every |coefficient| stays below 2^64 and |q * coefficient| below 2^65: no overflow
        while y + cc != 0 && y + cd != 0 {
            let q = (x + ca) / (y + cc);
            if q != (x + cb) / (y + cd) {
                break;
            }
            (ca, cc) = (cc, ca - q * cc);
            (cb, cd) = (cd, cb - q * cd);
            (x, y) = (y, x - q * y);
        }
        if cb == 0 {
            let r = &a % &b;
            a = b;
            b = r;
        } else {
            let ai = BigInt::from_biguint(Sign::Plus, a);
            let bi = BigInt::from_biguint(Sign::Plus, b);
            let na = &ai * ca + &bi * cb;
            let nb = &ai * cc + &bi * cd;
            // Algorithm L keeps both non-negative
            a = na.magnitude().clone();
            b = nb.magnitude().clone();
        }
    }
    let Some(small) = b.to_u64() else {
        return a; // unreachable: b has at most 64 bits here
    };
    if small == 0 {
        return a;
    }
    let r = (&a % small).to_u64().unwrap_or(0);
    BigUint::from(gcd_u128(small as u128, r as u128))
}

/// `math.gcd` of two big integers (non-negative result; gcd(0, 0) = 0).
fn gcd_int(a: &BigInt, b: &BigInt) -> BigInt {
    if let (Some(x), Some(y)) = (a.to_i128(), b.to_i128()) {
        return BigInt::from(gcd_u128(x.unsigned_abs(), y.unsigned_abs()));
    }
    BigInt::from(gcd_big(a.magnitude(), b.magnitude()))
}

impl Rational {
    /// The integer `v`.
    pub(crate) fn int(v: i64) -> Self {
        Rational::Small(v, 1)
    }

    /// `n / d` (`d` != 0), reduced.
    pub(crate) fn ratio(n: i64, d: i64) -> Self {
        Self::from_i128(n as i128, d as i128)
    }

    /// `n / d` (`d` != 0) from 128-bit parts, reduced, small when it fits.
    fn from_i128(n: i128, d: i128) -> Self {
        let g = gcd_u128(n.unsigned_abs(), d.unsigned_abs()) as i128; // d != 0 so g > 0
        let (mut n, mut d) = (n / g, d / g);
        if d < 0 {
            n = -n;
            d = -d;
        }
        match (i64::try_from(n), i64::try_from(d)) {
            (Ok(n), Ok(d)) => Rational::Small(n, d),
            _ => Rational::Big(BigInt::from(n), BigInt::from(d)),
        }
    }

    /// `n / d` (`d` != 0), reduced, small when it fits.
    pub(crate) fn from_big(n: BigInt, d: BigInt) -> Self {
        if let (Some(n), Some(d)) = (n.to_i128(), d.to_i128()) {
            return Self::from_i128(n, d);
        }
        let (mut n, mut d) = if d.is_one() {
            (n, d)
        } else {
            let g = gcd_int(&n, &d);
            (n / &g, d / g)
        };
        if d.is_negative() {
            n = -n;
            d = -d;
        }
        match (n.to_i64(), d.to_i64()) {
            (Some(n), Some(d)) => Rational::Small(n, d),
            _ => Rational::Big(n, d),
        }
    }

    /// `n / d` already in lowest terms with `d` > 0: the small form when it fits.
    fn canonical(n: BigInt, d: BigInt) -> Self {
        match (n.to_i64(), d.to_i64()) {
            (Some(a), Some(b)) => Rational::Small(a, b),
            _ => Rational::Big(n, d),
        }
    }

    /// Numerator and denominator as big integers.
    fn parts(&self) -> (BigInt, BigInt) {
        match self {
            Rational::Small(n, d) => (BigInt::from(*n), BigInt::from(*d)),
            Rational::Big(n, d) => (n.clone(), d.clone()),
        }
    }

    /// `self + other`.
    pub(crate) fn add(&self, other: &Rational) -> Rational {
        match (self, other) {
            (Rational::Small(a, b), Rational::Small(c, d)) => {
                let (a, b, c, d) = (*a as i128, *b as i128, *c as i128, *d as i128);
                // |a*d|, |c*b| < 2^126: the sum fits i128
                Self::from_i128(a * d + c * b, b * d)
            }
            _ => {
                // CPython 3.11 `Fraction._add` (Henrici): only gcds of denominators, and the
                // result is already in lowest terms
                let ((na, da), (nb, db)) = (self.parts(), other.parts());
                let g = gcd_int(&da, &db);
                if g.is_one() {
                    return Self::canonical(na * &db + &da * nb, da * db);
                }
                let s = &da / &g;
                let t = na * (&db / &g) + nb * &s;
                let g2 = gcd_int(&t, &g);
                if g2.is_one() {
                    Self::canonical(t, s * db)
                } else {
                    Self::canonical(t / &g2, s * (db / g2))
                }
            }
        }
    }

    /// `self * other`.
    pub(crate) fn mul(&self, other: &Rational) -> Rational {
        match (self, other) {
            (Rational::Small(a, b), Rational::Small(c, d)) => {
                Self::from_i128(*a as i128 * *c as i128, *b as i128 * *d as i128)
            }
            _ => {
                // CPython 3.11 `Fraction._mul`: cross-cancel, then the product is reduced
                let ((mut na, mut da), (mut nb, mut db)) = (self.parts(), other.parts());
                let g1 = gcd_int(&na, &db);
                if !g1.is_one() {
                    na /= &g1;
                    db /= &g1;
                }
                let g2 = gcd_int(&nb, &da);
                if !g2.is_one() {
                    nb /= &g2;
                    da /= &g2;
                }
                Self::canonical(na * nb, db * da)
            }
        }
    }

    /// `round_fraction` of abctoolkit: `nearest = round(float(f))` (CPython: correctly
    /// rounded true division, then round-half-even), returned when `|f - nearest| <= 1/64`.
    /// `Err` is the message of the `OverflowError` that `float()` raises for huge values.
    pub(crate) fn round_fraction(&self) -> Result<Rational, &'static str> {
        const EXACT: i64 = 1 << 53;
        if let Rational::Small(n, d) = *self {
            if n.abs() <= EXACT && d <= EXACT {
                // both convert to double exactly: CPython divides the doubles (one rounding)
                let nearest = (n as f64 / d as f64).round_ties_even() as i64;
                let diff = (n as i128 - nearest as i128 * d as i128).abs();
                return Ok(if 64 * diff <= d as i128 {
                    Rational::int(nearest)
                } else {
                    self.clone()
                });
            }
        }
        let (n, d) = self.parts();
        let x = py_float(&n, &d)?;
        let nearest: BigInt =
            num_traits::FromPrimitive::from_f64(x.round_ties_even()).unwrap_or_default();
        // |n/d - nearest| <= 1/64  <=>  64 * |n - nearest * d| <= d   (d > 0)
        let diff = (&n - &nearest * &d).abs();
        Ok(if diff * 64u32 <= d {
            Self::from_big(nearest, BigInt::one())
        } else {
            self.clone()
        })
    }
}

impl PartialEq for Rational {
    fn eq(&self, other: &Self) -> bool {
        // both reduced with positive denominators: equal values have equal parts, and a
        // value that fits `Small` is never `Big`
        match (self, other) {
            (Rational::Small(a, b), Rational::Small(c, d)) => a == c && b == d,
            (Rational::Big(a, b), Rational::Big(c, d)) => a == c && b == d,
            _ => false,
        }
    }
}

pub(crate) const FLOAT_OVERFLOW: &str = "integer division result too large for a float";

/// `float(Fraction)` = `numerator / denominator` (CPython's correctly rounded integer true
/// division, `OverflowError` when the result is too large), for `d` > 0. Results below the
/// normal range (|x| < 2^-1022) are returned as 0.0: they only feed `round()`, which gives 0
/// either way.
pub(crate) fn py_float(n: &BigInt, d: &BigInt) -> Result<f64, &'static str> {
    if n.is_zero() {
        return Ok(0.0);
    }
    let negative = n.is_negative() != d.is_negative();
    let a: BigUint = n.magnitude().clone();
    let b: BigUint = d.magnitude().clone();
    let e = a.bits() as i64 - b.bits() as i64; // a/b lies in (2^(e-1), 2^(e+1))
    let shift = 55 - e; // the quotient gets 55 or 56 bits
    let (num, den) = if shift >= 0 {
        (a << (shift as u64), b)
    } else {
        (a, b << ((-shift) as u64))
    };
    let q = &num / &den;
    let sticky = !(num - &q * &den).is_zero();
    let qbits = q.bits() as i64;
    let mut top = qbits - 1 - shift; // binary exponent of the leading bit
    if top > 1023 {
        return Err(FLOAT_OVERFLOW);
    }
    if top < -1022 {
        return Ok(if negative { -0.0 } else { 0.0 });
    }
    let drop = (qbits - 53) as u64; // 2 or 3 bits below the 53-bit mantissa
    let mut m = (&q >> drop).to_u64().unwrap_or(0);
    let rest = (&q - (BigUint::from(m) << drop)).to_u64().unwrap_or(0);
    let half = 1u64 << (drop - 1);
    if rest > half || (rest == half && (sticky || m & 1 == 1)) {
        m += 1;
    }
    if m == 1u64 << 53 {
        m >>= 1;
        top += 1;
        if top > 1023 {
            return Err(FLOAT_OVERFLOW);
        }
    }
    let bits = (((top + 1023) as u64) << 52) | (m & ((1u64 << 52) - 1));
    let x = f64::from_bits(bits);
    Ok(if negative { -x } else { x })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn euclid(a: &BigUint, b: &BigUint) -> BigUint {
        let (mut a, mut b) = (a.clone(), b.clone());
        while !b.is_zero() {
            let r = &a % &b;
            a = b;
            b = r;
        }
        a
    }

    fn q(n: i64, d: i64) -> Rational {
        Rational::ratio(n, d)
    }

    fn big(n: BigInt) -> (BigInt, BigInt) {
        (n, BigInt::one())
    }

    #[test]
    fn small_arithmetic_reduces_and_promotes() {
        assert_eq!(q(1, 2).add(&q(1, 3)), q(5, 6));
        assert_eq!(q(2, 4), Rational::Small(1, 2));
        assert_eq!(q(3, -6), Rational::Small(-1, 2));
        let big = Rational::int(i64::MAX).add(&Rational::int(1));
        assert!(matches!(big, Rational::Big(..)));
        assert_eq!(big.add(&Rational::int(-1)), Rational::Small(i64::MAX, 1));
        assert_eq!(q(2, 3).mul(&q(3, 2)), Rational::int(1));
        let t = BigInt::from(10).pow(40u32);
        let x = Rational::from_big(t.clone() * 6, t.clone() * 4);
        assert_eq!(x, q(3, 2));
        let y = Rational::from_big(BigInt::one(), t.clone());
        assert_eq!(
            y.add(&y).mul(&Rational::from_big(t, BigInt::from(2))),
            Rational::int(1)
        );
    }

    #[test]
    fn lehmer_gcd_agrees_with_euclid() {
        // deterministic xorshift; sizes from one to a few hundred limbs, with common factors
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let random = |limbs: usize, next: &mut dyn FnMut() -> u64| {
            let digits: Vec<u32> = (0..2 * limbs).map(|_| next() as u32).collect();
            BigUint::new(digits)
        };
        for round in 0..300 {
            let la = 1 + (next() % 40) as usize * (1 + round % 7);
            let lb = 1 + (next() % 40) as usize;
            let common = random(1 + (next() % 5) as usize, &mut next);
            let a = random(la, &mut next) * &common;
            let b = random(lb, &mut next) * &common;
            assert_eq!(gcd_big(&a, &b), euclid(&a, &b), "round {round}");
            assert_eq!(gcd_big(&b, &a), euclid(&a, &b));
        }
        let a = BigUint::from(10u32).pow(300u32);
        assert_eq!(gcd_big(&a, &BigUint::zero()), a);
        assert_eq!(gcd_big(&a, &BigUint::one()), BigUint::one());
        assert_eq!(gcd_big(&a, &(&a + 1u32)), BigUint::one());
    }

    #[test]
    fn big_add_and_mul_equal_full_reduction() {
        // Henrici's sum and the cross-cancelled product against reduce(plain formula)
        let mut s = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let three = BigInt::from(3);
        for round in 0..200u32 {
            let mut num = |scale: u32| {
                BigInt::from(next() % 1_000_003)
                    * three.pow(scale)
                    * BigInt::from(2).pow(round % 70)
                    + BigInt::from(next() % 7)
            };
            let one = BigInt::one();
            let (a, b, c, d): (BigInt, BigInt, BigInt, BigInt) =
                (num(40), num(41) + &one, -num(39), num(40) + &one);
            let x = Rational::from_big(a.clone(), b.clone());
            let y = Rational::from_big(c.clone(), d.clone());
            let sum = Rational::from_big(&a * &d + &c * &b, &b * &d);
            let product = Rational::from_big(&a * &c, &b * &d);
            assert_eq!(x.add(&y), sum, "round {round}");
            assert_eq!(x.mul(&y), product, "round {round}");
            assert_eq!(x.add(&x.mul(&Rational::int(-1))), Rational::int(0));
        }
    }

    #[test]
    fn round_fraction_like_python() {
        // round_fraction(Fraction(n, d)) in Python
        assert_eq!(q(127, 64).round_fraction(), Ok(Rational::int(2)));
        assert_eq!(q(125, 64).round_fraction(), Ok(q(125, 64)));
        assert_eq!(q(5, 2).round_fraction(), Ok(q(5, 2)));
        assert_eq!(q(-129, 64).round_fraction(), Ok(Rational::int(-2)));
        let huge = Rational::from_big(BigInt::from(10).pow(400u32), BigInt::from(3));
        assert_eq!(huge.round_fraction(), Err(FLOAT_OVERFLOW));
        // (2^60 * 64 + 1) / 64 is within 1/64 of 2^60: rounds to the integer
        let two60 = BigInt::from(2).pow(60u32);
        let near = Rational::from_big(&two60 * 64 * 1000 + 1, BigInt::from(64 * 1000));
        assert_eq!(
            near.round_fraction(),
            Ok(Rational::from_big(two60, BigInt::one()))
        );
    }

    #[test]
    fn float_conversion_is_correctly_rounded() {
        let f = |(n, d): (BigInt, BigInt)| py_float(&n, &d);
        assert_eq!(f(q(1, 3).parts()), Ok(1.0 / 3.0));
        assert_eq!(f(q(-7, 2).parts()), Ok(-3.5));
        let two = BigInt::from(2);
        assert_eq!(f(big(two.pow(1024u32))), Err(FLOAT_OVERFLOW));
        // 2^1024 - 2^970 rounds up to 2^1024 (overflow); one less rounds down to f64::MAX
        let edge = two.pow(1024u32) - two.pow(970u32);
        assert_eq!(f(big(edge.clone())), Err(FLOAT_OVERFLOW));
        assert_eq!(f(big(edge - 1)), Ok(f64::MAX));
        // ties go to even: 2^53 + 1 -> 2^53, 2^53 + 3 -> 2^53 + 4
        let two53 = two.pow(53u32);
        assert_eq!(f(big(&two53 + 1)), Ok(9007199254740992.0));
        assert_eq!(f(big(&two53 + 3)), Ok(9007199254740996.0));
        // big numerator and denominator: (10^30 + 1) / 10^30 is 1.0 after rounding
        let t = BigInt::from(10).pow(30u32);
        assert_eq!(f((&t + 1, t)), Ok(1.0));
    }
}
