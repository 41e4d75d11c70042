//! Batched loads: one statement per relation and query level, however many rows a page
//! holds. A [`Loaders`] is made per request and carries that request's scope, so batched
//! loads obey the same visibility rules as the top-level lists.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::Context;

use crate::authz::Scope;
use crate::db::invoices::{InvoiceRow, LineRow};
use crate::db::list::{fetch_child_counts, fetch_children, Page, PageArgs, Rel};
use crate::db::org::{Named, NamedRow, ProfileRow};
use crate::db::projects::ProjectRow;
use crate::db::tasks::{TaskRow, Totals};
use crate::db::users::UserRow;
use crate::db::{invoices, org, projects, tasks, users, Db};
use crate::error::{Error, Result};

/// The loaders of one request.
pub struct Loaders {
    db: Db,
    scope: Arc<Scope>,
    /// What the visibility of customers, departments and groups depends on besides the scope.
    me: org::Me,
}

/// The request's batching loader, and the values it loaded or is loading.
pub struct RequestLoader {
    loader: DataLoader<Loaders>,
    memo: Memo,
}

pub fn new(db: Db, scope: Arc<Scope>, me: org::Me) -> RequestLoader {
    RequestLoader {
        loader: DataLoader::new(Loaders { db, scope, me }, tokio::spawn),
        memo: Memo::default(),
    }
}

type Cell<V> = Arc<tokio::sync::OnceCell<Option<V>>>;

/// One cell per key and request: a second resolver asking for a key that is being loaded
/// waits for that load instead of starting another batch. (The DataLoader's own cache only
/// knows finished loads, so two query levels racing for one key would load it twice, and
/// the statement count would depend on timing.)
#[derive(Default)]
struct Memo {
    maps: std::sync::Mutex<HashMap<std::any::TypeId, Box<dyn std::any::Any + Send + Sync>>>,
}

impl Memo {
    fn cell<K, V>(&self, key: &K) -> Cell<V>
    where
        K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
        V: Send + Sync + 'static,
    {
        let mut maps = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        let entry = maps
            .entry(std::any::TypeId::of::<K>())
            .or_insert_with(|| Box::new(HashMap::<K, Cell<V>>::new()));
        match entry.downcast_mut::<HashMap<K, Cell<V>>>() {
            Some(map) => map.entry(key.clone()).or_default().clone(),
            // A key type always maps to one value type; an unshared cell is still correct.
            None => Cell::default(),
        }
    }
}

/// Loader errors are shared between the waiting resolvers.
pub type LoadError = Arc<Error>;

fn shared(e: Error) -> LoadError {
    Arc::new(e)
}

/// Back from a shared loader error to the one error type (its cause is logged and masked
/// like any internal error; the public codes survive).
pub fn unshare(e: LoadError) -> Error {
    match Arc::try_unwrap(e) {
        Ok(e) => e,
        Err(shared) => match &*shared {
            Error::Unauthenticated => Error::Unauthenticated,
            Error::NotFound => Error::NotFound,
            Error::Forbidden(m) => Error::Forbidden(m.clone()),
            Error::Conflict(m) => Error::Conflict(m.clone()),
            Error::RateLimited => Error::RateLimited,
            Error::BadInput { field, message } => Error::bad_input(field.clone(), message.clone()),
            other => Error::Other(anyhow::anyhow!("{other:?}")),
        },
    }
}

/// One page of a nested list of the parent `.0`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageKey<R: Rel>(pub i64, pub PageArgs, pub R);

impl<R: Rel> Loader<PageKey<R>> for Loaders {
    // Shared, not copied, by every resolver waiting for it.
    type Value = Arc<Page<R::Row, ()>>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[PageKey<R>],
    ) -> Result<HashMap<PageKey<R>, Self::Value>, LoadError> {
        let mut by_args: HashMap<PageArgs, Vec<i64>> = HashMap::new();
        for k in keys {
            by_args.entry(k.1).or_default().push(k.0);
        }
        let mut out = HashMap::new();
        for (args, parents) in by_args {
            let pages = fetch_children::<R>(&self.db, &self.scope, &parents, args)
                .await
                .map_err(shared)?;
            for (parent, page) in pages {
                out.insert(PageKey(parent, args, keys[0].2), Arc::new(page));
            }
        }
        Ok(out)
    }
}

/// The size of the nested list `R` of the parent `.0`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CountKey<R: Rel>(pub i64, pub R);

impl<R: Rel> Loader<CountKey<R>> for Loaders {
    type Value = i64;
    type Error = LoadError;

    async fn load(&self, keys: &[CountKey<R>]) -> Result<HashMap<CountKey<R>, i64>, LoadError> {
        let parents: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let counts = fetch_child_counts::<R>(&self.db, &self.scope, &parents)
            .await
            .map_err(shared)?;
        Ok(counts
            .into_iter()
            .map(|(parent, n)| (CountKey(parent, keys[0].1), n))
            .collect())
    }
}

/// `totalCount` of a nested list: batched with the same count of the sibling parents.
pub fn count_children<'a, R: Rel + Default>(
    ctx: &'a Context<'_>,
    parent: i64,
) -> futures_util::future::BoxFuture<'a, Result<i64>> {
    Box::pin(async move { Ok(one(ctx, CountKey(parent, R::default())).await?.unwrap_or(0)) })
}

