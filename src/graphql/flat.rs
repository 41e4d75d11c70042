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

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, OperationDefinition, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{
    Context, ContextSelectionSet, InputType, Name, OutputType, Positioned, QueryPathSegment,
    ServerResult, Value, Variables,
};
use futures_util::future::BoxFuture;

use super::loaders::{self, CountKey, PageKey};
use super::work::Figure;
use super::RequestCtx;
use crate::authz::Scope;
use crate::db::list::{fetch_child_counts, fetch_children_with, PageArgs, Rel};

/// Plans a field's sub-selection on the field's type.
pub type PlanFn = fn(&Env<'_>, &SelectionSet) -> Option<Plan>;

/// How a field is answered in the synchronous pass.
#[derive(Clone, Copy)]
pub enum Kind {
    /// A value of the row (and the caller's scope).
    Leaf,
    /// An object the row carries.
    Object(PlanFn),
    /// An object that [`Flat::prefetch`] loads for the whole list first; only lists (not
    /// objects nested in an item) can do that.
    Prefetched(PlanFn),
    /// A value computed from what [`Flat::prefetch`] loads (lists only).
    PrefetchedLeaf,
    /// A nested connection taking `first` and `after`, whose pages [`Flat::prefetch`] loads
    /// for the whole list with [`connection`] (lists only); plans with [`Plan::connection`].
    Connection(PlanFn),
}

/// An object type whose plain fields can be answered synchronously.
pub trait Flat: OutputType + Sized {
    /// What [`Flat::prefetch`] loads for a list of these.
    type Pre: Default + Send + Sync;

    /// How the field `name` (without arguments) is answered, or None when it needs the
    /// resolver.
    fn kind(name: &str) -> Option<Kind>;

    /// Loads what the plan's prefetched fields need, for all items at once; None when a
    /// load failed (the resolvers then answer, with the error where it belongs). Boxed,
    /// since a project's prefetch recurses into its sub-projects'.
    fn prefetch<'a>(
        _items: &'a [&'a Self],
        _load: &'a Load<'a>,
        _plan: &'a Plan,
    ) -> BoxFuture<'a, Option<Self::Pre>> {
        Box::pin(async { Some(Self::Pre::default()) })
    }

    /// The columns a page of these needs to answer `plans`, when fewer than all (see
    /// [`crate::db::list::fetch_children_with`]).
    fn columns(_plans: &[&Plan]) -> Option<String> {
        None
    }

    /// The value of a field [`Flat::kind`] accepted.
    fn value(&self, pre: &Self::Pre, cx: &Cx<'_>, step: &Step) -> Value;
}

/// How a list's prefetches load.
pub struct Load<'a> {
    pub ctx: &'a Context<'a>,
    /// Whether to load through the request's batching loader, together with the same loads
    /// of sibling lists. A list under a list the resolvers answer has siblings (one list
    /// per parent, each answered on its own); the list at the top, and the lists nested in
    /// it, which this pass loads level by level, load directly.
    pub batched: bool,
    pub seen: std::sync::Mutex<Seen>,
}

/// One selected field: its response key, its name, for objects the plan of its
/// sub-selection, for connections their page, and for `__typename` its value.
pub struct Step {
    pub key: Name,
    pub name: Name,
    pub nested: Option<Plan>,
    pub page: Option<PageArgs>,
    constant: Option<Value>,
}

/// The fields to answer for each item of a list, in response order.
pub struct Plan {
    pub steps: Vec<Step>,
}

/// What planning reads: the schema's registry (for fragments on interfaces), the
/// operation's fragments, and its variables (for connections' arguments).
pub struct Env<'a> {
    registry: &'a Registry,
    fragments: &'a HashMap<Name, Positioned<async_graphql::parser::types::FragmentDefinition>>,
    variables: &'a Variables,
    operation: &'a OperationDefinition,
}

/// A type as planning sees it: its name and how each of its fields is answered.
struct Ty {
    name: Cow<'static, str>,
    kind: fn(&str) -> Option<Kind>,
}

impl Plan {
    /// Plans `set` on the type `T`, or None when some part of it needs the resolver.
    pub fn of<T: Flat>(env: &Env<'_>, set: &SelectionSet) -> Option<Plan> {
        plan(env, &ty::<T>(), set, true)
    }

