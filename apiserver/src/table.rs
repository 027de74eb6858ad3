//! Server-side printing: a list or an object asked for with
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` is answered as a `meta.k8s.io/v1`
//! `Table`, with the columns kubectl shows for Kubernetes' own kinds (`kubectl get` asks for
//! it and prints what it gets; `-o wide` shows the columns of priority 1 too).
//!
//! Each kind declares its columns ([`crate::kinds::Served::COLUMNS`]); a kind that declares
//! none gets NAME and AGE.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// One column: its header, its OpenAPI type, its priority (1: only with `-o wide`) and how to
/// compute its cell from the object.
pub struct Column {
    pub name: &'static str,
    pub ty: &'static str,
    pub priority: u8,
    pub description: &'static str,
    pub cell: fn(&Value, DateTime<Utc>) -> Value,
}

/// Whether an `Accept` header asks for a Table (kubectl lists Table first, then JSON).
pub fn wants_table(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    accept.split(',').next().is_some_and(|first| {
        let params: Vec<&str> = first.split(';').map(str::trim).collect();
        params.contains(&"as=Table") && params.contains(&"g=meta.k8s.io")
    })
}

/// Which object each row carries: `includeObject=None|Metadata|Object` (Metadata by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Include {
    None,
    Metadata,
    Object,
}

impl Include {
    pub fn parse(v: Option<&str>) -> Include {
        match v {
            Some("None") => Include::None,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        }
    }
}

fn row(columns: &[Column], obj: &Value, now: DateTime<Utc>, include: Include) -> Value {
    let cells: Vec<Value> = columns.iter().map(|c| (c.cell)(obj, now)).collect();
    let object = match include {
        Include::None => Value::Null,
        Include::Object => obj.clone(),
        Include::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj["metadata"].clone(),
        }),
    };
    json!({ "cells": cells, "object": object })
}

/// A Table of `objects` (JSON bodies) at `resource_version`.
pub fn table(
    columns: &[Column],
    objects: &[Value],
    resource_version: &str,
    now: DateTime<Utc>,
    include: Include,
) -> Value {
    let defs: Vec<Value> = columns
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.ty,
                "format": if c.name == "Name" { "name" } else { "" },
                "description": c.description,
                "priority": c.priority,
            })
        })
        .collect();
    let rows: Vec<Value> = objects.iter().map(|o| row(columns, o, now, include)).collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": { "resourceVersion": resource_version },
        "columnDefinitions": defs,
        "rows": rows,
    })
}

/// kubectl's short ages: `45s`, `3m12s`, `17m`, `5h3m`, `12h`, `3d4h`, `45d`, `2y10d`.
pub fn human_age(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (now - since).num_seconds().max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        format!("{m}m{}s", s % 60)
    } else if h < 3 {
        format!("{m}m")
    } else if h < 8 {
        format!("{h}h{}m", m % 60)
    } else if h < 48 {
        format!("{h}h")
    } else if d < 8 {
        format!("{d}d{}h", h % 24)
    } else if d < 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y{}d", d / 365, d % 365)
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn age_of(v: &Value, pointer: &str, now: DateTime<Utc>) -> Value {
    let t = str_at(v, pointer).and_then(|t| t.parse::<DateTime<Utc>>().ok());
    json!(t.map_or_else(|| "<unknown>".to_string(), |t| human_age(t, now)))
}

fn or_none(s: Option<&str>) -> Value {
    json!(s.unwrap_or("<none>"))
}

fn name(v: &Value, _: DateTime<Utc>) -> Value {
    json!(str_at(v, "/metadata/name").unwrap_or(""))
}

fn age(v: &Value, now: DateTime<Utc>) -> Value {
    age_of(v, "/metadata/creationTimestamp", now)
}

const NAME: Column = Column {
    name: "Name",
    ty: "string",
    priority: 0,
    description: "Name must be unique within a namespace.",
    cell: name,
};
const AGE: Column =
    Column { name: "Age", ty: "string", priority: 0, description: "Time since the object was created.", cell: age };

/// NAME and AGE: the columns of a kind that declares none.
pub const DEFAULT: &[Column] = &[NAME, AGE];

fn array<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn pod_ready(v: &Value, _: DateTime<Utc>) -> Value {
    let total = array(v, "/spec/containers").len();
    let ready = array(v, "/status/containerStatuses").iter().filter(|s| s["ready"] == true).count();
    json!(format!("{ready}/{total}"))
}

fn pod_status(v: &Value, _: DateTime<Utc>) -> Value {
    if let Some(reason) = str_at(v, "/status/reason") {
        return json!(reason);
    }
    let waiting = array(v, "/status/containerStatuses").iter().find_map(|s| str_at(s, "/state/waiting/reason"));
    let terminated = array(v, "/status/containerStatuses").iter().find_map(|s| str_at(s, "/state/terminated/reason"));
    json!(waiting.or(terminated).or(str_at(v, "/status/phase")).unwrap_or("Pending"))
}

fn pod_restarts(v: &Value, _: DateTime<Utc>) -> Value {
    json!(array(v, "/status/containerStatuses").iter().filter_map(|s| s["restartCount"].as_i64()).sum::<i64>())
}

/// Pods: NAME READY STATUS RESTARTS AGE, and IP NODE with `-o wide`.
pub const POD: &[Column] = &[
    NAME,
    Column {
        name: "Ready",
        ty: "string",
        priority: 0,
        description: "Ready containers of all containers.",
        cell: pod_ready,
    },
    Column {
        name: "Status",
        ty: "string",
        priority: 0,
        description: "The pod's phase, or why it is not running.",
        cell: pod_status,
    },
    Column { name: "Restarts", ty: "integer", priority: 0, description: "Container restarts.", cell: pod_restarts },
    AGE,
    Column {
        name: "IP",
        ty: "string",
        priority: 1,
        description: "The pod's IP.",
        cell: |v, _| or_none(str_at(v, "/status/podIP")),
    },
    Column {
        name: "Node",
        ty: "string",
        priority: 1,
        description: "The node the pod is bound to.",
        cell: |v, _| or_none(str_at(v, "/spec/nodeName")),
    },
];

fn service_ports(v: &Value, _: DateTime<Utc>) -> Value {
    let ports: Vec<String> = array(v, "/spec/ports")
        .iter()
        .map(|p| {
            let proto = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64() {
                Some(np) => format!("{}:{np}/{proto}", p["port"]),
                None => format!("{}/{proto}", p["port"]),
            }
        })
        .collect();
    json!(if ports.is_empty() { "<none>".to_string() } else { ports.join(",") })
}

fn selector(v: &Value, _: DateTime<Utc>) -> Value {
    let sel: Vec<String> = v
        .pointer("/spec/selector")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect())
        .unwrap_or_default();
    json!(if sel.is_empty() { "<none>".to_string() } else { sel.join(",") })
}

/// Services: NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE, and SELECTOR with `-o wide`.
pub const SERVICE: &[Column] = &[
    NAME,
    Column {
        name: "Type",
        ty: "string",
        priority: 0,
        description: "How the service is exposed.",
        cell: |v, _| json!(str_at(v, "/spec/type").unwrap_or("ClusterIP")),
    },
    Column {
        name: "Cluster-IP",
        ty: "string",
        priority: 0,
        description: "The service's virtual IP.",
        cell: |v, _| or_none(str_at(v, "/spec/clusterIP")),
    },
    Column {
        name: "External-IP",
        ty: "string",
        priority: 0,
        description: "External IPs (flatnet has none).",
        cell: |_, _| json!("<none>"),
    },
    Column { name: "Port(s)", ty: "string", priority: 0, description: "Ports (and node ports).", cell: service_ports },
    AGE,
    Column { name: "Selector", ty: "string", priority: 1, description: "The pods it selects.", cell: selector },
];

fn node_status(v: &Value, _: DateTime<Utc>) -> Value {
    let ready = array(v, "/status/conditions").iter().find(|c| c["type"] == "Ready").map(|c| c["status"] == "True");
    json!(match ready {
        Some(true) => "Ready",
        Some(false) => "NotReady",
        None => "Unknown",
    })
}

fn node_ip(v: &Value, _: DateTime<Utc>) -> Value {
    or_none(
        array(v, "/status/addresses").iter().find(|a| a["type"] == "InternalIP").and_then(|a| a["address"].as_str()),
    )
}

/// Nodes: NAME STATUS ROLES AGE VERSION, and INTERNAL-IP with `-o wide`.
pub const NODE: &[Column] = &[
    NAME,
    Column { name: "Status", ty: "string", priority: 0, description: "Its Ready condition.", cell: node_status },
    Column { name: "Roles", ty: "string", priority: 0, description: "Node roles.", cell: |_, _| json!("<none>") },
    AGE,
    Column {
        name: "Version",
        ty: "string",
        priority: 0,
        description: "The node agent.",
        cell: |_, _| json!(concat!("flatnet-", env!("CARGO_PKG_VERSION"))),
    },
    Column { name: "Internal-IP", ty: "string", priority: 1, description: "The node's InternalIP.", cell: node_ip },
];

fn endpoints(v: &Value, _: DateTime<Utc>) -> Value {
    let mut all = Vec::new();
    for subset in array(v, "/subsets") {
        for a in array(subset, "/addresses") {
            for p in array(subset, "/ports") {
                all.push(format!("{}:{}", a["ip"].as_str().unwrap_or(""), p["port"]));
            }
        }
    }
    json!(match all.len() {
        0 => "<none>".to_string(),
        n if n > 3 => format!("{} + {} more...", all[..3].join(","), n - 3),
        _ => all.join(","),
    })
}

/// Endpoints: NAME ENDPOINTS AGE.
pub const ENDPOINTS: &[Column] = &[
    NAME,
    Column { name: "Endpoints", ty: "string", priority: 0, description: "Ready addresses and ports.", cell: endpoints },
    AGE,
];

/// Leases: NAME HOLDER AGE, as kubectl prints them.
pub const LEASE: &[Column] = &[
    NAME,
    Column {
        name: "Holder",
        ty: "string",
        priority: 0,
        description: "Who holds the lease.",
        cell: |v, _| json!(str_at(v, "/spec/holderIdentity").unwrap_or("")),
    },
    AGE,
];

fn event_object(v: &Value, _: DateTime<Utc>) -> Value {
    let kind = v.pointer("/involvedObject/kind").and_then(Value::as_str).unwrap_or("").to_lowercase();
    json!(format!("{kind}/{}", v.pointer("/involvedObject/name").and_then(Value::as_str).unwrap_or("")))
}

fn last_seen(v: &Value, now: DateTime<Utc>) -> Value {
    let at = ["/lastTimestamp", "/firstTimestamp", "/metadata/creationTimestamp"]
        .into_iter()
        .find(|p| str_at(v, p).is_some())
        .unwrap_or("/metadata/creationTimestamp");
    age_of(v, at, now)
}

/// Events: LAST SEEN TYPE REASON OBJECT MESSAGE.
pub const EVENT: &[Column] = &[
    Column { name: "Last Seen", ty: "string", priority: 0, description: "When it last happened.", cell: last_seen },
    Column {
        name: "Type",
        ty: "string",
        priority: 0,
        description: "Normal or Warning.",
        cell: |v, _| json!(v["type"].as_str().unwrap_or("")),
    },
    Column {
        name: "Reason",
        ty: "string",
        priority: 0,
        description: "Why.",
        cell: |v, _| json!(v["reason"].as_str().unwrap_or("")),
    },
    Column { name: "Object", ty: "string", priority: 0, description: "What it is about.", cell: event_object },
    Column {
        name: "Message",
        ty: "string",
        priority: 0,
        description: "What happened.",
        cell: |v, _| json!(v["message"].as_str().unwrap_or("")),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectls() {
        let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let at = |s: i64| human_age(t0, t0 + chrono::Duration::seconds(s));
        assert_eq!(
            [at(5), at(150), at(700), at(4 * 3600 + 120), at(20 * 3600), at(3 * 86400 + 7200), at(40 * 86400)],
            ["5s", "2m30s", "11m", "4h2m", "20h", "3d2h", "40d"]
        );
    }

    #[test]
    fn kubectl_asks_for_a_table_first() {
        assert!(wants_table(Some(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        )));
        assert!(!wants_table(Some("application/json")));
        assert!(!wants_table(None));
    }

    #[test]
    fn a_pod_row() {
        let pod = json!({
            "metadata": {"name": "p", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"nodeName": "n1", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "podIP": "10.244.1.2",
                "containerStatuses": [{"name": "a", "ready": true, "restartCount": 2}, {"name": "b", "ready": false, "restartCount": 1}]},
        });
        let now = "2026-01-01T00:01:00Z".parse().unwrap();
        let t = table(POD, &[pod], "7", now, Include::Metadata);
        assert_eq!(t["rows"][0]["cells"], json!(["p", "1/2", "Running", 3, "60s", "10.244.1.2", "n1"]));
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["columnDefinitions"][5]["priority"], 1);
    }
}
