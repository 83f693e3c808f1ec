//! `latency` and `loss`: a series of echo requests → pass or fail, with
//! the figures in words (`median 101.2 ms, p95 104.9 ms, max 108.0 ms;
//! 50/50 answered`) and as numbers for the JSON report.

use std::time::Duration;

use crate::agent::protocol::EchoObservation;
use crate::impairment::Percent;
use crate::lab::measure::{
    LatencyExpect, PercentRange, RttStats, duration_range_words, percent_range_words,
};

use super::Outcome;

/// The figures of one series, for reports and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EchoFigures {
    pub sent: u32,
    pub answered: u32,
    pub duplicates: u32,
    /// Percent of requests that got no reply.
    pub loss: f64,
    pub stats: Option<RttStats>,
}

impl EchoFigures {
    pub fn of(o: &EchoObservation) -> EchoFigures {
        let rtts: Vec<Duration> = o
            .rtts_us
            .iter()
            .map(|us| Duration::from_micros(*us))
            .collect();
        let answered = u32::try_from(rtts.len()).unwrap_or(u32::MAX);
        let loss = if o.sent == 0 {
            100.0
        } else {
            f64::from(o.sent.saturating_sub(answered)) * 100.0 / f64::from(o.sent)
        };
        EchoFigures {
            sent: o.sent,
            answered,
            duplicates: o.duplicates,
            loss,
            stats: RttStats::of(&rtts),
        }
    }

    /// `median 101.2 ms, p95 104.9 ms, max 108.0 ms`
    fn times(&self) -> Option<String> {
        self.stats.map(|s| {
            format!(
                "median {}, p95 {}, max {}",
                ms(s.median),
                ms(s.p95),
                ms(s.max)
            )
        })
    }

    /// `49/50 answered (2% lost, 1 duplicate)`
    fn answers(&self) -> String {
        let mut out = format!(
            "{}/{} answered ({}% lost",
            self.answered,
            self.sent,
            trim(self.loss)
        );
        if self.duplicates > 0 {
            out.push_str(&format!(
                ", {} duplicate{}",
                self.duplicates,
                if self.duplicates == 1 { "" } else { "s" }
            ));
        }
        out.push(')');
        out
    }
}

/// `101.2 ms`, `1.25 ms`, `0.048 ms`: three significant figures or so.
fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1000.0;
    if v < 1.0 {
        format!("{v:.3} ms")
    } else if v < 10.0 {
        format!("{v:.2} ms")
    } else {
        format!("{v:.1} ms")
    }
}

fn trim(v: f64) -> String {
    let text = format!("{v:.1}");
    text.strip_suffix(".0").map(str::to_owned).unwrap_or(text)
}

/// Why nothing was measured, if nothing was: an error of the probe, not a
/// finding about the network.
fn unmeasured(o: &EchoObservation) -> Option<String> {
    o.error
        .as_ref()
        .filter(|_| o.sent == 0)
        .map(|e| format!("no echo request could be sent: {e}"))
}

pub fn latency(expect: &LatencyExpect, o: &EchoObservation) -> Outcome {
    if let Some(why) = unmeasured(o) {
        return Outcome::error(why);
    }
    let f = EchoFigures::of(o);
    let Some(stats) = f.stats else {
        return Outcome::fail(format!(
            "no echo reply: {} (nothing to measure a latency from)",
            f.answers()
        ));
    };
    let words = format!("{}; {}", f.times().unwrap_or_default(), f.answers());
    let missed: Vec<String> = expect
        .bounds()
        .iter()
        .filter(|(stat, range)| !range.contains(stats.get(stat)))
        .map(|(stat, range)| {
            format!(
                "{stat} {} is not in {}",
                ms(stats.get(stat)),
                duration_range_words(range)
            )
        })
        .collect();
    if missed.is_empty() {
        Outcome::pass(words)
    } else {
        Outcome::fail(format!("{words}; {}", missed.join(", ")))
    }
}

