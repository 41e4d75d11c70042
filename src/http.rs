//! HTTP: GraphQL over HTTP (POST and GET on `/graphql`), health, readiness and metrics.
//!
//! Follows the GraphQL-over-HTTP spec: the response media type is the one the client
//! accepts (`application/graphql-response+json`, else `application/json`); request errors
//! answer 400 without a `data` entry under both media types, as api.md asks. Only JSON bodies are read, so a browser form
//! cannot post a cross-site mutation; GET runs queries only.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_graphql::parser::types::OperationType;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::auth::{self, Viewer};
use crate::db::audit::{self, NewEvent};
use crate::db::users;
use crate::error::Error;
use crate::graphql::{self, PorticoSchema, RequestCtx};
use crate::AppState;

/// Largest request body, in bytes.
pub const MAX_BODY: usize = 1 << 20;
/// Most operations in one batch.
pub const MAX_BATCH: usize = 20;

/// Header that asks to read the API as another user.
pub const VIEW_AS: &str = "x-portico-view-as";

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

struct Shared {
    state: AppState,
    schema: PorticoSchema,
}

pub fn router(state: AppState) -> Router {
    let schema = graphql::schema(state.clone());
    let shared = Arc::new(Shared { state, schema });
    let mut router = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY));
    for (name, value) in SECURITY_HEADERS {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    router.with_state(shared)
}

/// Headers on every answer: nothing is to be sniffed, framed, cached (answers carry
/// session tokens and private data) or sent on as a referrer; an answer is data, never a
/// page that runs anything (the IDE page sets its own, wider policy).
const SECURITY_HEADERS: [(header::HeaderName, &str); 5] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::CACHE_CONTROL, "no-store"),
    (header::REFERRER_POLICY, "no-referrer"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'",
    ),
];

/// The IDE page loads GraphiQL from its CDN and runs one inline script; it talks only to
/// this server.
const IDE_POLICY: &str = "default-src 'none'; script-src https://unpkg.com 'unsafe-inline'; style-src https://unpkg.com 'unsafe-inline'; font-src https://unpkg.com data:; img-src data:; connect-src 'self'; frame-ancestors 'none'";

/// The client's address: the first entry of X-Forwarded-For when the server trusts it,
/// else the connection's peer (when the server was started with connection info).
struct ClientAddr(Option<std::net::IpAddr>);

impl axum::extract::FromRequestParts<Arc<Shared>> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        shared: &Arc<Shared>,
    ) -> Result<Self, Self::Rejection> {
        if shared.state.trust_forwarded_for {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|a| a.trim().parse().ok());
            if forwarded.is_some() {
                return Ok(ClientAddr(forwarded));
            }
        }
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

const UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
/// How long a client should wait before retrying after an outage, in seconds.
const RETRY_AFTER_SECS: &str = "2";

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    requests: AtomicU64,
    request_errors: AtomicU64,
    operations: AtomicU64,
    seconds_micros: AtomicU64,
    errors_by_code: std::sync::Mutex<HashMap<String, u64>>,
}

impl Metrics {
    fn error_code(&self, code: &str) {
        if let Ok(mut m) = self.errors_by_code.lock() {
            *m.entry(code.to_string()).or_insert(0) += 1;
        }
    }
}

/// Which media type the answer uses.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Media {
    GraphqlResponse,
    Json,
}

impl Media {
    fn content_type(self) -> &'static str {
        match self {
            Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Media::Json => "application/json; charset=utf-8",
        }
    }
    /// Status of a request error: api.md asks 4xx for unparsable or invalid documents
    /// under both media types (the GraphQL-over-HTTP spec allows that for
    /// application/json, where it only recommends 200).
    fn request_error_status(self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }
}

/// Picks the media type from `Accept`; `None` when nothing acceptable is offered.
fn negotiate(headers: &HeaderMap) -> Option<Media> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(Media::Json);
    };
    let mut best: Option<(f32, Media)> = None;
    for part in accept.split(',') {
        let mut pieces = part.split(';');
        let mime = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.parse::<f32>().ok())
            .unwrap_or(1.0);
        let media = match mime.as_str() {
            GRAPHQL_RESPONSE => Media::GraphqlResponse,
            JSON | "*/*" | "application/*" => Media::Json,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, media));
        }
    }
    best.map(|(_, m)| m)
}

fn respond(status: StatusCode, media: Media, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.content_type()),
    );
    resp
}

