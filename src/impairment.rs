//! The impairment of a link, as netem knows it (delay, jitter, loss,
//! duplication, corruption, reordering, a rate), and the units it is
//! written in: durations with decimals (`1.5ms`), percentages (`10%`) and
//! rates in tc's words (`10mbit`, `1mbps`). The lab file parses them, the
//! agent applies them, the report says them: so they belong to none of
//! those.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A share of packets, 0 to 100.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
pub struct Percent(pub f64);

impl Percent {
    /// netem's scale: 0 is none, `u32::MAX` is every packet.
    pub fn to_netem(self) -> u32 {
        let share = (self.0 / 100.0).clamp(0.0, 1.0);
        (share * f64::from(u32::MAX)).round() as u32
    }

    pub fn from_netem(v: u32) -> Percent {
        Percent(f64::from(v) / f64::from(u32::MAX) * 100.0)
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", trim_number(self.0, 3))
    }
}

/// A rate in bits per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Rate(pub u64);

impl Rate {
    pub fn bytes_per_second(self) -> u64 {
        self.0 / 8
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = self.0 as f64;
        let (value, unit) = if self.0 >= 1_000_000_000 {
            (bits / 1e9, "gbit")
        } else if self.0 >= 1_000_000 {
            (bits / 1e6, "mbit")
        } else if self.0 >= 1_000 {
            (bits / 1e3, "kbit")
        } else {
            (bits, "bit")
        };
        write!(f, "{}{unit}", trim_number(value, 3))
    }
}

/// What netem does to the packets a node sends on one network.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Impairment {
    #[serde(default, with = "opt_nanos")]
    pub delay: Option<Duration>,
    #[serde(default, with = "opt_nanos")]
    pub jitter: Option<Duration>,
    #[serde(default)]
    pub loss: Option<Percent>,
    #[serde(default)]
    pub duplicate: Option<Percent>,
    #[serde(default)]
    pub corrupt: Option<Percent>,
    #[serde(default)]
    pub reorder: Option<Percent>,
    #[serde(default)]
    pub rate: Option<Rate>,
}

impl Impairment {
    pub fn is_empty(&self) -> bool {
        *self == Impairment::default()
    }
}

impl fmt::Display for Impairment {
    /// tc's own words: `delay 100ms 5ms loss 10% rate 10mbit`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(d) = self.delay {
            match self.jitter {
                Some(j) => parts.push(format!(
                    "delay {} ± {}",
                    format_duration(d),
                    format_duration(j)
                )),
                None => parts.push(format!("delay {}", format_duration(d))),
            }
        }
        for (word, value) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("corrupt", self.corrupt),
            ("reorder", self.reorder),
        ] {
            if let Some(p) = value {
                parts.push(format!("{word} {p}"));
            }
        }
        if let Some(r) = self.rate {
            parts.push(format!("rate {r}"));
        }
        if parts.is_empty() {
            f.write_str("nothing")
        } else {
            f.write_str(&parts.join(" "))
        }
    }
}

/// `100ms`, `1.5ms`, `250us`, `2s`: a number (decimals allowed) and a unit
/// (`ns`, `us`/`µs`, `ms`, `s`, `m`); humantime's compound forms (`1m30s`)
/// too.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale = match unit.trim() {
        "ns" => Some(1e-9),
        "us" | "µs" => Some(1e-6),
        "ms" => Some(1e-3),
        "s" => Some(1.0),
        "m" | "min" => Some(60.0),
        _ => None,
    };
    if let (Ok(n), Some(scale)) = (number.parse::<f64>(), scale)
        && n.is_finite()
        && n >= 0.0
    {
        return Duration::try_from_secs_f64(n * scale).map_err(|e| format!("`{text}`: {e}"));
    }
    humantime::parse_duration(t)
        .map_err(|_| format!("`{text}` is not a duration (e.g. 100ms, 1.5ms, 250us, 2s)"))
}

/// `10%`, `0.5%`: a percentage from 0 to 100.
pub fn parse_percent(text: &str) -> Result<Percent, String> {
    let t = text.trim();
    let Some(number) = t.strip_suffix('%') else {
        return Err(format!("`{text}` is not a percentage (e.g. 10%, 0.5%)"));
    };
    match number.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && (0.0..=100.0).contains(&n) => Ok(Percent(n)),
        Ok(_) => Err(format!("`{text}` is not between 0% and 100%")),
        Err(_) => Err(format!("`{text}` is not a percentage (e.g. 10%, 0.5%)")),
    }
}

