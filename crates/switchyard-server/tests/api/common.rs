//! A real server on 127.0.0.1:0 and a small client for it.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use switchyard_core::sid::AccountSid;
use switchyard_core::Timestamp;
use switchyard_engine::{Engine, EngineOptions, ManualClock};
use switchyard_server::{AppState, ServerConfig};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ACCOUNT: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub const TOKEN: &str = "secret-a";
pub const OTHER_ACCOUNT: &str = "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
pub const OTHER_TOKEN: &str = "secret-b";

/// 2014-05-14T10:50:02Z, the date in Twilio's examples.
pub const START: Timestamp = Timestamp::from_millis(1_400_064_602_000);

pub struct Server {
    pub base: String,
    pub clock: Arc<ManualClock>,
    client: reqwest::Client,
    auth: (String, String),
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    engine: Engine,
}

impl Server {
    pub async fn start() -> Server {
        Server::start_on(
            &switchyard_engine::testing::database(),
            EngineOptions::default(),
        )
        .await
    }

    pub async fn start_on(url: &str, options: EngineOptions) -> Server {
        Server::start_at(url, options, START).await
    }

    /// A server on a fresh in-memory database with settings changed by `configure`.
    pub async fn start_configured(configure: impl FnOnce(ServerConfig) -> ServerConfig) -> Server {
        Server::start_full(
            &switchyard_engine::testing::database(),
            EngineOptions::default(),
            START,
            configure,
        )
        .await
    }

    pub async fn start_at(url: &str, options: EngineOptions, start: Timestamp) -> Server {
        Server::start_full(url, options, start, |c| c).await
    }

    async fn start_full(
        url: &str,
        options: EngineOptions,
        start: Timestamp,
        configure: impl FnOnce(ServerConfig) -> ServerConfig,
    ) -> Server {
        let clock = Arc::new(ManualClock::new(start));
        let store = switchyard_engine::Store::open(url)
            .await
            .expect("store opens");
        let engine = Engine::new(store, clock.clone(), options);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = ServerConfig::new(base.clone())
            .with_account(ACCOUNT.parse::<AccountSid>().unwrap(), TOKEN)
            .with_account(OTHER_ACCOUNT.parse::<AccountSid>().unwrap(), OTHER_TOKEN);
        let state = AppState::new(engine.clone(), configure(config))
            .await
            .unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            switchyard_server::serve(listener, state, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Server {
            base,
            clock,
            client: reqwest::Client::new(),
            auth: (ACCOUNT.to_owned(), TOKEN.to_owned()),
            shutdown: Some(tx),
            task: Some(task),
            engine,
        }
    }

    /// Stops the server and closes its store, as a process exit would.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        self.engine.close().await;
    }

    /// The same server seen with another account's credentials.
    pub fn as_account(&self, sid: &str, token: &str) -> Client<'_> {
        Client {
            server: self,
            auth: Some((sid.to_owned(), token.to_owned())),
        }
    }

    pub fn anonymous(&self) -> Client<'_> {
        Client {
            server: self,
            auth: None,
        }
    }

    fn me(&self) -> Client<'_> {
        Client {
            server: self,
            auth: Some(self.auth.clone()),
        }
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.me().get(path).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        self.me().post(path, form).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.me().request(Method::DELETE, path, &[], &[]).await.0
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> ((StatusCode, Value), reqwest::header::HeaderMap) {
        self.me().request(method, path, form, headers).await
    }

    /// POSTs a JSON body, as the SDKs do for the bulk statistics endpoint.
    pub async fn post_json(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let res = self
            .client
            .post(format!("{}/v1{path}", self.base))
            .basic_auth(ACCOUNT, Some(TOKEN))
            .json(body)
            .send()
            .await
            .expect("request sent");
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Creates a workspace and returns its SID.
    pub async fn workspace(&self, name: &str) -> String {
        let (status, body) = self.post("/Workspaces", &[("FriendlyName", name)]).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["sid"].as_str().unwrap().to_owned()
    }

    /// The SID of the workspace's activity with this name.
    pub async fn activity(&self, ws: &str, name: &str) -> String {
        let (_, body) = self
            .get(&format!("/Workspaces/{ws}/Activities?FriendlyName={name}"))
            .await;
        body["activities"][0]["sid"]
            .as_str()
            .unwrap_or_else(|| panic!("no activity {name}"))
            .to_owned()
    }
}

pub struct Client<'a> {
    server: &'a Server,
    auth: Option<(String, String)>,
}

impl Client<'_> {
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.request(Method::GET, path, &[], &[]).await.0
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        self.request(Method::POST, path, form, &[]).await.0
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> ((StatusCode, Value), reqwest::header::HeaderMap) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else if path.starts_with('/')
            && !path.starts_with("/v1")
            && !path.starts_with("/_switchyard")
            && path != "/health"
        {
            format!("{}/v1{path}", self.server.base)
        } else {
            format!("{}{path}", self.server.base)
        };
        let mut req = self.server.client.request(method.clone(), url);
        if let Some((u, p)) = &self.auth {
            req = req.basic_auth(u, Some(p));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if method == Method::POST {
            req = req.form(form);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        ((status, body), headers)
    }
}

