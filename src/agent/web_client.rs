//! The TLS and HTTP probes: a TLS handshake measured phase by phase, and an
//! HTTP client that follows redirects as browsers do (see `redirect`), keeps
//! cookies, and reports every hop. Names resolve with hickory from the
//! container's resolv.conf, never the C library.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::protocol::*;
use super::{redirect, resolve};
use crate::capture::Recorder;
use crate::vocab::IpFamily;

/// The final body is kept up to this many bytes for the report.
const MAX_BODY: usize = 64 * 1024;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Verifies like webpki against the lab CA (or trusts nothing), and keeps
/// the server's certificate so the report can name its subject even when
/// verification fails.
#[derive(Debug)]
struct RecordingVerifier {
    inner: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    seen: Mutex<Option<Vec<u8>>>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(end_entity.to_vec());
        }
        match &self.inner {
            Some(v) => v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now),
            None => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn client_config(
    ca_pem: Option<&str>,
) -> Result<(Arc<rustls::ClientConfig>, Arc<RecordingVerifier>), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = match ca_pem {
        None => None,
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots
                    .add(cert.map_err(|e| format!("bad lab CA: {e}"))?)
                    .map_err(|e| format!("bad lab CA: {e}"))?;
            }
            Some(
                rustls::client::WebPkiServerVerifier::builder_with_provider(
                    roots.into(),
                    provider.clone(),
                )
                .build()
                .map_err(|e| format!("cannot trust the lab CA: {e}"))?,
            )
        }
    };
    let verifier = Arc::new(RecordingVerifier {
        inner,
        provider: provider.clone(),
        seen: Mutex::new(None),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), verifier))
}

fn classify_tls_error(e: &std::io::Error) -> TlsOutcome {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) => TlsOutcome::WrongName {
            reason: e.to_string(),
        },
        Some(rustls::Error::InvalidCertificate(_)) => TlsOutcome::Untrusted {
            reason: e.to_string(),
        },
        Some(
            rustls::Error::InvalidMessage(_)
            | rustls::Error::InappropriateMessage { .. }
            | rustls::Error::InappropriateHandshakeMessage { .. },
        ) => TlsOutcome::NoTls {
            reason: e.to_string(),
        },
        _ if matches!(
            e.kind(),
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
        ) =>
        {
            TlsOutcome::Closed {
                reason: format!("the server hung up during the handshake ({e})"),
            }
        }
        _ => TlsOutcome::Error {
            message: e.to_string(),
        },
    }
}

pub async fn tls(
    addr: SocketAddr,
    sni: &str,
    ca_pem: Option<&str>,
    deadline: Duration,
    recorder: Option<&Recorder>,
) -> TlsObservation {
    let started = Instant::now();
    let mut obs = TlsObservation::only(TlsOutcome::Timeout);
    let work = async {
        let tcp = match TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                obs.outcome = TlsOutcome::Refused;
                return;
            }
            Err(e) => {
                obs.outcome = TlsOutcome::Error {
                    message: e.to_string(),
                };
                return;
            }
        };
        obs.connect_ms = Some(ms(started.elapsed()));
        if let (Some(r), Ok(local)) = (recorder, tcp.local_addr()) {
            r.pin_local(local);
        }
        let (config, verifier) = match client_config(ca_pem) {
            Ok(c) => c,
            Err(message) => {
                obs.outcome = TlsOutcome::Error { message };
                return;
            }
        };
        let Ok(name) = ServerName::try_from(sni.to_owned()) else {
            obs.outcome = TlsOutcome::Error {
                message: format!("`{sni}` is not a server name"),
            };
            return;
        };
        let handshake_started = Instant::now();
        let result = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await;
        obs.subject = verifier
            .seen
            .lock()
            .ok()
            .and_then(|s| s.as_deref().and_then(super::cert_subject::subject));
        let mut stream = match result {
            Ok(s) => s,
            Err(e) => {
                obs.outcome = classify_tls_error(&e);
                return;
            }
        };
        obs.handshake_ms = Some(ms(handshake_started.elapsed()));
        {
            let (_, conn) = stream.get_ref();
            obs.version = conn.protocol_version().map(|v| format!("{v:?}"));
            obs.cipher = conn
                .negotiated_cipher_suite()
                .map(|c| format!("{:?}", c.suite()));
        }
        obs.outcome = TlsOutcome::Verified;
        let request = format!("GET /whoami HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n");
        let asked = Instant::now();
        if stream.write_all(request.as_bytes()).await.is_err() {
            return;
        }
        let mut first = [0u8; 1];
        if let Ok(1) = stream.read(&mut first).await {
            obs.first_byte_ms = Some(ms(asked.elapsed()));
        }
        let mut rest = Vec::new();
        // Ok: the server sent close_notify; UnexpectedEof: it just hung up.
        obs.close_notify = Some(stream.read_to_end(&mut rest).await.is_ok());
    };
    let _ = tokio::time::timeout(deadline, work).await;
    obs
}