    /// Plans the sub-selection of an object nested in an item (no prefetching there).
    pub fn nested<T: Flat>(env: &Env<'_>, set: &SelectionSet) -> Option<Plan> {
        plan(env, &ty::<T>(), set, false)
    }

    /// Plans the selection of a connection `C` (edges `E`) of `N`: `nodes`, `edges`,
    /// `pageInfo`, `totalCount`.
    pub fn connection<C: OutputType, E: OutputType, N: Flat>(
        env: &Env<'_>,
        set: &SelectionSet,
    ) -> Option<Plan> {
        let conn = Ty {
            name: C::type_name(),
            kind: connection_kind::<E, N>,
        };
        plan(env, &conn, set, true)
    }

    /// Whether the plan asks for the field `name`.
    pub fn asks(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name.as_str() == name)
    }
}

fn ty<T: Flat>() -> Ty {
    Ty {
        name: T::type_name(),
        kind: T::kind,
    }
}

fn plan(env: &Env<'_>, ty: &Ty, set: &SelectionSet, top: bool) -> Option<Plan> {
    let mut steps = Vec::new();
    collect(env, ty, set, &mut steps, top)?;
    Some(Plan { steps })
}

/// The fields of a connection of `N` with edges `E`.
fn connection_kind<E: OutputType, N: Flat>(name: &str) -> Option<Kind> {
    match name {
        "nodes" => Some(Kind::Prefetched(Plan::of::<N>)),
        "edges" => Some(Kind::Prefetched(edge_plan::<E, N>)),
        "pageInfo" => Some(Kind::Object(page_info_plan)),
        "totalCount" => Some(Kind::PrefetchedLeaf),
        _ => None,
    }
}

fn edge_plan<E: OutputType, N: Flat>(env: &Env<'_>, set: &SelectionSet) -> Option<Plan> {
    let edge = Ty {
        name: E::type_name(),
        kind: edge_kind::<N>,
    };
    plan(env, &edge, set, true)
}

fn edge_kind<N: Flat>(name: &str) -> Option<Kind> {
    match name {
        "cursor" => Some(Kind::Leaf),
        "node" => Some(Kind::Prefetched(Plan::of::<N>)),
        _ => None,
    }
}

fn page_info_plan(env: &Env<'_>, set: &SelectionSet) -> Option<Plan> {
    let page_info = Ty {
        name: super::connection::PageInfo::type_name(),
        kind: |name| {
            matches!(
                name,
                "hasNextPage" | "hasPreviousPage" | "startCursor" | "endCursor"
            )
            .then_some(Kind::Leaf)
        },
    };
    plan(env, &page_info, set, false)
}

/// GraphQL's CollectFields, limited to what the synchronous pass answers.
fn collect(
    env: &Env<'_>,
    ty: &Ty,
    set: &SelectionSet,
    steps: &mut Vec<Step>,
    top: bool,
) -> Option<()> {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(f) => {
                let f = &f.node;
                // @skip and @include are applied before execution; any other directive is
                // the resolver's business.
                if !f.directives.is_empty() {
                    return None;
                }
                let key = f.response_key().node.clone();
                let sub = &f.selection_set.node;
                if let Some(seen) = steps.iter().find(|s| s.key == key) {
                    // A key asked twice merges; for plain values that is the same value.
                    let plain = seen.nested.is_none() && seen.page.is_none();
                    if seen.name != f.name.node
                        || !plain
                        || !sub.items.is_empty()
                        || !f.arguments.is_empty()
                    {
                        return None;
                    }
                    continue;
                }
                let name = f.name.node.clone();
                let mut step = Step {
                    key,
                    name,
                    nested: None,
                    page: None,
                    constant: None,
                };
                let kind = if step.name.as_str() == "__typename" {
                    step.constant = Some(Value::String(ty.name.to_string()));
                    Kind::Leaf
                } else {
                    (ty.kind)(step.name.as_str())?
                };
                // Only connections take arguments here.
                if !f.arguments.is_empty() && !matches!(kind, Kind::Connection(_)) {
                    return None;
                }
                match kind {
                    Kind::Leaf if sub.items.is_empty() => {}
                    Kind::PrefetchedLeaf if top && sub.items.is_empty() => {}
                    Kind::Object(plan) => step.nested = Some(plan(env, sub)?),
                    Kind::Prefetched(plan) if top => step.nested = Some(plan(env, sub)?),
                    Kind::Connection(plan) if top => {
                        step.page = Some(page_args(env, f)?);
                        step.nested = Some(plan(env, sub)?);
                    }
                    _ => return None,
                }
                steps.push(step);
            }
            Selection::FragmentSpread(spread) => {
                if !spread.node.directives.is_empty() {
                    return None;
                }
                let fragment = env.fragments.get(&spread.node.fragment_name.node)?;
                if applies(env, ty, fragment.node.type_condition.node.on.node.as_str()) {
                    collect(env, ty, &fragment.node.selection_set.node, steps, top)?;
                }
            }
            Selection::InlineFragment(inline) => {
                if !inline.node.directives.is_empty() {
                    return None;
                }
                let applies = match &inline.node.type_condition {
                    Some(c) => applies(env, ty, c.node.on.node.as_str()),
                    None => true,
                };
                if applies {
                    collect(env, ty, &inline.node.selection_set.node, steps, top)?;
                }
            }
        }
    }
    Some(())
}

