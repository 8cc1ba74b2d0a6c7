//! Value checks for numeric flags: a bad value is refused when the arguments are parsed, with a
//! message naming the flag, instead of failing (or running nonsense) later.

/// A whole number of at least 1.
pub fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// A finite number above 0.
pub fn positive_f32(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        Ok(_) => Err("must be a finite number above 0".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// A share strictly between 0 and 1.
pub fn share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x < 1.0 => Ok(x),
        Ok(_) => Err("must be strictly between 0 and 1".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// A sample rate in Hz that audio tools accept (8 kHz to 192 kHz).
pub fn sample_rate(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(r) if (8_000..=192_000).contains(&r) => Ok(r),
        Ok(_) => Err("must be between 8000 and 192000 Hz".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_numbers_are_refused() {
        assert!(positive("0").is_err());
        assert!(positive("-1").is_err());
        assert_eq!(positive("3"), Ok(3));
        assert!(positive_f32("nan").is_err());
        assert!(positive_f32("inf").is_err());
        assert!(positive_f32("0").is_err());
        assert_eq!(positive_f32("0.001"), Ok(0.001));
        assert!(share("1.5").is_err());
        assert!(share("0").is_err());
        assert!(share("1").is_err());
        assert_eq!(share("0.2"), Ok(0.2));
        assert!(sample_rate("0").is_err());
    }
}