/// `GET /whoami` at `addr` — over TLS presenting `sni` and trusting
/// `ca_pem` when `tls` is given — and the identity the agent reports there.
pub async fn whoami(
    addr: SocketAddr,
    tls: Option<(&str, Option<&str>)>,
    deadline: Duration,
) -> Result<Identity, String> {
    let work = async {
        let tcp = TcpStream::connect(addr).await.map_err(|e| format!("{e}"))?;
        whoami_on(tcp, addr, tls).await
    };
    tokio::time::timeout(deadline, work)
        .await
        .unwrap_or_else(|_| Err("no answer before the deadline".into()))
}

/// `GET /whoami` on a connection already open to `addr` (the caller sets
/// the deadline): a tcp probe of a web listener asks on the connection it
/// opened, so a recording shows one connection.
pub async fn whoami_on(
    tcp: TcpStream,
    addr: SocketAddr,
    tls: Option<(&str, Option<&str>)>,
) -> Result<Identity, String> {
    {
        let (io, host): (Box<dyn Io>, String) = match tls {
            Some((sni, ca_pem)) => {
                let (config, _) = client_config(ca_pem)?;
                let name =
                    ServerName::try_from(sni.to_owned()).map_err(|e| format!("{sni}: {e}"))?;
                let stream = tokio_rustls::TlsConnector::from(config)
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS: {:?}", classify_tls_error(&e)))?;
                (Box::new(stream), sni.to_owned())
            }
            None => (Box::new(tcp), addr.to_string()),
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        tokio::spawn(conn);
        let request = hyper::Request::builder()
            .uri("/whoami")
            .header("host", host)
            .header("user-agent", "netlab")
            .body(Full::new(Bytes::new()))
            .map_err(|e| format!("bad request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .map_err(|e| format!("HTTP: {e}"))?;
        if status != 200 {
            return Err(format!("HTTP {status} from /whoami: not an agent"));
        }
        serde_json::from_slice::<Identity>(&body)
            .map_err(|_| "an HTTP server that is not an agent answered /whoami".to_owned())
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One request/answer over a fresh connection.
#[allow(clippy::too_many_arguments)]
async fn exchange(
    url: &url::Url,
    method: &str,
    body: Option<&str>,
    cookies: &str,
    tls: Option<&Arc<rustls::ClientConfig>>,
    family: IpFamily,
    deadline: Duration,
    recorder: Option<&Recorder>,
) -> Result<Answer, String> {
    let host = url.host_str().ok_or_else(|| format!("{url} has no host"))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| format!("{url} has no port"))?;
    let ip = resolve::first_address(host, family, deadline).await?;
    if let Some(r) = recorder {
        r.watch(SocketAddr::new(ip, port));
    }
    let tcp = TcpStream::connect(SocketAddr::new(ip, port))
        .await
        .map_err(|e| format!("connect to {ip}:{port}: {e}"))?;
    if let (Some(r), Ok(local)) = (recorder, tcp.local_addr()) {
        r.pin_local(local);
    }
    let io: Box<dyn Io> = match (url.scheme(), tls) {
        ("https", Some(config)) => {
            // An address literal is presented as an address, brackets off.
            let name = match url.host() {
                Some(url::Host::Ipv6(ip)) => ServerName::IpAddress(std::net::IpAddr::V6(ip).into()),
                Some(url::Host::Ipv4(ip)) => ServerName::IpAddress(std::net::IpAddr::V4(ip).into()),
                _ => ServerName::try_from(host.to_owned()).map_err(|e| format!("{host}: {e}"))?,
            };
            let stream = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {host}: {:?}", classify_tls_error(&e)))?;
            Box::new(stream)
        }
        ("http", _) => Box::new(tcp),
        (scheme, _) => return Err(format!("unsupported scheme {scheme}")),
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP to {host}: {e}"))?;
    tokio::spawn(conn);
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let authority = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    };
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", authority)
        .header("user-agent", "netlab");
    if !cookies.is_empty() {
        request = request.header("cookie", cookies);
    }
    if body.is_some() {
        request = request.header("content-type", "text/plain");
    }
    let request = request
        .body(Full::new(Bytes::from(body.unwrap_or_default().to_owned())))
        .map_err(|e| format!("bad request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("HTTP to {host}: {e}"))?;
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let location = header("location");
    let node = header("x-netlab-node");
    let identity = match (header("x-netlab-lab"), &node) {
        (Some(lab), Some(node)) => Some(Identity {
            lab,
            node: node.clone(),
            host: header("x-netlab-host"),
        }),
        _ => None,
    };
    let set_cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(|c| c.trim().to_owned())
        .collect();
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    Ok(Answer {
        status,
        location,
        set_cookies,
        node,
        identity,
        body,
    })
}

/// What one exchange brought back.
struct Answer {
    status: u16,
    location: Option<String>,
    set_cookies: Vec<String>,
    node: Option<String>,
    identity: Option<Identity>,
    body: String,
}

/// What an http probe asks.
pub struct HttpRequest<'a> {
    pub url: &'a str,
    pub method: &'a str,
    pub body: Option<&'a str>,
    pub ca_pem: Option<&'a str>,
    pub max_redirects: u32,
    /// Where a redirect may lead; `None`: anywhere (`--allow-external`).
    pub follow_only: Option<&'a FollowOnly>,
    /// Told of every connection the exchange makes, when recording.
    pub recorder: Option<&'a Recorder>,
    /// The family names are resolved to, on every hop.
    pub family: IpFamily,
}

pub async fn http(request: &HttpRequest<'_>, deadline: Duration) -> HttpObservation {
    let HttpRequest {
        url,
        method,
        body,
        ca_pem,
        max_redirects,
        follow_only,
        recorder,
        family,
    } = *request;
    let mut obs = HttpObservation::default();
    let work = async {
        let tls = match client_config(ca_pem) {
            Ok((config, _)) => config,
            Err(e) => {
                obs.error = Some(e);
                return;
            }
        };
        let mut url = match url::Url::parse(url) {
            Ok(u) => u,
            Err(e) => {
                obs.error = Some(format!("bad URL {url}: {e}"));
                return;
            }
        };
        let (mut method, mut send_body) = (method.to_ascii_uppercase(), body.is_some());
        // Cookies per host, as a browser keeps them for a site.
        let mut jar: HashMap<String, Vec<String>> = HashMap::new();
        loop {
            let host = url.host_str().unwrap_or_default().to_owned();
            let cookies = jar.get(&host).map(|c| c.join("; ")).unwrap_or_default();
            let sent = if send_body { body } else { None };
            let Answer {
                status,
                location,
                set_cookies,
                node,
                identity,
                body: final_body,
            } = match exchange(
                &url,
                &method,
                sent,
                &cookies,
                Some(&tls),
                family,
                deadline,
                recorder,
            )
            .await
            {
                Ok(r) => r,
                Err(e) => {
                    obs.error = Some(e);
                    return;
                }
            };
            for c in set_cookies {
                let name = c.split('=').next().unwrap_or_default().to_owned();
                let host_jar = jar.entry(host.clone()).or_default();
                host_jar.retain(|known| known.split('=').next() != Some(name.as_str()));
                host_jar.push(c);
            }
            obs.hops.push(HttpHop {
                url: url.to_string(),
                method: method.clone(),
                body_sent: sent.is_some(),
                status,
                location: location.clone(),
                node,
                identity,
            });
            obs.final_body = final_body;
            let (Some(next), Some(location)) = (redirect::next_hop(status, &method), location)
            else {
                return;
            };
            if obs.hops.len() > max_redirects as usize {
                obs.error = Some(format!(
                    "stopped after {max_redirects} redirects (a redirect loop?)"
                ));
                return;
            }
            url = match url.join(&location) {
                Ok(u) => u,
                Err(e) => {
                    obs.error = Some(format!("bad Location {location}: {e}"));
                    return;
                }
            };
            if let Some(why) = follow_only.and_then(|allowed| allowed.refusal(&url, family)) {
                obs.note = Some(format!(
                    "the redirect to {url} was not followed: {why}; `--allow-external` lifts this"
                ));
                return;
            }
            method = next.method;
            send_body &= next.keep_body;
        }
    };
    if tokio::time::timeout(deadline, work).await.is_err() {
        obs.error = Some("no complete answer before the deadline".into());
    }
    obs
}