/// A connection's `first` and `after`, when given as valid literals or variables; anything
/// else (a bad value, an unknown variable) is left to the resolver, which reports it.
fn page_args(env: &Env<'_>, f: &Field) -> Option<PageArgs> {
    let mut first = None;
    let mut after = None;
    for (name, value) in &f.arguments {
        let value = value
            .node
            .clone()
            .into_const_with(|var| variable(env, &var).ok_or(()))
            .ok()?;
        match (name.node.as_str(), value) {
            (_, Value::Null) => {}
            ("first", Value::Number(n)) => first = Some(i32::try_from(n.as_i64()?).ok()?),
            ("after", Value::String(s)) => after = Some(s),
            _ => return None,
        }
    }
    super::connection::page_args(first, after).ok()
}

/// A variable's value as the request gave it, or its default.
fn variable(env: &Env<'_>, name: &Name) -> Option<Value> {
    let def = env
        .operation
        .variable_definitions
        .iter()
        .find(|d| d.node.name.node == *name)?;
    env.variables
        .get(name)
        .or_else(|| def.node.default_value())
        .cloned()
}

/// Does a fragment on `condition` apply to objects of type `ty`?
fn applies(env: &Env<'_>, ty: &Ty, condition: &str) -> bool {
    ty.name == condition
        || env
            .registry
            .implements
            .get(ty.name.as_ref())
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
        object(plan, |step| item.value(pre, self, step))
    }

    /// A connection field of the item `parent`, from the pages [`connection`] loaded.
    pub fn connection<N: Flat>(&self, pages: Option<&Pages<N>>, parent: i64, step: &Step) -> Value {
        let (Some(pages), Some(plan), Some(args)) = (pages, &step.nested, step.page) else {
            return Value::Null;
        };
        let (items, has_next) =
            (pages.pages.get(&parent)).map_or((&[][..], false), |b| (&b.items[..], b.has_next));
        let cursor = |k: &i64| Value::String(super::ids::cursor(*k));
        object(plan, |s| match s.name.as_str() {
            "nodes" => {
                let (plan, pre) = pages.plan(s);
                Value::List(items.iter().map(|(_, n)| self.item(n, pre, plan)).collect())
            }
            "edges" => Value::List(
                items
                    .iter()
                    .map(|(k, n)| {
                        object(s.nested.as_ref().unwrap_or(&EMPTY), |e| {
                            if e.name.as_str() == "cursor" {
                                return cursor(k);
                            }
                            let (plan, pre) = pages.plan(e);
                            self.item(n, pre, plan)
                        })
                    })
                    .collect(),
            ),
            "pageInfo" => object(s.nested.as_ref().unwrap_or(&EMPTY), |i| {
                match i.name.as_str() {
                    "hasNextPage" => Value::Boolean(has_next),
                    "hasPreviousPage" => Value::Boolean(args.after.is_some()),
                    "startCursor" => items.first().map_or(Value::Null, |(k, _)| cursor(k)),
                    _ => items.last().map_or(Value::Null, |(k, _)| cursor(k)),
                }
            }),
            _ => Value::from(pages.counts.get(&parent).copied().unwrap_or(0)),
        })
    }
}