/// A request that is not a well-formed GraphQL-over-HTTP request, or whose caller cannot be
/// established: no `data`, one error with a code, and the HTTP status under both media
/// types. (Invalid GraphQL documents are answered by [`finish`] instead.)
fn request_error(
    shared: &Shared,
    media: Media,
    status: StatusCode,
    code: &str,
    message: &str,
) -> Response {
    shared
        .state
        .metrics
        .request_errors
        .fetch_add(1, Ordering::Relaxed);
    shared.state.metrics.error_code(code);
    respond(
        status,
        media,
        json!({ "errors": [{ "message": message, "extensions": { "code": code } }] }).to_string(),
    )
}

fn plain(status: StatusCode, message: &str) -> Response {
    (status, message.to_string()).into_response()
}

/// Turns one JSON request object into a GraphQL request, checking the parameter types.
fn parse_params(v: Value) -> Result<async_graphql::Request, &'static str> {
    let Value::Object(mut obj) = v else {
        return Err("the request body must be a JSON object (or an array of them)");
    };
    let query = match obj.remove("query") {
        Some(Value::String(q)) => q,
        _ => return Err("'query' must be a string"),
    };
    let mut req = async_graphql::Request::new(query);
    match obj.remove("operationName") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => req = req.operation_name(name),
        Some(_) => return Err("'operationName' must be a string or null"),
    }
    match obj.remove("variables") {
        None | Some(Value::Null) => {}
        Some(v @ Value::Object(_)) => {
            req = req.variables(async_graphql::Variables::from_json(v));
        }
        Some(_) => return Err("'variables' must be an object or null"),
    }
    match obj.remove("extensions") {
        None | Some(Value::Null) => {}
        Some(Value::Object(ext)) => {
            for (k, v) in ext {
                if let Ok(v) = async_graphql::Value::from_json(v) {
                    req.extensions.insert(k, v);
                }
            }
        }
        Some(_) => return Err("'extensions' must be an object or null"),
    }
    Ok(req)
}

async fn graphql_post(
    State(shared): State<Arc<Shared>>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(media) = negotiate(&headers) else {
        return plain(
            StatusCode::NOT_ACCEPTABLE,
            "accept application/graphql-response+json or application/json",
        );
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != JSON {
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request as application/json",
        );
    }
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return request_error(
                &shared,
                media,
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                "the request body is not valid JSON",
            );
        }
    };
    let (items, batch) = match parsed {
        Value::Array(items) => (items, true),
        other => (vec![other], false),
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return request_error(
            &shared,
            media,
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            &format!("a batch holds between 1 and {MAX_BATCH} operations"),
        );
    }
    let mut requests = Vec::with_capacity(items.len());
    for item in items {
        match parse_params(item) {
            Ok(r) => requests.push(r),
            Err(msg) => {
                return request_error(
                    &shared,
                    media,
                    StatusCode::BAD_REQUEST,
                    "BAD_USER_INPUT",
                    msg,
                )
            }
        }
    }
    execute(&shared, &headers, client, requests, batch, media).await
}

async fn graphql_get(
    State(shared): State<Arc<Shared>>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(query) = params.get("query") else {
        let mut page = Html(IDE_HTML).into_response();
        page.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(IDE_POLICY),
        );
        return page;
    };
    let Some(media) = negotiate(&headers) else {
        return plain(
            StatusCode::NOT_ACCEPTABLE,
            "accept application/graphql-response+json or application/json",
        );
    };
    let mut obj = Map::new();
    obj.insert("query".into(), Value::String(query.clone()));
    if let Some(name) = params.get("operationName") {
        obj.insert("operationName".into(), Value::String(name.clone()));
    }
    for key in ["variables", "extensions"] {
        if let Some(raw) = params.get(key) {
            match serde_json::from_str::<Value>(raw) {
                Ok(v) => {
                    obj.insert(key.into(), v);
                }
                Err(_) => {
                    return request_error(
                        &shared,
                        media,
                        StatusCode::BAD_REQUEST,
                        "BAD_USER_INPUT",
                        "'variables' and 'extensions' must be JSON",
                    )
                }
            }
        }
    }
    let mut request = match parse_params(Value::Object(obj)) {
        Ok(r) => r,
        Err(msg) => {
            return request_error(
                &shared,
                media,
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                msg,
            )
        }
    };
    if is_mutation(&mut request) {
        let mut resp = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations are accepted by POST only",
        );
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    execute(&shared, &headers, client, vec![request], false, media).await
}

/// Does the operation that would run mutate? (An unparsable document is left to execution,
/// which reports it.)
fn is_mutation(req: &mut async_graphql::Request) -> bool {
    operation_type(req).is_some_and(|t| t != OperationType::Query)
}

