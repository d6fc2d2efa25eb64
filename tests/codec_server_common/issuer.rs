//! A stand-in identity provider: serves a JSON Web Key Set at `/jwks` on 127.0.0.1, over plain
//! HTTP or TLS, and can be told to answer 500, answer garbage, redirect elsewhere, or hang. It
//! speaks just enough HTTP/1.1 for one request per connection (`Connection: close`), and counts
//! the requests it gets and the hanging ones whose client has not gone away.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// What the JWKS endpoint does.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Answers 200 with the key set.
    Keys,
    /// Answers 500.
    Fail,
    /// Answers 200 with a body that is not a key set.
    Garbage,
    /// Answers 302 to this URL.
    Redirect(String),
    /// Reads the request and never answers, until [`Issuer::release`].
    Hang,
}

/// An ES256 signing key and its public JWK.
pub struct Signer {
    pub kid: String,
    key: EncodingKey,
    pub jwk: Value,
}

impl Signer {
    /// A fresh key named `kid`.
    pub fn new(kid: &str) -> Self {
        let pair = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let raw = pair.public_key_raw();
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&raw[1..33]), "y": URL_SAFE_NO_PAD.encode(&raw[33..65]),
        });
        let key = EncodingKey::from_ec_der(&pair.serialize_der());
        Self {
            kid: kid.into(),
            key,
            jwk,
        }
    }

    /// A token with `claims`, signed by this key and naming its `kid`.
    pub fn token(&self, claims: Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
    }

    /// A token signed by this key but naming `kid`.
    pub fn token_naming(&self, kid: &str, claims: Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
    }
}

/// The running stand-in.
pub struct Issuer {
    /// `http://127.0.0.1:PORT` or `https://localhost:PORT`.
    pub base: String,
    /// The keys served in [`Mode::Keys`].
    pub keys: Arc<Mutex<Vec<Value>>>,
    mode: Arc<Mutex<Mode>>,
    requests: Arc<AtomicUsize>,
    hanging: Arc<AtomicUsize>,
    release: Arc<Notify>,
}

impl Issuer {
    /// Starts serving `keys` over plain HTTP.
    pub async fn start(keys: Vec<Value>) -> Self {
        Self::start_with(keys, None).await
    }

    /// Starts serving `keys`, over TLS when `tls` is given (as `https://localhost:PORT`).
    pub async fn start_with(keys: Vec<Value>, tls: Option<rustls::ServerConfig>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let base = match tls {
            Some(_) => format!("https://localhost:{port}"),
            None => format!("http://127.0.0.1:{port}"),
        };
        let issuer = Self {
            base,
            keys: Arc::new(Mutex::new(keys)),
            mode: Arc::new(Mutex::new(Mode::Keys)),
            requests: Arc::default(),
            hanging: Arc::default(),
            release: Arc::new(Notify::new()),
        };
        let acceptor = tls.map(|c| tokio_rustls::TlsAcceptor::from(Arc::new(c)));
        let shared = issuer.shared();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        Some(acceptor) => {
                            if let Ok(tls) = acceptor.accept(stream).await {
                                shared.answer(tls).await;
                            }
                        }
                        None => shared.answer(stream).await,
                    }
                });
            }
        });
        issuer
    }

    fn shared(&self) -> Shared {
        Shared {
            keys: self.keys.clone(),
            mode: self.mode.clone(),
            requests: self.requests.clone(),
            hanging: self.hanging.clone(),
            release: self.release.clone(),
        }
    }

    /// The JWKS URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.base)
    }

    /// Changes what the endpoint does from the next request on.
    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Hanging requests whose client is still connected.
    pub fn hanging(&self) -> usize {
        self.hanging.load(Ordering::SeqCst)
    }

    /// Lets every hanging request end (without an answer).
    pub fn release(&self) {
        self.release.notify_waiters();
    }
}

#[derive(Clone)]
struct Shared {
    keys: Arc<Mutex<Vec<Value>>>,
    mode: Arc<Mutex<Mode>>,
    requests: Arc<AtomicUsize>,
    hanging: Arc<AtomicUsize>,
    release: Arc<Notify>,
}

impl Shared {
    async fn answer<S: AsyncRead + AsyncWrite + Unpin>(&self, mut stream: S) {
        let mut head = Vec::new();
        let mut byte = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut byte).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&byte[..n]),
            }
            if head.len() > 64 * 1024 {
                return;
            }
        }
        self.requests.fetch_add(1, Ordering::SeqCst);
        let mode = self.mode.lock().unwrap().clone();
        let (status, extra, body) = match mode {
            Mode::Keys => (
                "200 OK",
                String::new(),
                json!({"keys": *self.keys.lock().unwrap()}).to_string(),
            ),
            Mode::Fail => ("500 Internal Server Error", String::new(), "oops".into()),
            Mode::Garbage => ("200 OK", String::new(), "<html>not a key set</html>".into()),
            Mode::Redirect(to) => ("302 Found", format!("Location: {to}\r\n"), String::new()),
            Mode::Hang => {
                self.hanging.fetch_add(1, Ordering::SeqCst);
                let released = self.release.notified();
                tokio::pin!(released);
                let mut rest = [0u8; 64];
                loop {
                    tokio::select! {
                        () = &mut released => break,
                        read = stream.read(&mut rest) => match read {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {}
                        },
                    }
                }
                self.hanging.fetch_sub(1, Ordering::SeqCst);
                return;
            }
        };
        let answer = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    }
}
