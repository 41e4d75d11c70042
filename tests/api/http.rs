//! The HTTP behaviour of api.md and the GraphQL-over-HTTP spec.

use serde_json::{json, Value};

use crate::common::spawn;

async fn raw(
    app: &crate::common::TestApp,
    content_type: &str,
    accept: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (u16, String, String) {
    let mut req = app
        .client
        .post(&app.url)
        .header("content-type", content_type);
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let resp = req.body(body).send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, resp.text().await.unwrap())
}

#[tokio::test]
async fn answers_in_the_media_type_the_client_accepts() {
    let app = spawn().await;
    let body = r#"{"query":"{ __typename }"}"#;
    let (s, ct, _) = raw(
        &app,
        "application/json",
        Some("application/graphql-response+json"),
        body,
    )
    .await;
    assert_eq!(
        (s, ct.as_str()),
        (200, "application/graphql-response+json; charset=utf-8")
    );
    let (s, ct, _) = raw(&app, "application/json", Some("application/json"), body).await;
    assert_eq!((s, ct.as_str()), (200, "application/json; charset=utf-8"));
    let (s, ct, _) = raw(&app, "application/json", None, body).await;
    assert_eq!((s, ct.as_str()), (200, "application/json; charset=utf-8"));
    let (s, _, _) = raw(&app, "application/json", Some("text/html"), body).await;
    assert_eq!(s, 406);
}

#[tokio::test]
async fn bodies_other_than_json_are_refused() {
    let app = spawn().await;
    let mutation = r#"{"query":"mutation { createCustomer(input: {name: \"x\"}) { id } }"}"#;
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let (s, _, _) = raw(&app, ct, None, mutation).await;
        assert_eq!(s, 415, "{ct}");
    }
}

#[tokio::test]
async fn request_errors_are_400_without_data_under_graphql_response_json() {
    let app = spawn().await;
    for body in [
        "{not json",
        r#"{"query": 42}"#,
        r#"{"query":"{ __typename", "variables": null}"#,
        r#"{"query":"{ noSuchField }"}"#,
        r#"{"query":"{ __typename }", "variables": [1]}"#,
    ] {
        let (s, _, text) = raw(
            &app,
            "application/json",
            Some("application/graphql-response+json"),
            body,
        )
        .await;
        assert_eq!(s, 400, "{body}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v.get("data").is_none(), "{text}");
        assert!(v["errors"][0]["extensions"]["code"].is_string(), "{text}");
        // api.md asks 4xx for these under application/json too.
        let (s, _, _) = raw(&app, "application/json", Some("application/json"), body).await;
        assert_eq!(s, 400, "{body}");
    }
}

#[tokio::test]
async fn get_runs_queries_but_not_mutations() {
    let app = spawn().await;
    let resp = app
        .client
        .get(&app.url)
        .query(&[("query", "{ __typename }")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"]["__typename"], "Query");

    let resp = app
        .client
        .get(&app.url)
        .query(&[("query", "mutation { logout }")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");

    let resp = app.client.get(&app.url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("GraphiQL"));
}

#[tokio::test]
async fn bodies_and_batches_are_bounded() {
    let app = spawn().await;
    let big = format!(
        r#"{{"query":"{{ __typename }}", "variables": {{"x": "{}"}}}}"#,
        "a".repeat(2 << 20)
    );
    let (s, _, _) = raw(&app, "application/json", None, big).await;
    assert_eq!(s, 413);

    let batch: Vec<Value> = (0..3)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let (s, _, text) = raw(
        &app,
        "application/json",
        None,
        serde_json::to_string(&batch).unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(3));

    let batch: Vec<Value> = (0..21)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let (s, _, _) = raw(
        &app,
        "application/json",
        Some("application/graphql-response+json"),
        serde_json::to_string(&batch).unwrap(),
    )
    .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn deep_queries_are_refused_as_too_complex() {
    let app = spawn().await;
    let admin = app.admin().await;
    let mut q = String::from("id");
    for _ in 0..20 {
        q = format!("parent {{ {q} }}");
    }
    let query = format!("{{ projects {{ nodes {{ {q} }} }} }}");
    let (code, _) = app.err(Some(&admin), &query, json!({})).await;
    assert_eq!(code, "QUERY_TOO_COMPLEX");
}

#[tokio::test]
async fn internal_errors_are_masked() {
    let app = spawn().await;
    let admin = app.admin().await;
    app.state
        .db
        .execute(portico::db::q(
            "ALTER TABLE user_group RENAME TO user_group_gone",
        ))
        .await
        .unwrap();
    let (code, e) = app.err(Some(&admin), "{ groups { id } }", json!({})).await;
    assert_eq!(code, "INTERNAL");
    let msg = e["message"].as_str().unwrap();
    assert!(msg.starts_with("internal error (id "), "{msg}");
    assert!(!msg.contains("user_group"), "{msg}");
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = spawn().await;
    let base = format!("http://{}", app.addr);
    let r = app
        .client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.post(None, "{ viewer { user { id } } }", json!({}))
        .await;
    let r = app
        .client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("portico_graphql_requests_total 1"), "{text}");
    assert!(
        text.contains("portico_graphql_errors_total{code=\"UNAUTHENTICATED\"} 1"),
        "{text}"
    );
}
