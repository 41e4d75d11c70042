//! Lists of rows answered in one synchronous pass.
//!
//! async-graphql resolves every field of every object as a boxed future of its own, polled
//! through a `FuturesUnordered`: about 2 µs a field, which for a page of 1,000 tasks is most
//! of a request's time. Yet most fields of a row are plain reads of the row, or of the row and
//! the caller's scope (a guarded figure). For the items of a list whose selection asks only
//! for such fields, [`Nodes`] plans the selection once and then builds each item's value
//! directly. Anything else (a field with arguments, a nested connection, a directive, a field
//! asked twice with different sub-selections) takes the ordinary resolver, so the answer is
//! the same either way; a test compares both paths.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{
    Context, ContextSelectionSet, InputType, Name, OutputType, Positioned, ServerResult, Value,
};

use super::work::Figure;
use super::RequestCtx;
use crate::authz::Scope;

/// How a field is answered in the synchronous pass.
#[derive(Clone, Copy)]
pub enum Kind {
    /// A value of the row (and the caller's scope).
    Leaf,
    /// An object the row carries: plans the field's sub-selection on the object's type.
    Object(fn(&Env<'_>, &SelectionSet) -> Option<Plan>),
    /// An object that [`Flat::prefetch`] loads for the whole list first; only lists (not
    /// objects nested in an item) can do that.
    Prefetched(fn(&Env<'_>, &SelectionSet) -> Option<Plan>),
}

/// An object type whose plain fields can be answered synchronously.
pub trait Flat: OutputType + Sized {
    /// What [`Flat::prefetch`] loads for a list of these.
    type Pre: Default + Send + Sync;

    /// How the field `name` (without arguments) is answered, or None when it needs the
    /// resolver.
    fn kind(name: &str) -> Option<Kind>;

    /// Loads what the plan's [`Kind::Prefetched`] fields need, for all items at once.
    fn prefetch(
        _items: &[&Self],
        _ctx: &Context<'_>,
        _plan: &Plan,
    ) -> impl Future<Output = Option<Self::Pre>> + Send {
        async { Some(Self::Pre::default()) }
    }

    /// The value of a field [`Flat::kind`] accepted.
    fn value(&self, pre: &Self::Pre, cx: &Cx<'_>, step: &Step) -> Value;
}

/// One selected field: its response key, its name and, for objects, the plan of its
/// sub-selection.
pub struct Step {
    pub key: Name,
    pub name: Name,
    pub nested: Option<Plan>,
}

/// The fields to answer for each item of a list, in response order.
pub struct Plan {
    pub steps: Vec<Step>,
}

/// What planning reads: the schema's registry (for fragments on interfaces) and the
/// operation's fragments.
pub struct Env<'a> {
    registry: &'a Registry,
    fragments: &'a std::collections::HashMap<
        Name,
        Positioned<async_graphql::parser::types::FragmentDefinition>,
    >,
}

impl Plan {
    /// Plans `set` on the type `T`, or None when some part of it needs the resolver.
    pub fn of<T: Flat>(env: &Env<'_>, set: &SelectionSet) -> Option<Plan> {
        let mut steps = Vec::new();
        collect::<T>(env, set, &mut steps, true)?;
        Some(Plan { steps })
    }

    /// Plans the sub-selection of an object nested in an item (no prefetching there).
    pub fn nested<T: Flat>(env: &Env<'_>, set: &SelectionSet) -> Option<Plan> {
        let mut steps = Vec::new();
        collect::<T>(env, set, &mut steps, false)?;
        Some(Plan { steps })
    }

    /// Whether the plan asks for the field `name`.
    pub fn asks(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name.as_str() == name)
    }
}

/// GraphQL's CollectFields, limited to what the synchronous pass answers.
fn collect<T: Flat>(
    env: &Env<'_>,
    set: &SelectionSet,
    steps: &mut Vec<Step>,
    top: bool,
) -> Option<()> {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(f) => {
                let f = &f.node;
                // @skip and @include are applied before execution; any other directive, or
                // an argument, is the resolver's business.
                if !f.directives.is_empty() || !f.arguments.is_empty() {
                    return None;
                }
                let key = f.response_key().node.clone();
                let sub = &f.selection_set.node;
                if let Some(seen) = steps.iter().find(|s| s.key == key) {
                    // A key asked twice merges; for plain values that is the same value.
                    if seen.name != f.name.node || seen.nested.is_some() || !sub.items.is_empty() {
                        return None;
                    }
                    continue;
                }
                let name = f.name.node.clone();
                let nested = if name.as_str() == "__typename" {
                    None
                } else {
                    match T::kind(name.as_str())? {
                        Kind::Leaf if sub.items.is_empty() => None,
                        Kind::Leaf => return None,
                        Kind::Object(plan) => Some(plan(env, sub)?),
                        Kind::Prefetched(plan) if top => Some(plan(env, sub)?),
                        Kind::Prefetched(_) => return None,
                    }
                };
                steps.push(Step { key, name, nested });
            }
            Selection::FragmentSpread(spread) => {
                if !spread.node.directives.is_empty() {
                    return None;
                }
                let fragment = env.fragments.get(&spread.node.fragment_name.node)?;
                if applies::<T>(env, fragment.node.type_condition.node.on.node.as_str()) {
                    collect::<T>(env, &fragment.node.selection_set.node, steps, top)?;
                }
            }
            Selection::InlineFragment(inline) => {
                if !inline.node.directives.is_empty() {
                    return None;
                }
                let applies = match &inline.node.type_condition {
                    Some(c) => applies::<T>(env, c.node.on.node.as_str()),
                    None => true,
                };
                if applies {
                    collect::<T>(env, &inline.node.selection_set.node, steps, top)?;
                }
            }
        }
    }
    Some(())
}

/// Does a fragment on `condition` apply to objects of type `T`?
fn applies<T: Flat>(env: &Env<'_>, condition: &str) -> bool {
    let name = T::type_name();
    name == condition
        || env
            .registry
            .implements
            .get(name.as_ref())
            .is_some_and(|interfaces| interfaces.contains(condition))
}

/// What a value reads besides its row: the caller's scope and the request's redactions.
pub struct Cx<'a> {
    pub scope: &'a Scope,
    pub rc: &'a RequestCtx,
}

