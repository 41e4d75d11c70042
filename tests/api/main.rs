//! Black-box tests: the real server over HTTP against a real database (SQLite by default,
//! PostgreSQL when PORTICO_TEST_DATABASE_URL names one).

mod admin;
mod auth;
mod authz_model;
mod authz_writes;
mod common;
mod demo;
mod faults;
mod flat;
mod http;
mod schema;
mod storage;

mod ceiling;
mod edges;
mod hostile;
mod leaks;
mod matrix;
mod perf;
mod scenarios;
mod work;