/// The type of the operation that would run, when the document parses and names it. The
/// parsed document stays in the request, so execution does not parse it again.
fn operation_type(req: &mut async_graphql::Request) -> Option<OperationType> {
    use async_graphql::parser::types::DocumentOperations;
    let name = req.operation_name.clone();
    let doc = req.parsed_query().ok()?;
    match (&doc.operations, name.as_deref()) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        _ => None,
    }
}

/// Who is calling, with "view as" applied. `Ok(None)` for an anonymous request; an unknown,
/// expired or revoked token is anonymous too, so that `login` still works and everything
/// else answers UNAUTHENTICATED.
async fn resolve_viewer(state: &AppState, headers: &HeaderMap) -> Result<Option<Viewer>, Error> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let view_as = headers.get(VIEW_AS).and_then(|v| v.to_str().ok());
    let viewer = match bearer {
        Some(token) => match auth::authenticate(&state.db, token).await {
            Ok(v) => Some(v),
            Err(Error::Unauthenticated) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    let Some(target) = view_as else {
        return Ok(viewer);
    };
    let Some(me) = viewer else {
        return Err(Error::Unauthenticated);
    };
    if me.key_projects.is_some() {
        // A key narrowed to projects carries none of its owner's global rights.
        return Err(Error::forbidden(
            "X-Portico-View-As needs IMPERSONATE, which a key narrowed to projects does not carry",
        ));
    }
    let rights = crate::authz::load::profile_rights(&state.db).await?;
    let mut mine = crate::authz::normalize_global(
        rights.get(&me.user.profile_id).copied().unwrap_or_default(),
    );
    if me.user.kind == "EXTERNAL" {
        // An external user's global rights stay under the ceiling, IMPERSONATE included.
        mine = mine.intersect(crate::authz::load::external_ceiling(&state.db).await?);
    }
    if !(mine.contains(crate::authz::Right::Impersonate)
        || mine.contains(crate::authz::Right::Admin))
    {
        return Err(Error::forbidden("X-Portico-View-As needs IMPERSONATE"));
    }
    let target_id =
        crate::graphql::ids::decode("User", &async_graphql::ID(target.trim().to_string()))
            .ok_or(Error::NotFound)?;
    let user = users::find_user_unscoped(&state.db, target_id)
        .await?
        .ok_or(Error::NotFound)?;
    let theirs = rights.get(&user.profile_id).copied().unwrap_or_default();
    if theirs.contains(crate::authz::Right::Admin) && !mine.contains(crate::authz::Right::Admin) {
        // Reading as an administrator would let IMPERSONATE see everything.
        return Err(Error::forbidden("only ADMIN may view as an administrator"));
    }
    Ok(Some(Viewer {
        user,
        via: me.via.clone(),
        impersonator: Some(me.user.clone()),
        read_only: true,
        key_projects: me.key_projects.clone(),
        access_version: me.access_version,
    }))
}

async fn execute(
    shared: &Shared,
    headers: &HeaderMap,
    client: Option<std::net::IpAddr>,
    requests: Vec<async_graphql::Request>,
    batch: bool,
    media: Media,
) -> Response {
    let started = Instant::now();
    let metrics = &shared.state.metrics;
    metrics.requests.fetch_add(1, Ordering::Relaxed);
    let viewer = match resolve_viewer(&shared.state, headers).await {
        Ok(v) => v,
        Err(e) => {
            let status = match e {
                Error::Unauthenticated => StatusCode::UNAUTHORIZED,
                Error::Forbidden(_) => StatusCode::FORBIDDEN,
                Error::NotFound => StatusCode::NOT_FOUND,
                Error::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let message = match &e {
                Error::Database(c) => crate::error::internal(c),
                Error::Other(c) => crate::error::internal(c),
                other => other.public_message(),
            };
            let mut resp = request_error(shared, media, status, e.code(), &message);
            if matches!(e, Error::Unavailable) {
                resp.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECS),
                );
            }
            return resp;
        }
    };
    if let Some(v) = &viewer {
        if let Some(imp) = &v.impersonator {
            let names: Vec<&str> = requests
                .iter()
                .filter_map(|r| r.operation_name.as_deref())
                .collect();
            let event = NewEvent {
                actor_id: Some(v.user.id),
                impersonator_id: Some(imp.id),
                action: "IMPERSONATED_REQUEST",
                target: Some(crate::graphql::ids::encode("User", v.user.id).0),
                details: json!({ "operations": names }),
            };
            if let Err(e) = audit::record_alone(&shared.state.db, event).await {
                let msg = crate::error::internal(&format!("{e:?}"));
                return request_error(
                    shared,
                    media,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL",
                    &msg,
                );
            }
        }
    }

    let mut bodies = Vec::with_capacity(requests.len());
    let mut all_request_errors = true;
    let mut unavailable = false;
    // The access version read with the credentials holds for the first operation, when it
    // is a query: a mutation, or an earlier operation of a batch, may change access.
    let mut access_version = viewer.as_ref().map(|v| v.access_version);
    // One `login` per HTTP request, batches included: a request cannot check many passwords.
    let mut logins = 0;
    // One deadline for all of the request's operations.
    let deadline = tokio::time::Instant::from_std(started) + shared.state.request_timeout;
    for mut request in requests {
        metrics.operations.fetch_add(1, Ordering::Relaxed);
        let known_version = access_version
            .take()
            .filter(|_| operation_type(&mut request) == Some(OperationType::Query));
        let rc = Arc::new(RequestCtx::new(viewer.clone(), known_version, client));
        let refused = match crate::graphql::hygiene::check(&mut request) {
            Err(e) => Some(e),
            Ok(n) => {
                logins += n;
                (n > 0 && logins > 1)
                    .then(|| Error::bad_input("login", "at most one login per request"))
            }
        };
        let response = match refused {
            Some(e) => refused_whole(&e),
            None => {
                let run = shared.schema.execute(request.data(rc.clone()));
                match tokio::time::timeout_at(deadline, run).await {
                    Ok(response) => response,
                    // Dropping the execution cancels its statements and returns their
                    // connections; the caller learns why.
                    Err(_) => refused_whole(&Error::TooComplex(format!(
                        "the request ran past the server's limit of {} s and was stopped; ask for fewer items",
                        shared.state.request_timeout.as_secs()
                    ))),
                }
            }
        };
        unavailable |= response.errors.iter().any(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .is_some_and(|c| *c == async_graphql::Value::from(UNAVAILABLE))
        });
        let (body, request_error) = finish(response, &rc, metrics);
        all_request_errors &= request_error;
        bodies.push(body);
    }
    metrics
        .seconds_micros
        .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    if unavailable {
        // The same outage answers the same way wherever it struck: 503, retry shortly.
        let body = if batch {
            format!("[{}]", bodies.join(","))
        } else {
            bodies.pop().unwrap_or_default()
        };
        let mut resp = respond(StatusCode::SERVICE_UNAVAILABLE, media, body);
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
        return resp;
    }
    if batch {
        respond(StatusCode::OK, media, format!("[{}]", bodies.join(",")))
    } else {
        let status = if all_request_errors {
            media.request_error_status()
        } else {
            StatusCode::OK
        };
        respond(status, media, bodies.pop().unwrap_or_default())
    }
}

