//! Measured checks: `latency` and `loss`, a series of ICMP echo requests
//! from a node (or a Docker host) to a node, judged against ranges
//! (`LOW..HIGH`, `..HIGH`, `LOW..`). A range is written in the unit of what
//! it bounds: `90ms..130ms`, `5%..15%`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::model::Source;
use crate::impairment::{Percent, format_duration, parse_duration, parse_percent};

/// Echo requests sent one `interval` apart, when the check gives none.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(10);
pub const DEFAULT_LATENCY_COUNT: u32 = 20;
pub const DEFAULT_LOSS_COUNT: u32 = 100;
pub const MAX_COUNT: u32 = 10_000;
/// How long the last echo request may wait for its reply, at least.
pub const LINGER: Duration = Duration::from_secs(1);

/// Who pings whom: a node or a host, to a node (on one network, or the one
/// `to:` picks by the usual rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Echo {
    pub from: Source,
    pub to: String,
    pub network: Option<String>,
    pub count: u32,
    #[serde(with = "nanos")]
    pub interval: Duration,
}

impl Echo {
    /// `web` or `web@front`.
    pub fn target_words(&self) -> String {
        match &self.network {
            Some(n) => format!("{}@{n}", self.to),
            None => self.to.clone(),
        }
    }

    /// How long sending the series takes, before the last reply.
    pub fn sending_time(&self) -> Duration {
        self.interval * self.count.saturating_sub(1)
    }
}

/// An inclusive range; an open end is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Range<T> {
    pub low: Option<T>,
    pub high: Option<T>,
}

impl<T: PartialOrd + Copy> Range<T> {
    pub fn contains(&self, v: T) -> bool {
        self.low.is_none_or(|l| v >= l) && self.high.is_none_or(|h| v <= h)
    }
}

pub type DurationRange = Range<Duration>;
pub type PercentRange = Range<Percent>;

/// What a `latency` check expects of the round-trip times.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LatencyExpect {
    pub median: Option<DurationRange>,
    pub p95: Option<DurationRange>,
    pub max: Option<DurationRange>,
}

impl LatencyExpect {
    /// (`median`, range) of each statistic given, in a fixed order.
    pub fn bounds(&self) -> Vec<(&'static str, DurationRange)> {
        [
            ("median", self.median),
            ("p95", self.p95),
            ("max", self.max),
        ]
        .into_iter()
        .filter_map(|(w, r)| Some((w, r?)))
        .collect()
    }

    /// The highest finite bound: the longest a reply can be worth waiting for.
    pub fn highest(&self) -> Option<Duration> {
        self.bounds()
            .iter()
            .flat_map(|(_, r)| [r.low, r.high])
            .flatten()
            .max()
    }
}

impl fmt::Display for LatencyExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self
            .bounds()
            .iter()
            .map(|(w, r)| format!("{w} {}", duration_range_words(r)))
            .collect();
        f.write_str(&words.join(", "))
    }
}

pub fn duration_range_words(r: &DurationRange) -> String {
    range_words(r, |d| format_duration(*d))
}

pub fn percent_range_words(r: &PercentRange) -> String {
    range_words(r, |p| p.to_string())
}

fn range_words<T>(r: &Range<T>, word: impl Fn(&T) -> String) -> String {
    format!(
        "{}..{}",
        r.low.as_ref().map(&word).unwrap_or_default(),
        r.high.as_ref().map(&word).unwrap_or_default()
    )
}

/// `LOW..HIGH`, `..HIGH`, `LOW..`: each end parsed by `end`. A range with
/// no end at all, or whose low end is above its high end, is refused.
pub fn parse_range<T: PartialOrd + Copy>(
    text: &str,
    end: impl Fn(&str) -> Result<T, String>,
) -> Result<Range<T>, String> {
    let Some((low, high)) = text.trim().split_once("..") else {
        return Err(format!(
            "`{text}` is not a range: write LOW..HIGH, ..HIGH or LOW.."
        ));
    };
    let parse = |s: &str| -> Result<Option<T>, String> {
        let s = s.trim();
        if s.is_empty() {
            Ok(None)
        } else {
            end(s).map(Some)
        }
    };
    let range = Range {
        low: parse(low)?,
        high: parse(high)?,
    };
    match (range.low, range.high) {
        (None, None) => Err(format!(
            "`{text}` has no end: it bounds nothing, so no run could miss it"
        )),
        (Some(l), Some(h)) if l > h => {
            Err(format!("`{text}` runs backwards: no run could meet it"))
        }
        _ => Ok(range),
    }
}