/// What a missing sub-plan answers with (planning always gives objects one).
static EMPTY: Plan = Plan { steps: Vec::new() };

/// An object answering each step of `plan` with `value` (or the step's constant).
fn object(plan: &Plan, mut value: impl FnMut(&Step) -> Value) -> Value {
    let mut map = IndexMap::with_capacity(plan.steps.len());
    for step in &plan.steps {
        let v = match &step.constant {
            Some(c) => c.clone(),
            None => value(step),
        };
        map.insert(step.key.clone(), v);
    }
    Value::Object(map)
}

/// The pages of one connection field for every item of a list, with what their nodes'
/// plans prefetched.
pub struct Pages<N: Flat> {
    pages: HashMap<i64, Arc<Built<N>>>,
    counts: HashMap<i64, i64>,
    /// Per node plan (by address: the plan outlives the answer), what it prefetched.
    pres: HashMap<usize, N::Pre>,
    none: N::Pre,
}

impl<N: Flat> Pages<N> {
    fn plan<'p>(&'p self, step: &'p Step) -> (&'p Plan, &'p N::Pre) {
        match &step.nested {
            Some(plan) => (plan, self.pres.get(&address(plan)).unwrap_or(&self.none)),
            None => (&EMPTY, &self.none),
        }
    }
}

/// A parent's page of nodes.
struct Built<N> {
    items: Vec<(i64, N)>,
    has_next: bool,
}

impl<N> Built<N> {
    fn new<R>(rows: impl Iterator<Item = (i64, R)>, has_next: bool, node: fn(R) -> N) -> Self {
        Built {
            items: rows.map(|(k, r)| (k, node(r))).collect(),
            has_next,
        }
    }
}

/// A loaded page: its relation and column set, parent, and page arguments.
type PageId = ((TypeId, Option<Arc<str>>), i64, PageArgs);

/// The pages and counts this pass loaded, by relation and parent.
#[derive(Default)]
pub struct Seen {
    pages: HashMap<PageId, Arc<dyn Any + Send + Sync>>,
    counts: HashMap<(TypeId, i64), i64>,
}

fn address(plan: &Plan) -> usize {
    std::ptr::from_ref(plan) as usize
}