/// Asserts a Twilio-shaped error.
#[track_caller]
pub fn assert_error(got: &(StatusCode, Value), status: u16, code: u64, message_part: &str) {
    let (s, body) = got;
    assert_eq!(s.as_u16(), status, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(
        body["more_info"],
        format!("https://www.twilio.com/docs/errors/{code}"),
        "{body}"
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(message_part),
        "message {message:?} lacks {message_part:?}"
    );
}

/// One assignment callback as the app received it.
#[derive(Debug, Clone)]
pub struct Callback {
    pub url: String,
    pub params: std::collections::HashMap<String, String>,
    pub pairs: Vec<(String, String)>,
    pub signature: String,
}

/// How the fake app answers: status, content type, body, and a delay before answering.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub delay_ms: u64,
}

impl Reply {
    pub fn json(body: &str) -> Reply {
        Reply {
            status: 200,
            body: body.to_owned(),
            delay_ms: 0,
        }
    }
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            body: String::new(),
            delay_ms: 0,
        }
    }
}

/// A fake app server on 127.0.0.1 that records assignment callbacks and answers them.
pub struct Receiver {
    pub url: String,
    rx: tokio::sync::mpsc::UnboundedReceiver<Callback>,
    reply: Arc<std::sync::Mutex<Reply>>,
}

impl Receiver {
    pub async fn start(reply: Reply) -> Receiver {
        use axum::extract::State as AxState;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/assignment", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let reply = Arc::new(std::sync::Mutex::new(reply));
        type Shared = (
            tokio::sync::mpsc::UnboundedSender<Callback>,
            Arc<std::sync::Mutex<Reply>>,
            String,
        );
        async fn handle(
            AxState((tx, reply, url)): AxState<Shared>,
            uri: axum::http::Uri,
            headers: axum::http::HeaderMap,
            body: String,
        ) -> axum::response::Response {
            let url = url.replace("/assignment", uri.path());
            use axum::response::IntoResponse;
            let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
            let signature = headers
                .get("x-twilio-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let r = reply.lock().unwrap().clone();
            let _ = tx.send(Callback {
                url: url.clone(),
                params: pairs.iter().cloned().collect(),
                pairs,
                signature,
            });
            if r.delay_ms > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(r.delay_ms)).await;
            }
            let status = axum::http::StatusCode::from_u16(r.status).unwrap();
            let content_type = if uri.path() == "/plain" {
                "text/plain"
            } else {
                "application/json"
            };
            (
                status,
                [(axum::http::header::CONTENT_TYPE, content_type)],
                r.body,
            )
                .into_response()
        }
        let app = axum::Router::new()
            .route("/assignment", axum::routing::post(handle))
            .route("/fallback", axum::routing::post(handle))
            .route("/plain", axum::routing::post(handle))
            .with_state((tx, reply.clone(), url.clone()));
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { url, rx, reply }
    }

    pub fn fallback_url(&self) -> String {
        self.url.replace("/assignment", "/fallback")
    }

    pub fn set_reply(&self, reply: Reply) {
        *self.reply.lock().unwrap() = reply;
    }

    /// The next callback, within 5 seconds.
    pub async fn next(&mut self) -> Callback {
        tokio::time::timeout(std::time::Duration::from_secs(5), self.rx.recv())
            .await
            .expect("a callback within 5 s")
            .expect("receiver open")
    }

    /// The next callback, if one arrives within `ms`.
    pub async fn within(&mut self, ms: u64) -> Option<Callback> {
        tokio::time::timeout(std::time::Duration::from_millis(ms), self.rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// Asserts no callback arrives within `ms`.
    pub async fn none_within(&mut self, ms: u64) {
        if let Ok(Some(cb)) =
            tokio::time::timeout(std::time::Duration::from_millis(ms), self.rx.recv()).await
        {
            panic!("unexpected callback: {cb:?}");
        }
    }
}

impl Server {
    /// Polls `path` until `check` holds on the body (callbacks act asynchronously), for up to 5 s.
    pub async fn eventually(&self, path: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let (_, body) = self.get(path).await;
            if check(&body) {
                return body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "condition never held; last body: {body}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    pub async fn create(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let (status, body) = self.post(path, form).await;
        assert_eq!(status, StatusCode::CREATED, "{path}: {body}");
        body
    }

    pub async fn ok(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let (status, body) = self.post(path, form).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }
}

pub fn sid_of(v: &Value) -> String {
    v["sid"].as_str().expect("a sid").to_owned()
}
