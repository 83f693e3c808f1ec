//! The rules of the measured checks, `latency` and `loss`: who pings whom,
//! how many echo requests how far apart, and ranges that a run can miss.

use std::time::Duration;

use super::Validator;
use super::checks::CheckCx;
use crate::impairment::parse_duration;
use crate::lab::measure::*;
use crate::lab::model::*;
use crate::lab::raw::*;

const LATENCY_STATS: &[&str] = &["median", "p95", "max"];
const MIN_INTERVAL: Duration = Duration::from_millis(1);
const MAX_INTERVAL: Duration = Duration::from_secs(10);
/// Sending a series may take this long, leaving room in a check's deadline.
const MAX_SENDING: Duration = Duration::from_secs(240);

impl Validator {
    /// `latency` (`loss` false) or `loss`.
    pub(super) fn echo_check(&mut self, cx: &CheckCx, loss: bool) -> Option<CheckKind> {
        let from = self.source_of(cx, true);
        let to = self.echo_target(cx);
        let count = match &cx.body.count {
            None if loss => Some(DEFAULT_LOSS_COUNT),
            None => Some(DEFAULT_LATENCY_COUNT),
            Some(c) if (1..=MAX_COUNT).contains(&c.value) => Some(c.value),
            Some(c) => {
                self.error(
                    &c.referenced,
                    format!("{} echo requests is out of range", c.value),
                    Some(format!("between 1 and {MAX_COUNT}")),
                );
                None
            }
        };
        let interval = match &cx.body.interval {
            None => Some(DEFAULT_INTERVAL),
            Some(i) => match parse_duration(&i.value) {
                Ok(d) if (MIN_INTERVAL..=MAX_INTERVAL).contains(&d) => Some(d),
                Ok(_) => {
                    self.error(
                        &i.referenced,
                        format!("interval `{}` is out of range", i.value),
                        Some("between 1ms and 10s".into()),
                    );
                    None
                }
                Err(e) => {
                    self.error(&i.referenced, e, None);
                    None
                }
            },
        };
        let kind = if loss {
            self.loss_expect(cx).map(|e| (None, Some(e)))
        } else {
            self.latency_expect(cx).map(|e| (Some(e), None))
        };
        let ((to, network), count, interval, kind) = (to?, count?, interval?, kind?);
        let echo = Echo {
            from: from?,
            to,
            network,
            count,
            interval,
        };
        if echo.sending_time() > MAX_SENDING {
            let at = cx.place_of(&cx.body.count);
            self.error(
                &at,
                format!(
                    "{count} echo requests {} apart take {}: longer than a check may",
                    crate::impairment::format_duration(interval),
                    crate::impairment::format_duration(echo.sending_time())
                ),
                Some("send fewer, or closer together (at most 4m of sending)".into()),
            );
            return None;
        }
        Some(match kind {
            (Some(expect), _) => CheckKind::Latency { echo, expect },
            (_, Some(expect)) => CheckKind::Loss { echo, expect },
            _ => return None,
        })
    }

    /// `to: web` or `to: web@front`: a node, never a port.
    fn echo_target(&mut self, cx: &CheckCx) -> Option<(String, Option<String>)> {
        let to = self.required(cx, &cx.body.to, "to")?;
        if to.value.contains(':') {
            self.error(
                &to.referenced,
                format!(
                    "`{}` names a port: {} measures ICMP echo round trips to a node",
                    to.value, cx.kind.value
                ),
                Some("write the node (`web`) or the node on a network (`web@front`)".into()),
            );
            return None;
        }
        let (node, network) = match to.value.split_once('@') {
            Some((n, net)) => (n.to_owned(), Some(net.to_owned())),
            None => (to.value.clone(), None),
        };
        let node = super::node_word(&node).to_owned();
        let name = Span::new(node.clone(), to.referenced, to.defined);
        let n = self.node_ref(cx, &name)?;
        if let Some(net) = &network {
            if !cx.networks.contains_key(net) {
                self.error(
                    &to.referenced,
                    format!("undefined network `{net}`"),
                    super::did_you_mean(net, cx.networks.keys().map(String::as_str)),
                );
                return None;
            }
            if !n.is_on(net) {
                self.error(
                    &to.referenced,
                    format!("node `{node}` is not on network `{net}`"),
                    None,
                );
                return None;
            }
        }
        Some((node, network))
    }