/// Loads the connection `step` (relation `R`, nodes `N`) of all `parents` in one statement,
/// their counts in another when asked, and what the nodes' plans prefetch. A page loaded
/// before in this pass is not loaded again (a project can be listed both at the top and
/// under its parent).
pub async fn connection<R: Rel + Default, N: Flat + 'static>(
    load: &Load<'_>,
    parents: &[i64],
    step: &Step,
    node: fn(R::Row) -> N,
) -> Option<Pages<N>> {
    let (plan, args) = (step.nested.as_ref()?, step.page?);
    let ctx = load.ctx;
    // The node plans: under `nodes`, and under `node` of `edges`.
    let mut node_plans = Vec::new();
    for s in &plan.steps {
        match (s.name.as_str(), &s.nested) {
            ("nodes", Some(p)) => node_plans.push(p),
            ("edges", Some(edge)) => node_plans.extend(
                edge.steps
                    .iter()
                    .filter(|e| e.name.as_str() == "node")
                    .filter_map(|e| e.nested.as_ref()),
            ),
            _ => {}
        }
    }
    // Only the columns the plans read, when the pages are read here (the batching
    // loader shares whole rows); pages of other columns are other pages.
    let cols = if load.batched {
        None
    } else {
        N::columns(&node_plans).map(Arc::from)
    };
    let rel = (TypeId::of::<R>(), cols.clone());
    let (missing, counts_missing) = {
        let seen = load.seen.lock().unwrap_or_else(|p| p.into_inner());
        let missing: Vec<i64> = (parents.iter().copied())
            .filter(|p| !seen.pages.contains_key(&(rel.clone(), *p, args)))
            .collect();
        let counts_missing: Vec<i64> = match plan.asks("totalCount") {
            Some(_) => (parents.iter().copied())
                .filter(|p| !seen.counts.contains_key(&(rel.0, *p)))
                .collect(),
            None => Vec::new(),
        };
        (missing, counts_missing)
    };
    let mut fetched: Vec<(i64, Built<N>)> = Vec::new();
    let mut counted: Vec<(i64, i64)> = Vec::new();
    if load.batched {
        if !missing.is_empty() {
            let keys = missing.iter().map(|p| PageKey(*p, args, R::default()));
            // The loader shares its pages: the rows are copied.
            fetched = (loaders::many(ctx, keys).await.ok()?.into_iter())
                .map(|(key, page)| {
                    let rows = page.items.iter().map(|(k, r)| (*k, r.clone()));
                    (key.0, Built::new(rows, page.has_next, node))
                })
                .collect();
        }
        if !counts_missing.is_empty() {
            let keys = counts_missing.iter().map(|p| CountKey(*p, R::default()));
            let found = loaders::many(ctx, keys).await.ok()?;
            counted = found.into_iter().map(|(k, n)| (k.0, n)).collect();
        }
    } else {
        let db = &super::state(ctx).db;
        let scope = super::req(ctx).scope_now()?;
        if !missing.is_empty() {
            let pages = fetch_children_with::<R>(db, &scope, &missing, args, cols.as_deref());
            let pages = pages.await.ok()?;
            fetched = (pages.into_iter())
                .map(|(parent, page)| {
                    (
                        parent,
                        Built::new(page.items.into_iter(), page.has_next, node),
                    )
                })
                .collect();
        }
        if !counts_missing.is_empty() {
            let found = fetch_child_counts::<R>(db, &scope, &counts_missing).await;
            counted = found.ok()?.into_iter().collect();
        }
    }
    let (pages, counts) = {
        let mut seen = load.seen.lock().unwrap_or_else(|p| p.into_inner());
        for (parent, built) in fetched {
            seen.pages
                .insert((rel.clone(), parent, args), Arc::new(built));
        }
        for (parent, n) in counted {
            seen.counts.insert((rel.0, parent), n);
        }
        let pages: HashMap<i64, Arc<Built<N>>> = (parents.iter())
            .filter_map(|p| {
                let built = seen.pages.get(&(rel.clone(), *p, args))?.clone();
                Some((*p, built.downcast::<Built<N>>().ok()?))
            })
            .collect();
        let counts: HashMap<i64, i64> = (parents.iter())
            .filter_map(|p| Some((*p, *seen.counts.get(&(rel.0, *p))?)))
            .collect();
        (pages, counts)
    };
    let nodes: Vec<&N> = (pages.values())
        .flat_map(|b| b.items.iter().map(|(_, n)| n))
        .collect();
    let mut pres = HashMap::new();
    for p in node_plans {
        pres.insert(address(p), N::prefetch(&nodes, load, p).await?);
    }
    Some(Pages {
        pages,
        counts,
        pres,
        none: N::Pre::default(),
    })
}

/// What an item type prefetches for its connection fields, by response key.
#[derive(Default)]
pub struct Connections(HashMap<Name, Box<dyn Any + Send + Sync>>);

impl Connections {
    pub fn insert<N: Flat + 'static>(&mut self, step: &Step, pages: Pages<N>) {
        self.0.insert(step.key.clone(), Box::new(pages));
    }

    pub fn get<N: Flat + 'static>(&self, step: &Step) -> Option<&Pages<N>> {
        self.0.get(&step.key)?.downcast_ref()
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
    if !ctx.data_unchecked::<crate::AppState>().fast_pass {
        return None;
    }
    let rc = ctx.data_unchecked::<Arc<RequestCtx>>();
    // Lists come from loads that computed the scope; without it, take the resolver.
    let scope = rc.scope_now()?;
    let env = Env {
        registry: &ctx.schema_env.registry,
        fragments: &ctx.query_env.fragments,
        variables: &ctx.query_env.variables,
        operation: &ctx.query_env.operation.node,
    };
    let plan = Plan::of::<T>(&env, &ctx.item.node)?;
    // Under a list answered by the resolvers (an index in the path), other lists like
    // this one are being answered for the other parents.
    let mut batched = false;
    let mut node = ctx.path_node.as_ref();
    while let Some(n) = node {
        batched |= matches!(n.segment, QueryPathSegment::Index(_));
        node = n.parent;
    }
    let load = Load {
        ctx: &ctx.with_field(field),
        batched,
        seen: Default::default(),
    };
    let pre = T::prefetch(items, &load, &plan).await?;
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