/// A latency range: `90ms..130ms`. One that every round trip meets
/// (`0ms..`) is refused: it could not fail.
pub fn parse_duration_range(text: &str) -> Result<DurationRange, String> {
    let r = parse_range(text, parse_duration)?;
    if r.high.is_none() && r.low.is_none_or(|l| l.is_zero()) {
        return Err(format!(
            "`{text}` holds every round-trip time: no run could miss it"
        ));
    }
    Ok(r)
}

/// A loss range: `5%..15%`. One that holds 0% to 100% is refused.
pub fn parse_percent_range(text: &str) -> Result<PercentRange, String> {
    let r = parse_range(text, parse_percent)?;
    let from_zero = r.low.is_none_or(|l| l.0 <= 0.0);
    let to_all = r.high.is_none_or(|h| h.0 >= 100.0);
    if from_zero && to_all {
        return Err(format!(
            "`{text}` holds every loss from 0% to 100%: no run could miss it"
        ));
    }
    Ok(r)
}

/// The median, 95th percentile and maximum of round-trip times (nearest
/// rank; the median of an even count is the mean of the middle two).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RttStats {
    pub min: Duration,
    pub median: Duration,
    pub p95: Duration,
    pub max: Duration,
}

impl RttStats {
    pub fn of(rtts: &[Duration]) -> Option<RttStats> {
        let mut sorted = rtts.to_vec();
        sorted.sort();
        let n = sorted.len();
        if n == 0 {
            return None;
        }
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2
        };
        // Nearest rank: the smallest value with at least 95% at or below it.
        let rank = (n * 95).div_ceil(100).max(1);
        Some(RttStats {
            min: sorted[0],
            median,
            p95: sorted[rank - 1],
            max: sorted[n - 1],
        })
    }

    pub fn get(&self, stat: &str) -> Duration {
        match stat {
            "median" => self.median,
            "p95" => self.p95,
            "max" => self.max,
            _ => self.min,
        }
    }
}

mod nanos {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_nanos(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn ranges_of_every_shape() {
        let r = parse_duration_range("90ms..130ms").expect("valid");
        assert_eq!((r.low, r.high), (Some(ms(90)), Some(ms(130))));
        assert!(r.contains(ms(90)) && r.contains(ms(130)) && r.contains(ms(100)));
        assert!(!r.contains(ms(89)) && !r.contains(ms(131)));
        let up_to = parse_duration_range("..5ms").expect("valid");
        assert!(up_to.contains(Duration::ZERO) && !up_to.contains(ms(6)));
        let from = parse_duration_range("1.5ms..").expect("valid");
        assert!(!from.contains(ms(1)) && from.contains(ms(60_000)));
        assert_eq!(duration_range_words(&r), "90ms..130ms");
        assert_eq!(duration_range_words(&up_to), "..5ms");
        let loss = parse_percent_range("5%..15%").expect("valid");
        assert!(loss.contains(Percent(5.0)) && !loss.contains(Percent(15.1)));
        assert_eq!(percent_range_words(&loss), "5%..15%");
        assert!(
            parse_percent_range("..0%").is_ok(),
            "no loss at all can fail"
        );
        assert!(parse_percent_range("100%..").is_ok(), "all lost can fail");
    }

    #[test]
    fn ranges_no_run_could_miss_or_meet_are_refused() {
        for (text, why) in [
            ("..", "has no end"),
            ("0%..100%", "no run could miss"),
            ("..100%", "no run could miss"),
            ("0%..", "no run could miss"),
            ("15%..5%", "runs backwards"),
            ("130ms..90ms", "runs backwards"),
        ] {
            let err = if text.contains('%') || text == ".." {
                parse_percent_range(text).expect_err(text)
            } else {
                parse_duration_range(text).expect_err(text)
            };
            assert!(err.contains(why), "{text}: {err}");
        }
        for text in ["0ms..", "0s..", "..", "90ms", "fast..slow", "5%..15"] {
            assert!(parse_duration_range(text).is_err(), "{text}");
        }
        assert!(parse_percent_range("5..15").is_err());
        assert!(parse_percent_range("5%..150%").is_err());
    }

    #[test]
    fn statistics_by_nearest_rank() {
        let rtts: Vec<Duration> = (1..=20).map(ms).collect();
        let s = RttStats::of(&rtts).expect("some");
        assert_eq!(s.min, ms(1));
        assert_eq!(s.median, Duration::from_micros(10_500));
        assert_eq!(s.p95, ms(19));
        assert_eq!(s.max, ms(20));
        let one = RttStats::of(&[ms(7)]).expect("one");
        assert_eq!((one.median, one.p95, one.max), (ms(7), ms(7), ms(7)));
        let odd = RttStats::of(&[ms(3), ms(1), ms(2)]).expect("three");
        assert_eq!(odd.median, ms(2));
        assert_eq!(odd.p95, ms(3));
        assert!(RttStats::of(&[]).is_none());
    }
}