/// A rate in tc's words: `bit`, `kbit`, `mbit`, `gbit` (bits per second,
/// powers of 1000) or `bps`, `kbps`, `mbps`, `gbps` (bytes per second, as
/// tc reads them).
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let bits_per_unit = match unit.trim().to_ascii_lowercase().as_str() {
        "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        "bps" => 8.0,
        "kbps" => 8e3,
        "mbps" => 8e6,
        "gbps" => 8e9,
        _ => {
            return Err(format!(
                "`{text}` is not a rate (e.g. 10mbit, 512kbit; kbps and mbps are bytes per second, as in tc)"
            ));
        }
    };
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => {
            let bits = (n * bits_per_unit).round();
            if !(8.0..=1e12).contains(&bits) {
                Err(format!("`{text}` is out of range (8bit to 1000gbit)"))
            } else {
                Ok(Rate(bits as u64))
            }
        }
        _ => Err(format!("`{text}` is not a rate (e.g. 10mbit, 512kbit)")),
    }
}

/// `100ms`, `1.5ms`, `250us`, `2s`: the shortest exact words.
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        "0ms".into()
    } else if ns >= 1_000_000_000 {
        format!("{}s", trim_number(ns as f64 / 1e9, 3))
    } else if ns >= 1_000_000 {
        format!("{}ms", trim_number(ns as f64 / 1e6, 3))
    } else {
        format!("{}us", trim_number(ns as f64 / 1e3, 3))
    }
}

/// A number with at most `decimals` decimals, trailing zeros dropped.
fn trim_number(v: f64, decimals: usize) -> String {
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// Durations travel as whole nanoseconds (netem's own unit).
mod opt_nanos {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_decimals_and_units() {
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("1.5ms"), Ok(Duration::from_micros(1500)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("250µs"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("-1ms").is_err());
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("1.2.3ms").is_err());
    }

    #[test]
    fn percentages_need_the_sign_and_stay_within_bounds() {
        assert_eq!(parse_percent("10%"), Ok(Percent(10.0)));
        assert_eq!(parse_percent("0.5%"), Ok(Percent(0.5)));
        assert_eq!(parse_percent("100%"), Ok(Percent(100.0)));
        assert!(parse_percent("10").is_err());
        assert!(parse_percent("101%").is_err());
        assert!(parse_percent("-1%").is_err());
        assert!(parse_percent("NaN%").is_err());
    }

    #[test]
    fn rates_read_as_tc_reads_them() {
        assert_eq!(parse_rate("10mbit"), Ok(Rate(10_000_000)));
        assert_eq!(parse_rate("512kbit"), Ok(Rate(512_000)));
        assert_eq!(parse_rate("1Gbit"), Ok(Rate(1_000_000_000)));
        assert_eq!(parse_rate("1mbps"), Ok(Rate(8_000_000)));
        assert_eq!(parse_rate("1.5mbit"), Ok(Rate(1_500_000)));
        assert!(parse_rate("10").is_err());
        assert!(parse_rate("0mbit").is_err());
        assert!(parse_rate("1bit").is_err());
        assert!(parse_rate("10 parsecs").is_err());
        assert_eq!(Rate(10_000_000).to_string(), "10mbit");
        assert_eq!(Rate(1_500_000).to_string(), "1.5mbit");
    }

    #[test]
    fn netem_probabilities_span_u32() {
        assert_eq!(Percent(0.0).to_netem(), 0);
        assert_eq!(Percent(100.0).to_netem(), u32::MAX);
        let ten = Percent(10.0).to_netem();
        assert_eq!(ten, 429_496_730);
        assert!((Percent::from_netem(ten).0 - 10.0).abs() < 1e-6);
    }

    #[test]
    fn an_impairment_reads_like_tc() {
        let i = Impairment {
            delay: Some(Duration::from_millis(100)),
            jitter: Some(Duration::from_millis(5)),
            loss: Some(Percent(10.0)),
            rate: Some(Rate(10_000_000)),
            ..Impairment::default()
        };
        assert_eq!(i.to_string(), "delay 100ms ± 5ms loss 10% rate 10mbit");
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(format_duration(Duration::from_micros(250)), "250us");
        let json = serde_json::to_string(&i).expect("json");
        assert_eq!(serde_json::from_str::<Impairment>(&json).expect("back"), i);
        assert!(Impairment::default().is_empty());
    }
}
