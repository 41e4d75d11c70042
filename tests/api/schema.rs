//! schema.graphql is the published contract: it must be exactly what the code serves.

#[test]
fn schema_graphql_is_what_portico_schema_prints() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql at the repository root");
    let printed = std::process::Command::new(env!("CARGO_BIN_EXE_portico"))
        .arg("schema")
        .output()
        .expect("run portico schema");
    assert!(printed.status.success());
    let printed = String::from_utf8(printed.stdout).expect("utf-8");
    assert_eq!(printed, portico::graphql::sdl());
    assert!(
        committed == printed,
        "schema.graphql differs from `portico schema`: run `cargo run -- schema > schema.graphql` and review the change"
    );
}
