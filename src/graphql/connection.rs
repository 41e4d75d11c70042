//! Relay connections: `edges { cursor node }`, `nodes`, `pageInfo`, `totalCount`.
//!
//! Pages are keyset pages over the row id, so a cursor stays valid while rows are added.
//! `totalCount` runs its COUNT only when asked for.

use async_graphql::SimpleObject;

use crate::db::list::PageArgs;
use crate::error::{Error, Result};

/// Default and largest page sizes.
pub const DEFAULT_FIRST: i32 = 50;
pub const MAX_FIRST: i32 = 500;

/// Validates `first` and `after`.
pub fn page_args(first: Option<i32>, after: Option<String>) -> Result<PageArgs> {
    let first = first.unwrap_or(DEFAULT_FIRST);
    if !(0..=MAX_FIRST).contains(&first) {
        return Err(Error::bad_input(
            "first",
            format!("must be between 0 and {MAX_FIRST}"),
        ));
    }
    let after = after
        .as_deref()
        .map(super::ids::decode_cursor)
        .transpose()?;
    Ok(PageArgs {
        first: first.into(),
        after,
    })
}

/// Where a page stands in its list.
#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    /// Whether more items follow this page.
    pub has_next_page: bool,
    /// Whether items precede this page (true when `after` was given).
    pub has_previous_page: bool,
    /// Cursor of the first item of this page.
    pub start_cursor: Option<String>,
    /// Cursor of the last item of this page; pass it as `after` for the next page.
    pub end_cursor: Option<String>,
}

/// How a connection answers `totalCount`.
#[derive(Clone)]
pub enum Counter {
    /// A top-level list runs its own COUNT.
    Query(crate::db::Query),
    /// A nested list is counted together with the same lists of its sibling parents.
    Nested(i64, NestedCount),
}

/// Counts the nested list of a parent through the request's batching loader.
pub type NestedCount = for<'a, 'b> fn(
    &'a async_graphql::Context<'b>,
    i64,
) -> futures_util::future::BoxFuture<'a, Result<i64>>;

impl Counter {
    pub async fn get(&self, ctx: &async_graphql::Context<'_>) -> Result<i64> {
        match self {
            Counter::Query(q) => crate::db::list::count(&super::state(ctx).db, q.clone()).await,
            Counter::Nested(parent, count) => count(ctx, *parent).await,
        }
    }
}

/// Defines `$conn` and `$edge` over the object `$node`.
macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ty, $what:literal) => {
        #[doc = concat!("A page of ", $what, ".")]
        pub struct $conn {
            pub items: std::sync::Arc<Vec<(i64, $node)>>,
            pub has_next: bool,
            pub after: bool,
            pub count: $crate::graphql::connection::Counter,
        }

        #[doc = concat!("One of ", $what, " with its cursor.")]
        #[derive(async_graphql::SimpleObject, Clone)]
        pub struct $edge {
            /// Opaque position of this item, for `after`.
            pub cursor: String,
            /// The item.
            pub node: $node,
        }

        #[async_graphql::Object]
        impl $conn {
            /// The items of this page with their cursors.
            async fn edges(&self) -> $crate::graphql::flat::Nodes<$edge> {
                $crate::graphql::flat::Nodes(std::sync::Arc::new(
                    self.items
                        .iter()
                        .map(|(k, n)| {
                            (
                                *k,
                                $edge {
                                    cursor: $crate::graphql::ids::cursor(*k),
                                    node: n.clone(),
                                },
                            )
                        })
                        .collect(),
                ))
            }

            /// The items of this page.
            async fn nodes(&self) -> $crate::graphql::flat::Nodes<$node> {
                $crate::graphql::flat::Nodes(self.items.clone())
            }

            /// Where this page stands.
            async fn page_info(&self) -> $crate::graphql::connection::PageInfo {
                $crate::graphql::connection::PageInfo {
                    has_next_page: self.has_next,
                    has_previous_page: self.after,
                    start_cursor: self
                        .items
                        .first()
                        .map(|(k, _)| $crate::graphql::ids::cursor(*k)),
                    end_cursor: self
                        .items
                        .last()
                        .map(|(k, _)| $crate::graphql::ids::cursor(*k)),
                }
            }

            /// How many items the whole list holds (only those the caller may see).
            async fn total_count(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> $crate::error::Result<i64> {
                self.count.get(ctx).await
            }
        }

        impl $crate::graphql::flat::Flat for $edge {
            type Pre = ();

            fn kind(name: &str) -> Option<$crate::graphql::flat::Kind> {
                match name {
                    "cursor" => Some($crate::graphql::flat::Kind::Leaf),
                    "node" => Some($crate::graphql::flat::Kind::Object(
                        $crate::graphql::flat::Plan::nested::<$node>,
                    )),
                    _ => None,
                }
            }

            fn value(
                &self,
                _: &(),
                cx: &$crate::graphql::flat::Cx<'_>,
                step: &$crate::graphql::flat::Step,
            ) -> async_graphql::Value {
                match step.name.as_str() {
                    "cursor" => async_graphql::Value::String(self.cursor.clone()),
                    _ => cx.object(Some(&self.node), step),
                }
            }
        }

        impl $conn {
            /// A top-level list's page.
            pub fn new<R>(
                page: $crate::db::list::Page<R>,
                args: $crate::db::list::PageArgs,
                f: impl Fn(R) -> $node,
            ) -> Self {
                $conn {
                    items: std::sync::Arc::new(
                        page.items.into_iter().map(|(k, r)| (k, f(r))).collect(),
                    ),
                    has_next: page.has_next,
                    after: args.after.is_some(),
                    count: $crate::graphql::connection::Counter::Query(page.count),
                }
            }

            /// The page of a nested list under `parent`, as the batching loader shares it.
            pub fn nested<R: $crate::db::list::Rel + Default>(
                page: &$crate::db::list::Page<R::Row, ()>,
                parent: i64,
                args: $crate::db::list::PageArgs,
                f: impl Fn(R::Row) -> $node,
            ) -> Self {
                $conn {
                    items: std::sync::Arc::new(
                        page.items.iter().map(|(k, r)| (*k, f(r.clone()))).collect(),
                    ),
                    has_next: page.has_next,
                    after: args.after.is_some(),
                    count: $crate::graphql::connection::Counter::Nested(
                        parent,
                        $crate::graphql::loaders::count_children::<R>,
                    ),
                }
            }
        }
    };
}
pub(crate) use connection;