pub fn loss(expect: &PercentRange, o: &EchoObservation) -> Outcome {
    if let Some(why) = unmeasured(o) {
        return Outcome::error(why);
    }
    let f = EchoFigures::of(o);
    let mut words = format!("loss {}%: {}", trim(f.loss), f.answers());
    if let Some(t) = f.times() {
        words.push_str(&format!("; {t}"));
    }
    if expect.contains(Percent(f.loss)) {
        Outcome::pass(words)
    } else {
        Outcome::fail(format!("{words}; expected {}", percent_range_words(expect)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::measure::{parse_duration_range, parse_percent_range};

    fn series(sent: u32, rtts_ms: &[u64]) -> EchoObservation {
        EchoObservation {
            target: None,
            sent,
            rtts_us: rtts_ms.iter().map(|m| m * 1000).collect(),
            duplicates: 0,
            waited_ms: 1000,
            method: "ping socket".into(),
            error: None,
        }
    }

    fn expect_median(range: &str) -> LatencyExpect {
        LatencyExpect {
            median: Some(parse_duration_range(range).expect("range")),
            ..LatencyExpect::default()
        }
    }

    #[test]
    fn a_delay_in_range_passes_and_out_of_range_fails() {
        let slow = series(5, &[100, 101, 102, 103, 140]);
        let o = latency(&expect_median("90ms..130ms"), &slow);
        assert!(o.passed, "{}", o.observed);
        assert!(
            o.observed
                .starts_with("median 102.0 ms, p95 140.0 ms, max 140.0 ms; 5/5 answered (0% lost)"),
            "{}",
            o.observed
        );
        // The mutant: a fast link expected, a slow one seen.
        let o = latency(&expect_median("..5ms"), &slow);
        assert!(!o.passed);
        assert!(
            o.observed.ends_with("median 102.0 ms is not in ..5ms"),
            "{}",
            o.observed
        );
        let p95 = LatencyExpect {
            p95: Some(parse_duration_range("..120ms").expect("range")),
            ..LatencyExpect::default()
        };
        assert!(!latency(&p95, &slow).passed);
    }

    #[test]
    fn no_reply_is_never_a_latency() {
        let o = latency(&expect_median("..5ms"), &series(10, &[]));
        assert!(!o.passed);
        assert!(
            o.observed
                .contains("no echo reply: 0/10 answered (100% lost)"),
            "{}",
            o.observed
        );
        let mut broken = series(0, &[]);
        broken.error = Some("cannot send ICMP echo".into());
        let o = latency(&expect_median("..5ms"), &broken);
        assert!(!o.passed && o.error && o.observed.starts_with("no echo request could be sent"));
        assert!(!loss(&parse_percent_range("..50%").expect("range"), &broken).passed);
    }

    #[test]
    fn loss_in_range_passes_and_out_of_range_fails() {
        let mut rtts = vec![1u64; 90];
        rtts.truncate(90);
        let tenth_lost = series(100, &rtts);
        let o = loss(&parse_percent_range("5%..15%").expect("range"), &tenth_lost);
        assert!(o.passed, "{}", o.observed);
        assert!(
            o.observed
                .starts_with("loss 10%: 90/100 answered (10% lost)"),
            "{}",
            o.observed
        );
        // The mutant: loss expected on a link that lost nothing.
        let clean = series(100, &vec![1u64; 100]);
        let o = loss(&parse_percent_range("20%..40%").expect("range"), &clean);
        assert!(!o.passed);
        assert!(
            o.observed.contains("loss 0%") && o.observed.ends_with("expected 20%..40%"),
            "{}",
            o.observed
        );
        // And none expected where a tenth was lost.
        assert!(!loss(&parse_percent_range("..1%").expect("range"), &tenth_lost).passed);
    }

    #[test]
    fn duplicates_are_counted_once() {
        let mut o = series(4, &[1, 1, 1, 1]);
        o.duplicates = 2;
        let f = EchoFigures::of(&o);
        assert_eq!((f.answered, f.loss), (4, 0.0));
        assert!(f.answers().contains("2 duplicates"));
    }
}