macro_rules! by_id_loader {
    ($key:ident, $value:ty, |$self:ident, $ids:ident| $body:expr) => {
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $key(pub i64);

        impl Loader<$key> for Loaders {
            type Value = $value;
            type Error = LoadError;

            async fn load(&$self, keys: &[$key]) -> Result<HashMap<$key, $value>, LoadError> {
                let $ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
                let found: Result<HashMap<i64, $value>> = $body;
                Ok(found.map_err(shared)?.into_iter().map(|(k, v)| ($key(k), v)).collect())
            }
        }
    };
}

by_id_loader!(ProjectKey, ProjectRow, |self, ids| Ok(
    projects::list_projects_by_ids(&self.db, &self.scope, ids)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect()
));

by_id_loader!(TaskKey, TaskRow, |self, ids| Ok(tasks::list_tasks_by_ids(
    &self.db,
    &self.scope,
    ids
)
.await?
.into_iter()
.map(|t| (t.id, t))
.collect()));

by_id_loader!(InvoiceKey, InvoiceRow, |self, ids| Ok(
    invoices::list_invoices_by_ids(&self.db, &self.scope, ids)
        .await?
        .into_iter()
        .map(|i| (i.id, i))
        .collect()
));

// Users the caller may see as such (themself, co-members, everyone for ADMIN).
by_id_loader!(VisibleUserKey, UserRow, |self, ids| Ok(
    users::list_visible_users_by_ids(&self.db, &self.scope, ids)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect()
));

by_id_loader!(ProfileKey, ProfileRow, |self, ids| Ok(org::list_profiles(
    &self.db
)
.await?
.into_iter()
.filter(|p| ids.contains(&p.id))
.map(|p| (p.id, p))
.collect()));

by_id_loader!(OwnTotalsKey, Totals, |self, ids| {
    tasks::own_totals_unscoped(&self.db, ids).await
});

by_id_loader!(MemberProjectsKey, Vec<i64>, |self, ids| {
    projects::member_project_ids_many(&self.db, ids).await
});

by_id_loader!(LinesKey, Vec<LineRow>, |self, ids| {
    invoices::list_lines_many(&self.db, ids).await
});

/// A group, customer or department by id, when the caller may see it (the rule of the
/// `groups`, `customers` and `departments` lists).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NamedKey(pub Named, pub i64);

impl Loader<NamedKey> for Loaders {
    type Value = NamedRow;
    type Error = LoadError;

    async fn load(&self, keys: &[NamedKey]) -> Result<HashMap<NamedKey, NamedRow>, LoadError> {
        let mut by_kind: HashMap<Named, Vec<i64>> = HashMap::new();
        for k in keys {
            by_kind.entry(k.0).or_default().push(k.1);
        }
        let mut out = HashMap::new();
        for (kind, ids) in by_kind {
            let rows = kind
                .list_visible(&self.db, &self.scope, &self.me, Some(ids))
                .await
                .map_err(shared)?;
            for row in rows {
                out.insert(NamedKey(kind, row.id), row);
            }
        }
        Ok(out)
    }
}

/// The request's loader (made with its scope on first use).
pub async fn loader(ctx: &Context<'_>) -> Result<Arc<RequestLoader>> {
    let scope = super::scope(ctx).await?;
    let mut slot = super::req(ctx)
        .loader
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(l) = &*slot {
        return Ok(l.clone());
    }
    let l = Arc::new(new(super::state(ctx).db.clone(), scope, super::me(ctx)?));
    *slot = Some(l.clone());
    Ok(l)
}

/// Loads one value by key (batched with the keys sibling resolvers ask for).
pub async fn one<K>(ctx: &Context<'_>, key: K) -> Result<Option<<Loaders as Loader<K>>::Value>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    Loaders: Loader<K, Error = LoadError>,
{
    let l = loader(ctx).await?;
    let cell = l.memo.cell::<K, <Loaders as Loader<K>>::Value>(&key);
    let value = cell
        .get_or_try_init(|| async { l.loader.load_one(key).await.map_err(unshare) })
        .await?;
    Ok(value.clone())
}

/// Loads many values by key.
pub async fn many<K, I>(
    ctx: &Context<'_>,
    keys: I,
) -> Result<HashMap<K, <Loaders as Loader<K>>::Value>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    I: IntoIterator<Item = K>,
    Loaders: Loader<K, Error = LoadError>,
{
    let loads = keys.into_iter().map(|k| async move {
        let v = one(ctx, k.clone()).await?;
        Ok::<_, Error>(v.map(|v| (k, v)))
    });
    let mut out = HashMap::new();
    for found in futures_util::future::join_all(loads).await {
        if let Some((k, v)) = found? {
            out.insert(k, v);
        }
    }
    Ok(out)
}

/// A nested connection's page: validates `first`/`after`, then loads in a batch with the
/// same pages of sibling parents.
pub async fn children<R: Rel + Default>(
    ctx: &Context<'_>,
    parent: i64,
    first: Option<i32>,
    after: Option<String>,
) -> Result<(Arc<Page<R::Row, ()>>, PageArgs)> {
    let args = super::connection::page_args(first, after)?;
    let page = one(ctx, PageKey(parent, args, R::default()))
        .await?
        .ok_or_else(|| Error::Other(anyhow::anyhow!("a batched page went missing")))?;
    Ok((page, args))
}
