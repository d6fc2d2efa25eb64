//! `resource.Quantity`: parsing, the canonical form a real server stores, and comparison.
//!
//! Follows k8s.io/apimachinery pkg/api/resource/quantity.go (`parseQuantityString`,
//! `ParseQuantity`, `CanonicalizeBytes`) and amount.go (`AsCanonicalBytes`) at v0.37.0-beta.0:
//! values are kept exactly (rounded up to nano units), DecimalSI and DecimalExponent values are
//! written with an exponent that is a multiple of 3 and no trailing zeros ("0.5" → "500m",
//! "1000m" → "1"), BinarySI values with the largest power of 1024 that divides them exactly
//! ("1024Mi" → "1Gi"), falling back to DecimalSI when that is not exact or the value is below 1024.
//! A string that is already in canonical form is kept as written, as the real parser does.

use std::cmp::Ordering;

/// The regular expression the real error message quotes (quantity.go `splitREString`).
pub const FORMAT_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const SUFFIX_ERROR: &str = "unable to parse quantity's suffix";
const NUMERIC_ERROR: &str = "unable to parse numeric part of quantity";

/// How a quantity is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    DecimalSi,
    BinarySi,
    DecimalExponent,
}

/// A parsed quantity: `mantissa × 10^exponent`, exact.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    negative: bool,
    mantissa: u128,
    exponent: i32,
    format: Format,
    /// The input string when it was already canonical (quantity.go reuses it).
    kept: Option<String>,
}

struct Scanned<'a> {
    positive: bool,
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

/// quantity.go `parseQuantityString`.
fn scan(text: &str) -> Result<Scanned<'_>, &'static str> {
    let bytes = text.as_bytes();
    let end = bytes.len();
    let mut positive = true;
    let mut pos = 0;
    if pos < end {
        match bytes[0] {
            b'-' => {
                positive = false;
                pos += 1;
            }
            b'+' => pos += 1,
            _ => {}
        }
    }
    while pos < end && bytes[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return Ok(Scanned {
            positive,
            num: "0",
            denom: "",
            suffix: "",
        });
    }
    let num_start = pos;
    while pos < end && bytes[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos >= end {
        return Ok(Scanned {
            positive,
            num: &text[num_start..],
            denom: "",
            suffix: "",
        });
    }
    let num = if pos == num_start {
        "0"
    } else {
        &text[num_start..pos]
    };
    let mut denom = "";
    if bytes[pos] == b'.' {
        pos += 1;
        let denom_start = pos;
        while pos < end && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &text[denom_start..pos];
        if pos >= end {
            return Ok(Scanned {
                positive,
                num,
                denom,
                suffix: "",
            });
        }
    }
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&bytes[pos]) {
        pos += 1;
    }
    if pos < end && (bytes[pos] == b'-' || bytes[pos] == b'+') {
        pos += 1;
    }
    while pos < end && bytes[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(FORMAT_ERROR);
    }
    Ok(Scanned {
        positive,
        num,
        denom,
        suffix: &text[suffix_start..],
    })
}

/// suffix.go `interpret`: base, exponent and format of a suffix.
fn interpret(suffix: &str) -> Option<(u32, i32, Format)> {
    let decimal = |e| Some((10, e, Format::DecimalSi));
    let binary = |e| Some((2, e, Format::BinarySi));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        s if s.len() > 1 && (s.starts_with('e') || s.starts_with('E')) => s[1..]
            .parse::<i32>()
            .ok()
            .map(|e| (10, e, Format::DecimalExponent)),
        _ => None,
    }
}

fn pow10(n: u32) -> Option<u128> {
    10u128.checked_pow(n)
}