    fn latency_expect(&mut self, cx: &CheckCx) -> Option<LatencyExpect> {
        let hint = || Some("e.g. expect: { median: 90ms..130ms, p95: ..150ms }".to_owned());
        let Some(e) = &cx.body.expect else {
            self.error(&cx.kind.referenced, "latency check needs `expect`", hint());
            return None;
        };
        let RawExpect::Map(fields) = &e.value else {
            self.error(
                &e.referenced,
                "a latency check expects a map of statistics to ranges",
                hint(),
            );
            return None;
        };
        if fields.is_empty() {
            self.error(&e.referenced, "an empty expectation checks nothing", hint());
            return None;
        }
        let mut out = LatencyExpect::default();
        let mut ok = true;
        for (key, value) in fields {
            let slot = match key.value.as_str() {
                "median" => &mut out.median,
                "p95" => &mut out.p95,
                "max" => &mut out.max,
                other => {
                    self.error(
                        &key.referenced,
                        format!("unknown latency statistic `{other}`"),
                        super::did_you_mean(other, LATENCY_STATS.iter().copied())
                            .or_else(|| Some(format!("one of: {}", LATENCY_STATS.join(", ")))),
                    );
                    ok = false;
                    continue;
                }
            };
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match parse_duration_range(&text) {
                Ok(r) => *slot = Some(r),
                Err(why) => {
                    self.error(
                        &key.referenced,
                        format!("`{}`: {why}", key.value),
                        Some("e.g. 90ms..130ms, ..5ms or 50ms..".into()),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    fn loss_expect(&mut self, cx: &CheckCx) -> Option<PercentRange> {
        let hint = || Some("a range of percentages, e.g. 5%..15% or ..1%".to_owned());
        let Some(e) = &cx.body.expect else {
            self.error(&cx.kind.referenced, "loss check needs `expect`", hint());
            return None;
        };
        let RawExpect::Word(w) = &e.value else {
            self.error(&e.referenced, "a loss check expects one range", hint());
            return None;
        };
        parse_percent_range(w)
            .map_err(|why| self.error(&e.referenced, why, hint()))
            .ok()
    }

    /// The deadline of an echo check: long enough to send every request
    /// and wait for the last reply. Without `timeout:`, one is made; a
    /// `timeout:` too short to send them all is refused.
    pub(super) fn echo_timeout(&mut self, cx: &CheckCx, kind: &CheckKind) -> Option<Duration> {
        let (echo, highest) = match kind {
            CheckKind::Latency { echo, expect } => (echo, expect.highest()),
            CheckKind::Loss { echo, .. } => (echo, None),
            _ => return None,
        };
        let sending = echo.sending_time();
        let needed = sending + LINGER.max(highest.unwrap_or_default() * 2);
        match &cx.body.timeout {
            None => Some(needed + Duration::from_secs(1)),
            Some(t) => {
                let given = parse_duration(&t.value).ok()?;
                if given < sending + Duration::from_millis(500) {
                    self.error(
                        &t.referenced,
                        format!(
                            "timeout `{}` is too short for {} echo requests {} apart",
                            t.value,
                            echo.count,
                            crate::impairment::format_duration(echo.interval)
                        ),
                        Some(format!(
                            "sending them takes {}; leave out `timeout:` and netlab allows {}",
                            crate::impairment::format_duration(sending),
                            crate::impairment::format_duration(needed + Duration::from_secs(1))
                        )),
                    );
                }
                Some(given)
            }
        }
    }
}
