//! How a client follows a redirect, as browsers do (the Fetch standard):
//! 301 and 302 turn a POST into a GET, 303 turns every method but HEAD into a
//! GET, 307 and 308 keep the method and the body. Pure, and table-tested.

/// What the next request of a redirect looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextHop {
    pub method: String,
    /// Whether the request body travels on.
    pub keep_body: bool,
}

pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// `None` when `status` is not a redirect.
pub fn next_hop(status: u16, method: &str) -> Option<NextHop> {
    let method = method.to_ascii_uppercase();
    let to_get = || NextHop {
        method: "GET".into(),
        keep_body: false,
    };
    let same = |m: String| NextHop {
        method: m,
        keep_body: true,
    };
    Some(match status {
        301 | 302 if method == "POST" => to_get(),
        301 | 302 => same(method),
        303 if method == "HEAD" => same(method),
        303 => to_get(),
        307 | 308 => same(method),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fetch_table() {
        // (status, method) -> (next method, body kept)
        let table = [
            (301, "POST", "GET", false),
            (302, "POST", "GET", false),
            (303, "POST", "GET", false),
            (307, "POST", "POST", true),
            (308, "POST", "POST", true),
            (301, "PUT", "PUT", true),
            (302, "DELETE", "DELETE", true),
            (303, "PUT", "GET", false),
            (303, "HEAD", "HEAD", true),
            (303, "GET", "GET", false),
            (307, "PUT", "PUT", true),
            (308, "GET", "GET", true),
            (301, "GET", "GET", true),
        ];
        for (status, method, next, kept) in table {
            assert_eq!(
                next_hop(status, method),
                Some(NextHop {
                    method: next.into(),
                    keep_body: kept
                }),
                "{status} {method}"
            );
        }
        assert_eq!(next_hop(200, "GET"), None);
        assert_eq!(next_hop(304, "GET"), None);
        assert!(is_redirect(308) && !is_redirect(300));
    }
}