impl Quantity {
    /// quantity.go `ParseQuantity`.
    pub fn parse(text: &str) -> Result<Quantity, &'static str> {
        if text.is_empty() {
            return Err(FORMAT_ERROR);
        }
        if text == "0" {
            return Ok(Quantity {
                negative: false,
                mantissa: 0,
                exponent: 0,
                format: Format::DecimalSi,
                kept: Some("0".into()),
            });
        }
        let scanned = scan(text)?;
        let (base, exponent, format) = interpret(scanned.suffix).ok_or(SUFFIX_ERROR)?;
        let digits = format!("{}{}", scanned.num, scanned.denom);
        let digits = digits.trim_start_matches('0');
        let mut mantissa: u128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| NUMERIC_ERROR)?
        };
        let mut exp10 = -(scanned.denom.len() as i32);
        if base == 10 {
            exp10 += exponent;
        } else {
            mantissa = mantissa
                .checked_mul(1u128 << exponent)
                .ok_or(NUMERIC_ERROR)?;
        }
        // Round up to nano units (inf.RoundUp, away from zero).
        if exp10 < -9 && mantissa != 0 {
            let drop = (-9 - exp10) as u32;
            let divisor = pow10(drop).ok_or(NUMERIC_ERROR)?;
            let rounded = mantissa / divisor + u128::from(!mantissa.is_multiple_of(divisor));
            mantissa = rounded;
            exp10 = -9;
        }
        let mut format = format;
        let one = Quantity {
            negative: false,
            mantissa: 1,
            exponent: 0,
            format,
            kept: None,
        };
        let magnitude = Quantity {
            negative: false,
            mantissa,
            exponent: exp10,
            format,
            kept: None,
        };
        if format == Format::BinarySi && mantissa != 0 && magnitude.cmp(&one) == Ordering::Less {
            format = Format::DecimalSi;
        }
        let kept = canonical_as_written(&scanned, text, exponent, format, base);
        Ok(Quantity {
            negative: !scanned.positive && mantissa != 0,
            mantissa,
            exponent: exp10,
            format,
            kept,
        })
    }

    /// Whether the quantity is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative && self.mantissa != 0
    }

    /// Whether the value is a whole number.
    pub fn is_integer(&self) -> bool {
        if self.exponent >= 0 || self.mantissa == 0 {
            return true;
        }
        pow10((-self.exponent) as u32).is_none_or(|d| self.mantissa.is_multiple_of(d))
    }

    /// The canonical string, as the real server stores it (`Quantity.String`).
    pub fn canonical(&self) -> String {
        if let Some(kept) = &self.kept {
            return kept.clone();
        }
        if self.mantissa == 0 {
            return "0".into();
        }
        let sign = if self.negative { "-" } else { "" };
        let mut format = self.format;
        if format == Format::BinarySi {
            let small = self.to_integer_floor().is_some_and(|w| w < 1024);
            if small || !self.is_integer() {
                format = Format::DecimalSi;
            }
        }
        match format {
            Format::BinarySi => {
                let mut value = self.to_integer_floor().unwrap_or(u128::MAX);
                let mut power = 0;
                while value.is_multiple_of(1024) && power < 6 {
                    value /= 1024;
                    power += 1;
                }
                let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
                format!("{sign}{value}{suffix}")
            }
            Format::DecimalSi | Format::DecimalExponent => {
                let mut mantissa = self.mantissa;
                let mut exponent = self.exponent;
                while mantissa.is_multiple_of(10) {
                    mantissa /= 10;
                    exponent += 1;
                }
                while exponent.rem_euclid(3) != 0 {
                    mantissa *= 10;
                    exponent -= 1;
                }
                if format == Format::DecimalExponent {
                    if exponent == 0 {
                        return format!("{sign}{mantissa}");
                    }
                    return format!("{sign}{mantissa}e{exponent}");
                }
                // Past E or below n there is no suffix: keep the digits in the mantissa.
                while exponent > 18 {
                    mantissa *= 1000;
                    exponent -= 3;
                }
                let suffix = match exponent {
                    -9 => "n",
                    -6 => "u",
                    -3 => "m",
                    0 => "",
                    3 => "k",
                    6 => "M",
                    9 => "G",
                    12 => "T",
                    15 => "P",
                    _ => "E",
                };
                format!("{sign}{mantissa}{suffix}")
            }
        }
    }

    fn to_integer_floor(&self) -> Option<u128> {
        if self.exponent >= 0 {
            self.mantissa.checked_mul(pow10(self.exponent as u32)?)
        } else {
            Some(self.mantissa / pow10((-self.exponent) as u32)?)
        }
    }

    /// Compares two quantities by value.
    pub fn cmp(&self, other: &Quantity) -> Ordering {
        let sign = |q: &Quantity| {
            if q.mantissa == 0 {
                0
            } else if q.negative {
                -1
            } else {
                1
            }
        };
        let (a, b) = (sign(self), sign(other));
        if a != b {
            return a.cmp(&b);
        }
        let exponent = self.exponent.min(other.exponent);
        let scaled = |q: &Quantity| {
            pow10((q.exponent - exponent) as u32).and_then(|f| q.mantissa.checked_mul(f))
        };
        let magnitude = match (scaled(self), scaled(other)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (None, None) => Ordering::Equal,
        };
        if a < 0 {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

/// quantity.go keeps the input string when it is already canonical: DecimalSI/Exponent with a
/// scale that is a multiple of 3, no trailing "000" and no leading zero; BinarySI with an exponent
/// that is a multiple of 10 and a value not divisible by 8.
fn canonical_as_written(
    scanned: &Scanned<'_>,
    text: &str,
    exponent: i32,
    format: Format,
    base: u32,
) -> Option<String> {
    let shifted = format!("{}{}", scanned.num, scanned.denom);
    let value: i64 = shifted.parse().ok()?;
    // The fast path in ParseQuantity only applies to values that fit the int64 amount.
    let digits = scanned.num.len() + scanned.denom.len();
    match format {
        Format::BinarySi if base == 2 => {
            if !scanned.denom.is_empty() || exponent < 0 {
                return None;
            }
            let precision =
                15 - scanned.num.len() as i32 - (exponent as f32 * 3.0 / 10.0) as i32 - 1;
            if precision < 0 {
                return None;
            }
            (exponent % 10 == 0 && value & 0x07 != 0).then(|| text.to_string())
        }
        Format::BinarySi => None,
        _ => {
            if 18 - (digits as i32) < 0 {
                return None;
            }
            let scale = exponent - scanned.denom.len() as i32;
            if scale < -9 {
                return None;
            }
            (scale % 3 == 0 && !shifted.ends_with("000") && !shifted.starts_with('0'))
                .then(|| text.to_string())
        }
    }
}

/// The text a JSON value gives a Quantity's UnmarshalJSON: strings as they are, numbers as
/// written. Anything else is not a quantity.
pub fn from_json(value: &serde_json::Value) -> Result<Quantity, &'static str> {
    match value {
        serde_json::Value::String(text) => Quantity::parse(text.trim()),
        serde_json::Value::Number(number) => Quantity::parse(&number.to_string()),
        _ => Err(FORMAT_ERROR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> String {
        Quantity::parse(text)
            .map(|q| q.canonical())
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn canonical_forms_match_the_real_server() {
        assert_eq!(canonical("0.5"), "500m");
        assert_eq!(canonical("1024Mi"), "1Gi");
        assert_eq!(canonical("1000m"), "1");
        assert_eq!(canonical("1500m"), "1500m");
        assert_eq!(canonical("250m"), "250m");
        assert_eq!(canonical("2"), "2");
        assert_eq!(canonical("2000"), "2k");
        assert_eq!(canonical("1536Mi"), "1536Mi");
        assert_eq!(canonical("0.5Gi"), "512Mi");
        assert_eq!(canonical("512Mi"), "512Mi");
        assert_eq!(canonical("8Gi"), "8Gi");
        assert_eq!(canonical("1e3"), "1e3");
        assert_eq!(canonical("1e4"), "10e3");
        assert_eq!(canonical("0.1Ki"), "102400m");
        assert_eq!(canonical("1n"), "1n");
        assert_eq!(canonical("0.0000000001"), "1n");
        assert_eq!(canonical("-1"), "-1");
        assert_eq!(canonical("100M"), "100M");
        assert_eq!(canonical("1000M"), "1G");
    }

    #[test]
    fn malformed_quantities_are_refused_with_the_real_message() {
        assert_eq!(canonical("abc"), FORMAT_ERROR);
        assert_eq!(canonical("1x"), FORMAT_ERROR);
        assert_eq!(canonical("1Kb"), FORMAT_ERROR);
        assert_eq!(canonical("1Ki2"), SUFFIX_ERROR);
        assert_eq!(canonical(""), FORMAT_ERROR);
    }

    #[test]
    fn comparison_is_by_value() {
        let q = |s| Quantity::parse(s).expect("quantity");
        assert_eq!(q("500m").cmp(&q("0.5")), Ordering::Equal);
        assert_eq!(q("1Gi").cmp(&q("1G")), Ordering::Greater);
        assert_eq!(q("2").cmp(&q("4")), Ordering::Less);
        assert_eq!(q("-1").cmp(&q("0")), Ordering::Less);
    }
}