/// An operation refused as a whole, before or while it ran: one error with the code (and
/// field) of `e`, no location or path, no data.
fn refused_whole(e: &Error) -> async_graphql::Response {
    let e = async_graphql::ErrorExtensions::extend(e);
    let mut se = async_graphql::ServerError::new(e.message, None);
    se.extensions = e.extensions;
    async_graphql::Response::from_errors(vec![se])
}

/// Serialises a response: every error gets a code, a request error loses `data`, and
/// `extensions.redacted` lists the hidden fields. Answers whether it was a request error.
fn finish(
    mut response: async_graphql::Response,
    rc: &RequestCtx,
    metrics: &Metrics,
) -> (String, bool) {
    if response.errors.is_empty() {
        // The common case goes straight to text, without an intermediate JSON tree.
        if let Some(redacted) = rc.redacted() {
            if let Ok(v) = async_graphql::Value::from_json(redacted) {
                response.extensions.insert("redacted".into(), v);
            }
        }
        return (
            serde_json::to_string(&response).unwrap_or_else(|_| "{}".into()),
            false,
        );
    }
    let data_null = response.data == async_graphql::Value::Null;
    let mut body = serde_json::to_value(&response).unwrap_or_else(|_| json!({}));
    let mut request_error = false;
    if let Some(obj) = body.as_object_mut() {
        if let Some(Value::Array(errors)) = obj.get_mut("errors") {
            request_error = data_null
                && !errors.is_empty()
                && errors.iter().all(|e| {
                    e.get("path")
                        .is_none_or(|p| p.as_array().is_none_or(Vec::is_empty))
                });
            for e in errors.iter_mut() {
                let message = e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let ext = e
                    .as_object_mut()
                    .map(|o| o.entry("extensions").or_insert_with(|| json!({})));
                if let Some(Value::Object(ext)) = ext {
                    if !ext.contains_key("code") {
                        let code = if message.contains("nested too deep")
                            || message.contains("too complex")
                        {
                            "QUERY_TOO_COMPLEX"
                        } else if message.contains("internal") || message.contains("panic") {
                            "INTERNAL"
                        } else {
                            "BAD_USER_INPUT"
                        };
                        ext.insert("code".into(), json!(code));
                    }
                    let code = ext.get("code").and_then(Value::as_str);
                    if let Some(code) = code {
                        metrics.error_code(code);
                    }
                    if code == Some("BAD_USER_INPUT") && !ext.contains_key("field") {
                        if let Some(field) = coerced_field(&message) {
                            ext.insert("field".into(), json!(field));
                        }
                    }
                }
            }
        }
        if request_error {
            obj.remove("data");
        }
        if let Some(redacted) = rc.redacted() {
            let ext = obj.entry("extensions").or_insert_with(|| json!({}));
            if let Value::Object(ext) = ext {
                ext.insert("redacted".into(), redacted);
            }
        }
    }
    (body.to_string(), request_error)
}