impl Cx<'_> {
    /// A guarded figure: `value` when one of the figure's rights holds on every project of
    /// `ids`, else null and a redaction.
    pub fn figure<T: InputType>(
        &self,
        fig: &Figure,
        ids: &[i64],
        value: impl FnOnce() -> T,
    ) -> Value {
        val(fig.shown(self.scope, self.rc, ids, value))
    }

    /// An object carried by the row, answered with the sub-plan.
    pub fn object<T: Flat>(&self, object: Option<&T>, step: &Step) -> Value {
        match (object, &step.nested) {
            (Some(o), Some(plan)) => self.item(o, &T::Pre::default(), plan),
            _ => Value::Null,
        }
    }

    fn item<T: Flat>(&self, item: &T, pre: &T::Pre, plan: &Plan) -> Value {
        let mut map = IndexMap::with_capacity(plan.steps.len());
        for step in &plan.steps {
            let v = if step.name.as_str() == "__typename" {
                Value::String(T::type_name().into_owned())
            } else {
                item.value(pre, self, step)
            };
            map.insert(step.key.clone(), v);
        }
        Value::Object(map)
    }
}

/// Plain value helper: any scalar or enum as its GraphQL value.
pub fn val<T: InputType>(v: T) -> Value {
    v.to_value()
}

/// The synchronous pass over `items`, or None when it does not apply.
async fn resolve_flat<T: Flat>(
    items: &[&T],
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
) -> Option<Value> {
    let rc = ctx.data_unchecked::<Arc<RequestCtx>>();
    // Lists come from loads that computed the scope; without it, take the resolver.
    let scope = rc.scope_now()?;
    let env = Env {
        registry: &ctx.schema_env.registry,
        fragments: &ctx.query_env.fragments,
    };
    let plan = Plan::of::<T>(&env, &ctx.item.node)?;
    let pre = T::prefetch(items, &ctx.with_field(field), &plan).await?;
    let cx = Cx { scope: &scope, rc };
    Some(Value::List(
        items
            .iter()
            .map(|item| cx.item(*item, &pre, &plan))
            .collect(),
    ))
}

/// A list field's items (with their keys, shared with the connection that holds them):
/// answered by the synchronous pass when the selection allows, else by the resolvers. Its
/// GraphQL type is `[T!]!`, as for `Vec<T>`.
pub struct Nodes<T>(pub Arc<Vec<(i64, T)>>);

impl<T: Flat> OutputType for Nodes<T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let items: Vec<&T> = self.0.iter().map(|(_, t)| t).collect();
        if let Some(v) = resolve_flat(&items, ctx, field).await {
            return Ok(v);
        }
        let len = items.len();
        async_graphql::resolver_utils::resolve_list(ctx, field, items, Some(len)).await
    }
}

/// Types whose fields all take the resolver.
macro_rules! not_flat {
    ($($t:ty),+) => {
        $(impl $crate::graphql::flat::Flat for $t {
            type Pre = ();
            fn kind(_: &str) -> Option<$crate::graphql::flat::Kind> {
                None
            }
            fn value(
                &self,
                _: &(),
                _: &$crate::graphql::flat::Cx<'_>,
                _: &$crate::graphql::flat::Step,
            ) -> async_graphql::Value {
                async_graphql::Value::Null
            }
        })+
    };
}
pub(crate) use not_flat;
