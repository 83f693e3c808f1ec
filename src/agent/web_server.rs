//! The agent's HTTP and HTTPS listeners. Every response names the node in
//! `x-netlab-node` / `x-netlab-lab`. Routes:
//! - `/whoami`: identity and the client's address;
//! - `/echo`: method, path, query, headers and body, as JSON;
//! - `/status/<code>`: answers with that status;
//! - `/redirect/<code>?to=<url>`: a 301/302/303/307/308 to `to` (default `/echo`);
//! - `/session/login` (POST): sets a session cookie, 303 to `/session/whoami`,
//!   which reads it back — a session kept across a redirect.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, LOCATION, SET_COOKIE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

use super::protocol::Identity;
use super::redirect::is_redirect;

/// Bodies larger than this are refused; the agent is a probe target, not a
/// file server.
const MAX_BODY: usize = 1 << 20;
/// How long a client may take to send a request's head.
const HEADER_DEADLINE: Duration = Duration::from_secs(30);
const SESSION_COOKIE: &str = "netlab-session";

static SESSIONS: AtomicU64 = AtomicU64::new(1);

/// Serves one connection, plain or TLS; `scheme` is reported by `/echo`.
pub async fn serve_connection<S>(
    stream: S,
    remote: String,
    scheme: &'static str,
    identity: Arc<Identity>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let identity = identity.clone();
        let remote = remote.clone();
        async move { Ok::<_, std::convert::Infallible>(respond(req, &identity, &remote, scheme).await) }
    });
    // Without a timer hyper never enforces the header deadline, and a client
    // that opens a connection and sends nothing would hold it forever.
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_DEADLINE)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}

fn cookie(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn query_param(req: &Request<Incoming>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.uri().query()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// What the agent's web server answers, for a 404's body and a failed
/// check's pointer (docs/agent.md says what each does).
pub const PATHS: &[&str] = &[
    "/whoami",
    "/echo",
    "/status/CODE",
    "/redirect/CODE?to=URL",
    "/session/login (POST)",
    "/session/whoami",
];

async fn respond(
    req: Request<Incoming>,
    identity: &Identity,
    remote: &str,
    scheme: &str,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let mut response = match path.as_str() {
        "/whoami" => json(
            StatusCode::OK,
            serde_json::json!({ "lab": identity.lab, "node": identity.node, "host": identity.host, "remote": remote, "scheme": scheme }),
        ),
        "/echo" => echo(req, identity, scheme).await,
        "/session/login" if req.method() == Method::POST => {
            let session = format!(
                "{}-{}",
                identity.node,
                SESSIONS.fetch_add(1, Ordering::Relaxed)
            );
            let mut r = json(
                StatusCode::SEE_OTHER,
                serde_json::json!({ "session": session }),
            );
            if let Ok(v) =
                HeaderValue::from_str(&format!("{SESSION_COOKIE}={session}; Path=/; HttpOnly"))
            {
                r.headers_mut().insert(SET_COOKIE, v);
            }
            r.headers_mut()
                .insert(LOCATION, HeaderValue::from_static("/session/whoami"));
            r
        }
        "/session/login" => json(
            StatusCode::METHOD_NOT_ALLOWED,
            serde_json::json!({ "error": "POST to log in" }),
        ),
        "/session/whoami" => json(
            StatusCode::OK,
            serde_json::json!({ "session": cookie(&req, SESSION_COOKIE), "node": identity.node }),
        ),
        p if p.starts_with("/status/") => match p["/status/".len()..]
            .parse::<u16>()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
        {
            Some(code) if code.as_u16() >= 200 => {
                json(code, serde_json::json!({ "status": code.as_u16() }))
            }
            _ => json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "error": "a status between 200 and 999" }),
            ),
        },
        p if p.starts_with("/redirect/") => {
            let code = p["/redirect/".len()..]
                .parse::<u16>()
                .ok()
                .filter(|c| is_redirect(*c));
            match code.and_then(|c| StatusCode::from_u16(c).ok()) {
                Some(code) => {
                    let to = query_param(&req, "to").unwrap_or_else(|| "/echo".into());
                    let mut r = json(
                        code,
                        serde_json::json!({ "redirect": code.as_u16(), "to": to }),
                    );
                    if let Ok(v) = HeaderValue::from_str(&to) {
                        r.headers_mut().insert(LOCATION, v);
                    }
                    r
                }
                None => json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({ "error": "redirect codes are 301, 302, 303, 307 and 308" }),
                ),
            }
        }
        other => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({
                "error": format!("no such path {other}"),
                "paths": PATHS,
                "docs": "docs/agent.md in netlab's repository",
            }),
        ),
    };
    let headers = response.headers_mut();
    if let Ok(v) = identity.node.parse() {
        headers.insert("x-netlab-node", v);
    }
    if let Ok(v) = identity.lab.parse() {
        headers.insert("x-netlab-lab", v);
    }
    if let Some(Ok(v)) = identity.host.as_deref().map(str::parse) {
        headers.insert("x-netlab-host", v);
    }
    response
}

async fn echo(req: Request<Incoming>, identity: &Identity, scheme: &str) -> Response<Full<Bytes>> {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(body) => json(
            StatusCode::OK,
            serde_json::json!({
                "method": method, "path": path, "query": query, "headers": headers,
                "body": String::from_utf8_lossy(&body.to_bytes()),
                "node": identity.node, "scheme": scheme,
            }),
        ),
        Err(_) => json(
            StatusCode::PAYLOAD_TOO_LARGE,
            serde_json::json!({ "error": "body too large" }),
        ),
    }
}