/// The input field that async-graphql's coercion message names: `Invalid value for argument
/// "input.hours", expected type "Float"` gives `hours` (list indices are skipped), and
/// `Invalid value for argument "input", field "taskId" of type "ID!" is required but not
/// provided` gives `taskId`.
fn coerced_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("Invalid value for argument \"")?;
    let (path, rest) = rest.split_once('"')?;
    if let Some((_, named)) = rest.split_once("field \"") {
        return named.split_once('"').map(|(field, _)| field);
    }
    path.rsplit('.')
        .find(|s| !s.is_empty() && !s.bytes().all(|b| b.is_ascii_digit()))
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    // Within a second, whatever the pool's wait.
    let ping = tokio::time::timeout(std::time::Duration::from_secs(1), shared.state.db.ping());
    if ping.await.unwrap_or(false) {
        plain(StatusCode::OK, "ready\n")
    } else {
        plain(StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n")
    }
}

/// Resident memory of this process, in bytes (Linux).
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let m = &shared.state.metrics;
    let mut out = String::new();
    let mut line = |name: &str, help: &str, kind: &str, value: String| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    };
    line(
        "portico_graphql_requests_total",
        "GraphQL HTTP requests handled.",
        "counter",
        m.requests.load(Ordering::Relaxed).to_string(),
    );
    line(
        "portico_graphql_operations_total",
        "GraphQL operations executed (a batch counts each).",
        "counter",
        m.operations.load(Ordering::Relaxed).to_string(),
    );
    line(
        "portico_graphql_request_errors_total",
        "Requests refused before execution.",
        "counter",
        m.request_errors.load(Ordering::Relaxed).to_string(),
    );
    line(
        "portico_graphql_request_seconds_total",
        "Time spent executing GraphQL requests.",
        "counter",
        format!(
            "{:.6}",
            m.seconds_micros.load(Ordering::Relaxed) as f64 / 1e6
        ),
    );
    line(
        "portico_db_statements_total",
        "SQL statements run.",
        "counter",
        shared.state.db.statements().to_string(),
    );
    if let Some(rss) = resident_bytes() {
        line(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            "gauge",
            rss.to_string(),
        );
    }
    out.push_str("# HELP portico_graphql_errors_total Errors answered, by code.\n# TYPE portico_graphql_errors_total counter\n");
    if let Ok(map) = m.errors_by_code.lock() {
        let mut codes: Vec<_> = map.iter().collect();
        codes.sort();
        for (code, n) in codes {
            out.push_str(&format!(
                "portico_graphql_errors_total{{code=\"{code}\"}} {n}\n"
            ));
        }
    }
    let mut resp = out.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// GraphiQL, served for `GET /graphql` without a query. It loads from a public CDN in the
/// user's browser; the server itself makes no outside request.
const IDE_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Portico GraphQL</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="stylesheet" href="https://unpkg.com/graphiql@3/graphiql.min.css">
  <style>body { margin: 0; height: 100vh; } #graphiql { height: 100vh; }</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script crossorigin src="https://unpkg.com/react@18/umd/react.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/react-dom@18/umd/react-dom.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/graphiql@3/graphiql.min.js"></script>
  <script>
    const fetcher = GraphiQL.createFetcher({ url: window.location.pathname });
    ReactDOM.createRoot(document.getElementById('graphiql')).render(
      React.createElement(GraphiQL, {
        fetcher,
        defaultHeaders: '{\n  "Authorization": "Bearer <token from the login mutation>"\n}',
        defaultQuery: 'mutation Login {\n  login(input: {email: "EMAIL", password: "PASSWORD"}) { token }\n}\n',
      }),
    );
  </script>
</body>
</html>
"#;
