//! The engines a generated check is written for. Where the model predicts
//! differently for engines that differ (ip6tables rules, Docker's version:
//! `model::EngineSide`), the check is written once per kind of engine, each
//! with the `requires:` that picks it and a title that says which, so
//! every engine runs the one that is its own and a disagreement is read
//! back against the same engine.

use crate::model::EngineSide;

pub struct Variant {
    pub side: EngineSide,
    /// Added to the check's title.
    pub title: &'static str,
    /// The check's `requires:` value.
    pub requires: &'static str,
}

/// Reach over IPv6: ip6tables rules, and without them the IPv6 default
/// route of internal networks (Docker 26).
pub const REACH_V6: [Variant; 3] = [
    Variant {
        side: EngineSide::NEW,
        title: "with ip6tables",
        requires: "{ ip6tables: true }",
    },
    Variant {
        side: EngineSide::OLD,
        title: "without ip6tables, Docker <26",
        requires: "{ ip6tables: false, engine: \"<26\" }",
    },
    Variant {
        side: EngineSide {
            ip6tables: false,
            major: 26,
        },
        title: "without ip6tables, Docker >=26",
        requires: "{ ip6tables: false, engine: \">=26\" }",
    },
];

/// AAAA answers: where Docker's search ends (Docker 28).
pub const AAAA: [Variant; 2] = [
    Variant {
        side: EngineSide::OLD,
        title: "Docker <28",
        requires: "{ engine: \"<28\" }",
    },
    Variant {
        side: EngineSide::NEW,
        title: "Docker >=28",
        requires: "{ engine: \">=28\" }",
    },
];

/// Published ports: a node on an internal bridge and overlays (Docker 26).
pub const PUBLISH: [Variant; 2] = [
    Variant {
        side: EngineSide::OLD,
        title: "Docker <26",
        requires: "{ engine: \"<26\" }",
    },
    Variant {
        side: EngineSide::NEW,
        title: "Docker >=26",
        requires: "{ engine: \">=26\" }",
    },
];

/// The engine a check was written for, read back from its title (the
/// longest variant title it ends with; one without: every engine agrees).
pub fn side_of(title: &str) -> EngineSide {
    REACH_V6
        .iter()
        .chain(AAAA.iter())
        .chain(PUBLISH.iter())
        .filter(|v| title.ends_with(v.title))
        .max_by_key(|v| v.title.len())
        .map_or(EngineSide::NEW, |v| v.side)
}

/// What a check written for `variant` adds after its title and after its
/// expectation (nothing for a check every engine runs).
pub fn marks(variant: Option<&Variant>) -> (String, String) {
    match variant {
        Some(v) => (
            format!(", {}", v.title),
            format!(", requires: {}", v.requires),
        ),
        None => (String::new(), String::new()),
    }
}

/// The variants whose predictions differ (as `key` sees them), each with
/// its prediction; one entry without a variant when they all agree.
pub fn distinct<T, K: PartialEq>(
    variants: &[Variant],
    predict: impl Fn(EngineSide) -> T,
    key: impl Fn(&T) -> K,
) -> Vec<(Option<&Variant>, T)> {
    let mut all: Vec<(&Variant, T)> = variants.iter().map(|v| (v, predict(v.side))).collect();
    let agree = all.windows(2).all(|w| key(&w[0].1) == key(&w[1].1));
    if agree {
        all.truncate(1);
        return all.into_iter().map(|(_, p)| (None, p)).collect();
    }
    all.into_iter().map(|(v, p)| (Some(v), p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_names_its_engine() {
        assert_eq!(
            side_of("reach 7000 over IPv6 with ip6tables"),
            EngineSide::NEW
        );
        assert_eq!(
            side_of("reach 7000 over IPv6 without ip6tables, Docker >=26").major,
            26
        );
        assert_eq!(side_of("a AAAA b, Docker <28"), EngineSide::OLD);
        assert_eq!(side_of("reach 7000"), EngineSide::NEW);
    }

    #[test]
    fn agreeing_variants_are_written_once() {
        assert_eq!(distinct(&REACH_V6, |_| 1, |p| *p).len(), 1);
        assert!(distinct(&REACH_V6, |_| 1, |p| *p)[0].0.is_none());
        assert_eq!(distinct(&AAAA, |s| s.major, |p| *p).len(), 2);
        // Only the key decides: the same verdict for other reasons is one.
        assert_eq!(distinct(&AAAA, |s| (1, s.major), |p| p.0).len(), 1);
    }
}
