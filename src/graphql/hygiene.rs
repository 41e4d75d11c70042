//! Checks on a request's text and values before it runs, for what would otherwise reach the
//! database as something it rejects (a NUL character: PostgreSQL refuses it in text, which
//! answered INTERNAL) or would let one request do the work of many (several `login`s).

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Request};
use async_graphql_value::{ConstValue, Value};

use crate::error::Error;

/// The innermost input field (or argument, or variable) whose string holds a NUL.
fn nul_in_const<'a>(v: &'a ConstValue, at: &'a str) -> Option<&'a str> {
    match v {
        ConstValue::String(s) if s.contains('\0') => Some(at),
        ConstValue::List(items) => items.iter().find_map(|i| nul_in_const(i, at)),
        ConstValue::Object(fields) => fields.iter().find_map(|(k, v)| nul_in_const(v, k.as_str())),
        _ => None,
    }
}

fn nul_in_value<'a>(v: &'a Value, at: &'a str) -> Option<&'a str> {
    match v {
        Value::String(s) if s.contains('\0') => Some(at),
        Value::List(items) => items.iter().find_map(|i| nul_in_value(i, at)),
        Value::Object(fields) => fields.iter().find_map(|(k, v)| nul_in_value(v, k.as_str())),
        _ => None,
    }
}

fn nul_in_selection(set: &SelectionSet) -> Option<&str> {
    set.items.iter().find_map(|item| match &item.node {
        Selection::Field(f) => f
            .node
            .arguments
            .iter()
            .find_map(|(name, value)| nul_in_value(&value.node, name.node.as_str()))
            .or_else(|| nul_in_selection(&f.node.selection_set.node)),
        Selection::InlineFragment(i) => nul_in_selection(&i.node.selection_set.node),
        Selection::FragmentSpread(_) => None,
    })
}

/// Where the document passes variable `name`: the input field (or argument) it fills.
fn use_of<'a>(v: &'a Value, name: &str, at: &'a str) -> Option<&'a str> {
    match v {
        Value::Variable(n) if n.as_str() == name => Some(at),
        Value::List(items) => items.iter().find_map(|i| use_of(i, name, at)),
        Value::Object(fields) => fields.iter().find_map(|(k, v)| use_of(v, name, k.as_str())),
        _ => None,
    }
}

fn use_in_selection<'a>(set: &'a SelectionSet, name: &str) -> Option<&'a str> {
    set.items.iter().find_map(|item| match &item.node {
        Selection::Field(f) => f
            .node
            .arguments
            .iter()
            .find_map(|(arg, value)| use_of(&value.node, name, arg.node.as_str()))
            .or_else(|| use_in_selection(&f.node.selection_set.node, name)),
        Selection::InlineFragment(i) => use_in_selection(&i.node.selection_set.node, name),
        Selection::FragmentSpread(_) => None,
    })
}

fn variable_use<'a>(doc: &'a ExecutableDocument, name: &str) -> Option<&'a str> {
    doc.operations
        .iter()
        .find_map(|(_, op)| use_in_selection(&op.node.selection_set.node, name))
        .or_else(|| {
            doc.fragments
                .values()
                .find_map(|f| use_in_selection(&f.node.selection_set.node, name))
        })
}

fn nul_in_document(doc: &ExecutableDocument) -> Option<&str> {
    doc.operations
        .iter()
        .find_map(|(_, op)| nul_in_selection(&op.node.selection_set.node))
        .or_else(|| {
            doc.fragments
                .values()
                .find_map(|f| nul_in_selection(&f.node.selection_set.node))
        })
}

/// How many `login` fields the operation's root selects (aliases included).
fn logins(set: &SelectionSet, doc: &ExecutableDocument, depth: usize) -> usize {
    if depth > 8 {
        return 0;
    }
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => usize::from(f.node.name.node == "login"),
            Selection::InlineFragment(i) => logins(&i.node.selection_set.node, doc, depth + 1),
            Selection::FragmentSpread(s) => doc
                .fragments
                .get(&s.node.fragment_name.node)
                .map_or(0, |f| logins(&f.node.selection_set.node, doc, depth + 1)),
        })
        .sum()
}

/// Checks a request before it runs: no NUL in any string it carries (BAD_USER_INPUT naming
/// the field), and answers how many `login`s it selects. An unparsable document is left to
/// the executor, which answers it as such.
pub fn check(req: &mut Request) -> Result<usize, Error> {
    let bad = |field: &str| Error::bad_input(field, "must not contain a NUL character (U+0000)");
    // A variable's own string is named by the input field it fills in the document.
    let in_variable = req
        .variables
        .iter()
        .find_map(|(k, v): (&Name, &ConstValue)| {
            nul_in_const(v, "").map(|inner| (k.to_string(), inner.to_string()))
        });
    let Ok(doc) = req.parsed_query() else {
        return match in_variable {
            Some((name, inner)) => Err(bad(if inner.is_empty() { &name } else { &inner })),
            None => Ok(0),
        };
    };
    if let Some((name, inner)) = in_variable {
        if !inner.is_empty() {
            return Err(bad(&inner));
        }
        return Err(bad(variable_use(doc, &name).unwrap_or(&name)));
    }
    if let Some(field) = nul_in_document(doc) {
        return Err(bad(field));
    }
    Ok(doc
        .operations
        .iter()
        .map(|(_, op)| logins(&op.node.selection_set.node, doc, 0))
        .sum())
}
