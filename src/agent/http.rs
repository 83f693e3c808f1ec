//! The agent's HTTP listener: `/whoami` (identity and the client's address)
//! and `/echo` (method, path, headers and body, as JSON). Every response
//! names the node in `x-netlab-node` / `x-netlab-lab`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::protocol::Identity;

/// Bodies larger than this are refused; the agent is a probe target, not a
/// file server.
const MAX_BODY: usize = 1 << 20;
/// How long a client may take to send a request's head.
const HEADER_DEADLINE: Duration = Duration::from_secs(30);

pub async fn serve_connection(stream: TcpStream, identity: Arc<Identity>) {
    let remote = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let service = hyper::service::service_fn(move |req| {
        let identity = identity.clone();
        let remote = remote.clone();
        async move { Ok::<_, std::convert::Infallible>(respond(req, &identity, &remote).await) }
    });
    // Without a timer hyper never enforces the header deadline, and a client
    // that opens a connection and sends nothing would hold it forever.
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_DEADLINE)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

async fn respond(
    req: Request<Incoming>,
    identity: &Identity,
    remote: &str,
) -> Response<Full<Bytes>> {
    let (status, body) = match req.uri().path() {
        "/whoami" => (
            StatusCode::OK,
            serde_json::json!({ "lab": identity.lab, "node": identity.node, "remote": remote }),
        ),
        "/echo" => {
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
                Ok(body) => (
                    StatusCode::OK,
                    serde_json::json!({
                        "method": method, "path": path, "query": query, "headers": headers,
                        "body": String::from_utf8_lossy(&body.to_bytes()),
                        "node": identity.node,
                    }),
                ),
                Err(_) => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    serde_json::json!({ "error": "body too large" }),
                ),
            }
        }
        other => (
            StatusCode::NOT_FOUND,
            serde_json::json!({ "error": format!("no such path {other}") }),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = identity.node.parse() {
        headers.insert("x-netlab-node", v);
    }
    if let Ok(v) = identity.lab.parse() {
        headers.insert("x-netlab-lab", v);
    }
    response
}
