//! `requires:` of a check: what an engine must be for the check to say
//! something there. Where engine versions truly behave differently (IPv6
//! isolation between bridges needs ip6tables rules, which Docker sets by
//! default from 27 on), a check carries the requirement and is SKIPPED,
//! with the reason, on an engine that lacks it — never a FAIL of the
//! network. Pure: the engine's facts come from `engine`.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a check needs of the engine it runs on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requires {
    /// A range of Docker versions (`>=27`, `<27`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<VersionReq>,
    /// Whether the engine sets ip6tables rules (IPv6 isolation and NAT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6tables: Option<bool>,
}

impl Requires {
    pub fn is_empty(&self) -> bool {
        self.engine.is_none() && self.ip6tables.is_none()
    }

    /// Why an engine does not meet this, if it does not.
    pub fn unmet(&self, host: &str, facts: &EngineFacts) -> Option<String> {
        let runs = format!("host {host}: Docker {}", facts.version);
        if let Some(req) = &self.engine
            && !req.matches(&facts.version)
        {
            return Some(format!("needs Docker {req}; {runs}"));
        }
        match self.ip6tables {
            Some(true) if !facts.ip6tables => Some(format!(
                "needs ip6tables rules (by default from Docker 27); {runs}"
            )),
            Some(false) if facts.ip6tables => Some(format!(
                "shows an engine without ip6tables rules (by default from Docker 27); {runs}"
            )),
            _ => None,
        }
    }
}

/// A half-open range of Docker versions: `>=27`, `>=26.1`, `<27`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionReq {
    pub at_least: bool,
    pub major: u32,
    pub minor: u32,
}

impl VersionReq {
    pub fn matches(&self, version: &str) -> bool {
        let Some(v) = major_minor(version) else {
            return false;
        };
        (v >= (self.major, self.minor)) == self.at_least
    }
}

impl std::fmt::Display for VersionReq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = if self.at_least { ">=" } else { "<" };
        if self.minor == 0 {
            write!(f, "{op}{}", self.major)
        } else {
            write!(f, "{op}{}.{}", self.major, self.minor)
        }
    }
}

impl FromStr for VersionReq {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (at_least, rest) = if let Some(r) = s.strip_prefix(">=") {
            (true, r)
        } else if let Some(r) = s.strip_prefix('<') {
            (false, r)
        } else {
            return Err(format!(
                "`{s}` is not a version range: write `>=VERSION` or `<VERSION`"
            ));
        };
        let rest = rest.trim();
        let mut parts = rest.split('.');
        let number = |p: Option<&str>| p.map(|p| p.parse::<u32>().ok());
        let (major, minor) = match (number(parts.next()), number(parts.next()), parts.next()) {
            (Some(Some(major)), None, None) => (major, 0),
            (Some(Some(major)), Some(Some(minor)), None) => (major, minor),
            _ => {
                return Err(format!(
                    "`{rest}` is not a Docker version: MAJOR or MAJOR.MINOR, e.g. 27 or 26.1"
                ));
            }
        };
        Ok(VersionReq {
            at_least,
            major,
            minor,
        })
    }
}

impl Serialize for VersionReq {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for VersionReq {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// `20.10.24+dfsg1` → (20, 10).
pub fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// What `requires:` is judged against: an engine as netlab sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EngineFacts {
    /// The Docker version it reports (`20.10.24+dfsg1`).
    pub version: String,
    /// Whether it sets ip6tables rules for IPv6 networks.
    pub ip6tables: bool,
}

impl EngineFacts {
    /// ip6tables is the default from Docker 27 on; older engines set
    /// ip6tables rules only when the daemon is configured for it
    /// (`"experimental": true, "ip6tables": true` in daemon.json), which
    /// the Engine API does not show: netlab takes them as setting none.
    /// (A 27+ daemon started with `"ip6tables": false` is taken as setting
    /// them; its IPv6 isolation checks then FAIL, as its network does.)
    pub fn of_version(version: &str) -> EngineFacts {
        EngineFacts {
            version: version.to_owned(),
            ip6tables: major_minor(version).is_some_and(|(major, _)| major >= 27),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_reads_and_matches_docker_versions() {
        let at_least_27: VersionReq = ">=27".parse().expect("range");
        assert_eq!(at_least_27.to_string(), ">=27");
        assert!(at_least_27.matches("28.5.2+dfsg4"));
        assert!(at_least_27.matches("27.0.1"));
        assert!(!at_least_27.matches("26.1.5+dfsg1"));
        assert!(!at_least_27.matches("20.10.24+dfsg1"));
        let below: VersionReq = "< 26.1".parse().expect("range");
        assert!(below.matches("20.10.24"));
        assert!(!below.matches("26.1.5"));
        assert!(
            !at_least_27.matches("unknown"),
            "an unknown version meets no range"
        );
        for bad in ["27", "=27", ">=x", ">=27.1.2", ""] {
            assert!(bad.parse::<VersionReq>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ip6tables_is_the_default_from_27_and_a_check_says_what_it_lacks() {
        let old = EngineFacts::of_version("20.10.24+dfsg1");
        let new = EngineFacts::of_version("28.5.2+dfsg4");
        assert!(!old.ip6tables && new.ip6tables);
        assert!(!EngineFacts::of_version("26.1.5+dfsg1").ip6tables);
        let needs = Requires {
            engine: None,
            ip6tables: Some(true),
        };
        assert_eq!(needs.unmet("local", &new), None);
        let why = needs.unmet("local", &old).expect("unmet");
        assert!(
            why == "needs ip6tables rules (by default from Docker 27); host local: Docker 20.10.24+dfsg1",
            "{why}"
        );
        let shows_old = Requires {
            engine: Some("<27".parse().expect("range")),
            ip6tables: None,
        };
        assert_eq!(shows_old.unmet("local", &old), None);
        assert_eq!(
            shows_old.unmet("local", &new).as_deref(),
            Some("needs Docker <27; host local: Docker 28.5.2+dfsg4")
        );
        assert!(Requires::default().is_empty());
        assert_eq!(Requires::default().unmet("local", &old), None);
    }
}
