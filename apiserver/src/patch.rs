//! The patch formats Kubernetes accepts, on an object's JSON: JSON merge patch (RFC 7386),
//! JSON patch (RFC 6902) and strategic merge patch (a merge patch in which lists of objects
//! with a merge key, such as containers by `name` and ports by `containerPort` or `port`,
//! are merged item by item, with the `$patch` and `$setElementOrder` directives kubectl
//! sends). Server-side apply merges the applied configuration the strategic way.

use serde_json::{Map, Value};

/// The `Content-Type`s of PATCH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Merge,
    Json,
    Strategic,
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<PatchType> {
        match ct.split(';').next().unwrap_or("").trim() {
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/json-patch+json" => Some(PatchType::Json),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Some(PatchType::Apply),
            _ => None,
        }
    }
}

/// RFC 7386: objects merge key by key, `null` removes, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().expect("an object");
    for (k, v) in patch {
        if v.is_null() {
            t.remove(k);
        } else {
            merge(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// The merge key of the list `field` whose items look like `sample`, as Kubernetes' types
/// declare it (`patchMergeKey`); `None` for lists that are replaced whole.
fn merge_key(field: &str, sample: Option<&Value>) -> Option<&'static str> {
    match field {
        "containers" | "initContainers" | "env" | "volumes" | "volumeMounts" | "imagePullSecrets" => Some("name"),
        "conditions" | "addresses" => Some("type"),
        "ports" => {
            // Container ports merge by containerPort, service ports by port.
            if sample.is_some_and(|s| s.get("containerPort").is_some()) {
                Some("containerPort")
            } else {
                Some("port")
            }
        }
        _ => None,
    }
}

/// A strategic merge patch: a merge patch where lists with a merge key merge by key.
pub fn strategic(target: &mut Value, patch: &Value) -> Result<(), String> {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut p = patch.clone();
        p.remove("$patch");
        *target = Value::Object(p);
        return Ok(());
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().expect("an object");
    for (k, v) in patch {
        if k.starts_with('$') {
            // `$setElementOrder/…`, `$retainKeys`, `$deleteFromPrimitiveList/…`: ordering and
            // bookkeeping kubectl sends; the merge below keeps the live order.
            if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
                if let (Some(Value::Array(list)), Some(remove)) = (t.get_mut(field), v.as_array()) {
                    list.retain(|x| !remove.contains(x));
                }
            }
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        match (t.get_mut(k), v) {
            (Some(Value::Array(live)), Value::Array(items)) => {
                let key = merge_key(k, items.first().or(live.first()));
                match key {
                    Some(key) if items.iter().all(Value::is_object) => merge_list(live, items, key)?,
                    _ => *live = items.iter().filter(|i| !is_directive(i)).cloned().collect(),
                }
            }
            (Some(live @ Value::Object(_)), Value::Object(_)) => strategic(live, v)?,
            _ => {
                let mut fresh = Value::Null;
                strategic(&mut fresh, v)?;
                t.insert(k.clone(), strip_directives(fresh));
            }
        }
    }
    Ok(())
}

fn is_directive(v: &Value) -> bool {
    v.get("$patch").is_some()
}

fn strip_directives(mut v: Value) -> Value {
    match &mut v {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with('$'));
            for x in m.values_mut() {
                *x = strip_directives(x.take());
            }
        }
        Value::Array(a) => {
            a.retain(|x| !is_directive(x));
            for x in a.iter_mut() {
                *x = strip_directives(x.take());
            }
        }
        _ => {}
    }
    v
}

fn merge_list(live: &mut Vec<Value>, items: &[Value], key: &str) -> Result<(), String> {
    for item in items {
        let id = item.get(key).cloned().ok_or_else(|| format!("a list item lacks its merge key {key:?}"))?;
        let pos = live.iter().position(|l| l.get(key) == Some(&id));
        match (item.get("$patch").and_then(Value::as_str), pos) {
            (Some("delete"), Some(i)) => {
                live.remove(i);
            }
            (Some("delete"), None) => {}
            (_, Some(i)) => strategic(&mut live[i], item)?,
            (_, None) => live.push(strip_directives(item.clone())),
        }
    }
    Ok(())
}

/// The fields an applied configuration sets, in Kubernetes' `FieldsV1` form
/// (`{"f:spec":{"f:ports":{}}}`): objects field by field, lists and values whole. The
/// object's identity and type are not fields anyone manages.
pub fn fields_v1(applied: &Value) -> Value {
    fn walk(v: &Value, top: bool, in_meta: bool) -> Value {
        let Value::Object(m) = v else { return Value::Object(Map::new()) };
        let mut out = Map::new();
        for (k, child) in m {
            let skip = (top && (k == "apiVersion" || k == "kind" || k == "status"))
                || (in_meta
                    && matches!(
                        k.as_str(),
                        "name" | "namespace" | "uid" | "resourceVersion" | "creationTimestamp" | "managedFields"
                    ));
            if !skip {
                out.insert(format!("f:{k}"), walk(child, false, top && k == "metadata"));
            }
        }
        Value::Object(out)
    }
    walk(applied, true, false)
}

