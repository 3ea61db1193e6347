//! Money as an integer number of minor units (cents) plus an ISO 4217 currency. No floats.

use std::fmt;

use serde::{Serialize, Serializer};

use super::ValidationError;

/// Active ISO 4217 alphabetic codes.
const ISO_4217: &str = "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL \
BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP \
GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF \
KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN \
NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD \
SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND \
VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG";

/// The largest amount a price or an order total may reach, in minor units (one trillion).
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// An ISO 4217 currency code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let code = raw.trim();
        let known = code.len() == 3
            && code.bytes().all(|b| b.is_ascii_uppercase())
            && ISO_4217.split_ascii_whitespace().any(|known| known == code);
        if !known {
            return Err(ValidationError::new(
                "currency",
                "must be an ISO 4217 code in upper case, such as EUR or USD",
            ));
        }
        let bytes = code.as_bytes();
        Ok(Self([bytes[0], bytes[1], bytes[2]]))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A non-negative amount in minor units, at most [`MAX_AMOUNT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Amount(i64);

impl Amount {
    pub const ZERO: Self = Self(0);

    pub fn new(field: &'static str, minor_units: i64) -> Result<Self, ValidationError> {
        if minor_units < 0 {
            return Err(ValidationError::new(field, "must not be negative"));
        }
        if minor_units > MAX_AMOUNT {
            return Err(ValidationError::new(
                field,
                format!("must be at most {MAX_AMOUNT}"),
            ));
        }
        Ok(Self(minor_units))
    }

    pub fn minor_units(self) -> i64 {
        self.0
    }

    /// `self × quantity`, or `None` past [`MAX_AMOUNT`].
    pub fn times(self, quantity: Quantity) -> Option<Self> {
        self.0
            .checked_mul(i64::from(quantity.get()))
            .filter(|total| *total <= MAX_AMOUNT)
            .map(Self)
    }

    /// `self + other`, or `None` past [`MAX_AMOUNT`].
    pub fn plus(self, other: Self) -> Option<Self> {
        self.0
            .checked_add(other.0)
            .filter(|total| *total <= MAX_AMOUNT)
            .map(Self)
    }
}

/// How many units of a product an order line holds: 1 to 10,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Quantity(u32);

impl Quantity {
    pub const MAX: i64 = 10_000;

    pub fn new(raw: i64) -> Result<Self, ValidationError> {
        if !(1..=Self::MAX).contains(&raw) {
            return Err(ValidationError::new(
                "quantity",
                format!("must be between 1 and {}", Self::MAX),
            ));
        }
        Ok(Self(raw as u32))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_iso_codes() {
        assert_eq!(Currency::parse("EUR").unwrap().as_str(), "EUR");
        for bad in ["eur", "EURO", "ABC", "", "E#R"] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amounts_are_bounded_and_arithmetic_is_checked() {
        assert!(Amount::new("price", -1).is_err());
        assert!(Amount::new("price", MAX_AMOUNT + 1).is_err());
        let price = Amount::new("price", MAX_AMOUNT / 2).unwrap();
        assert_eq!(
            price
                .times(Quantity::new(2).unwrap())
                .map(Amount::minor_units),
            Some(MAX_AMOUNT)
        );
        assert_eq!(price.times(Quantity::new(3).unwrap()), None);
        assert_eq!(price.plus(price).map(Amount::minor_units), Some(MAX_AMOUNT));
        assert_eq!(
            Amount::new("price", MAX_AMOUNT)
                .unwrap()
                .plus(Amount::new("price", 1).unwrap()),
            None
        );
    }

    #[test]
    fn quantities_are_positive_and_bounded() {
        assert!(Quantity::new(0).is_err());
        assert!(Quantity::new(-3).is_err());
        assert!(Quantity::new(10_001).is_err());
        assert_eq!(Quantity::new(7).unwrap().get(), 7);
    }
}