/// RFC 6901: a JSON pointer's tokens.
fn tokens(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let rest = pointer.strip_prefix('/').ok_or_else(|| format!("path {pointer:?} does not start with /"))?;
    Ok(rest.split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect())
}

fn parent<'v>(doc: &'v mut Value, toks: &[String]) -> Result<&'v mut Value, String> {
    let mut cur = doc;
    for t in toks {
        cur = match cur {
            Value::Object(m) => m.get_mut(t).ok_or_else(|| format!("no {t:?}"))?,
            Value::Array(a) => {
                let i: usize = t.parse().map_err(|_| format!("{t:?} is not an index"))?;
                a.get_mut(i).ok_or_else(|| format!("no index {i}"))?
            }
            _ => return Err(format!("{t:?} is inside a scalar")),
        };
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let toks = tokens(path)?;
    let Some((last, init)) = toks.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent(doc, init)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            let i =
                if last == "-" { a.len() } else { last.parse().map_err(|_| format!("{last:?} is not an index"))? };
            if i > a.len() {
                return Err(format!("index {i} is past the end"));
            }
            a.insert(i, value);
        }
        _ => return Err(format!("cannot add to {path:?}")),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let toks = tokens(path)?;
    let (last, init) = toks.split_last().ok_or("cannot remove the whole document")?;
    match parent(doc, init)? {
        Value::Object(m) => m.remove(last).ok_or_else(|| format!("no {path:?} to remove")),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| format!("{last:?} is not an index"))?;
            (i < a.len()).then(|| a.remove(i)).ok_or_else(|| format!("no {path:?} to remove"))
        }
        _ => Err(format!("no {path:?} to remove")),
    }
}

fn get(doc: &Value, path: &str) -> Result<Value, String> {
    doc.pointer(path).cloned().ok_or_else(|| format!("no {path:?}"))
}

/// RFC 6902: `add`, `remove`, `replace`, `move`, `copy`, `test`, in order; all or nothing.
pub fn json_patch(mut doc: Value, ops: &Value) -> Result<Value, String> {
    let ops = ops.as_array().ok_or("a JSON patch is an array of operations")?;
    for (n, op) in ops.iter().enumerate() {
        let field =
            |name: &str| op.get(name).and_then(Value::as_str).ok_or_else(|| format!("operation {n} lacks {name:?}"));
        let value = || op.get("value").cloned().ok_or_else(|| format!("operation {n} lacks \"value\""));
        let path = field("path")?;
        let done = match field("op")? {
            "add" => add(&mut doc, path, value()?),
            "remove" => remove(&mut doc, path).map(drop),
            "replace" => remove(&mut doc, path).and_then(|_| add(&mut doc, path, value()?)),
            "move" => remove(&mut doc, field("from")?).and_then(|v| add(&mut doc, path, v)),
            "copy" => get(&doc, field("from")?).and_then(|v| add(&mut doc, path, v)),
            "test" => match get(&doc, path) {
                Ok(v) if v == value()? => Ok(()),
                _ => Err(format!("test of {path:?} failed")),
            },
            other => Err(format!("unknown operation {other:?}")),
        };
        done.map_err(|e| format!("JSON patch operation {n}: {e}"))?;
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_sets_and_removes() {
        let mut v = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": [1, 2]}});
        merge(&mut v, &json!({"metadata": {"labels": {"a": null, "c": "3"}}, "spec": {"x": [3]}}));
        assert_eq!(v, json!({"metadata": {"labels": {"b": "2", "c": "3"}}, "spec": {"x": [3]}}));
    }

    #[test]
    fn json_patch_operations() {
        let v = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"ports": [{"port": 80}]}});
        let ops = json!([
            {"op": "add", "path": "/metadata/labels/b", "value": "2"},
            {"op": "replace", "path": "/spec/ports/0/port", "value": 81},
            {"op": "add", "path": "/spec/ports/-", "value": {"port": 90}},
            {"op": "test", "path": "/metadata/labels/a", "value": "1"},
            {"op": "remove", "path": "/metadata/labels/a"},
        ]);
        let out = json_patch(v.clone(), &ops).unwrap();
        assert_eq!(out, json!({"metadata": {"labels": {"b": "2"}}, "spec": {"ports": [{"port": 81}, {"port": 90}]}}));
        assert!(json_patch(v, &json!([{"op": "test", "path": "/metadata/labels/a", "value": "9"}])).is_err());
    }

    #[test]
    fn strategic_merge_merges_containers_and_ports_by_key() {
        let mut pod = json!({"spec": {"containers": [
            {"name": "a", "image": "x", "ports": [{"containerPort": 80, "protocol": "TCP"}]},
            {"name": "b", "image": "y"},
        ]}});
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [
                {"name": "a", "ports": [{"containerPort": 81}]},
                {"name": "b", "$patch": "delete"},
                {"name": "c", "image": "z"},
            ]
        }});
        strategic(&mut pod, &patch).unwrap();
        assert_eq!(
            pod,
            json!({"spec": {"containers": [
                {"name": "a", "image": "x", "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 81}]},
                {"name": "c", "image": "z"},
            ]}})
        );
        let mut svc = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}]}});
        strategic(&mut svc, &json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}})).unwrap();
        assert_eq!(svc, json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}));
    }
}
