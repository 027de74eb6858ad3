//! Reading written objects as Kubernetes does: the write options every write accepts
//! (`dryRun`, `fieldValidation`, `fieldManager`, `force`), unknown fields handled by
//! `fieldValidation`, and `metadata.generateName`.
//!
//! flatnet's types reject fields they do not know (a typo is an error). Fields Kubernetes'
//! own types have and flatnet does not act on (`imagePullPolicy`, `resources`, …, see
//! [`KUBERNETES_FIELDS`]) are dropped with a warning whatever the validation, so that
//! manifests written for Kubernetes apply as they are. Other unknown fields are an error
//! under `Strict` (and by default, as before), dropped with a warning under `Warn`, and
//! dropped silently under `Ignore`.

use axum::http::{HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// The query parameters of a write.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct WriteQuery {
    /// `All`: validate and answer as if done, change nothing.
    pub dry_run: Option<String>,
    /// `Ignore`, `Warn` or `Strict`.
    pub field_validation: Option<String>,
    /// Who applies (server-side apply); accepted on every write.
    pub field_manager: Option<String>,
    /// Server-side apply: take over conflicting fields.
    #[serde(default)]
    pub force: Option<String>,
}

/// What to do with unknown fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validation {
    /// No `fieldValidation`: unknown fields are an error, as flatnet always did.
    Default,
    Ignore,
    Warn,
    Strict,
}

impl WriteQuery {
    pub fn dry_run(&self) -> ApiResult<bool> {
        match self.dry_run.as_deref() {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!("unsupported dryRun {other:?}: only \"All\""))),
        }
    }

    pub fn validation(&self) -> ApiResult<Validation> {
        match self.field_validation.as_deref() {
            None | Some("") => Ok(Validation::Default),
            Some("Ignore") => Ok(Validation::Ignore),
            Some("Warn") => Ok(Validation::Warn),
            Some("Strict") => Ok(Validation::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "invalid fieldValidation {other:?}: expected Ignore, Warn or Strict"
            ))),
        }
    }
}

/// Fields of Kubernetes' types that flatnet accepts and does not act on: dropped, with a
/// warning.
pub const KUBERNETES_FIELDS: &[&str] = &[
    // metadata
    "generation",
    "finalizers",
    "ownerReferences",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    // pods and containers
    "imagePullPolicy",
    "resources",
    "dnsPolicy",
    "dnsConfig",
    "securityContext",
    "volumeMounts",
    "volumes",
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
    "tolerations",
    "affinity",
    "hostname",
    "subdomain",
    "priority",
    "priorityClassName",
    "schedulerName",
    "enableServiceLinks",
    "preemptionPolicy",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "livenessProbe",
    "startupProbe",
    "lifecycle",
    "stdin",
    "stdinOnce",
    "tty",
    "imagePullSecrets",
    "envFrom",
    "valueFrom",
    "hostPort",
    "qosClass",
    "podIPs",
    "hostIPs",
    "nominatedNodeName",
    "shareProcessNamespace",
    "runtimeClassName",
    "topologySpreadConstraints",
    "readinessGates",
    "overhead",
    // services
    "internalTrafficPolicy",
    "externalTrafficPolicy",
    "ipFamilies",
    "ipFamilyPolicy",
    "clusterIPs",
    "sessionAffinityConfig",
    "publishNotReadyAddresses",
    "allocateLoadBalancerNodePorts",
    "loadBalancerIP",
    "loadBalancerSourceRanges",
    "externalIPs",
    "externalName",
    "loadBalancer",
    "appProtocol",
];

/// The object `v` as `K`, with the warnings to send (`Warning` headers).
pub fn decode<K: DeserializeOwned + serde::Serialize>(
    mut v: Value,
    validation: Validation,
) -> ApiResult<(K, Vec<String>)> {
    let mut warnings = Vec::new();
    generate_name(&mut v);
    // Each round drops one unknown field; a body has finitely many.
    loop {
        let err = match serde_path_to_error::deserialize::<_, K>(&v) {
            Ok(obj) => {
                // serde reads a struct from an array too; the API does not take one.
                crate::error::no_array_for_object(&v, &obj)?;
                return Ok((obj, warnings));
            }
            Err(e) => e,
        };
        let Some(field) = unknown_field(&err.inner().to_string()) else { return Err(crate::error::path_error(err)) };
        let mut segments: Vec<serde_path_to_error::Segment> = err.path().iter().cloned().collect();
        // The path names the unknown key itself, or the object holding it.
        if let Some(serde_path_to_error::Segment::Map { key }) = segments.last() {
            if key == &field {
                segments.pop();
            }
        }
        let path = display_path(&segments, &field);
        let known = KUBERNETES_FIELDS.contains(&field.as_str());
        match (known, validation) {
            (false, Validation::Default | Validation::Strict) => return Err(crate::error::path_error(err)),
            (false, Validation::Ignore) => {}
            (false, Validation::Warn) => warnings.push(format!("unknown field {path:?}")),
            (true, _) => warnings.push(format!("flatnet does not use field {path:?}: dropped")),
        }
        let removed = holder(&mut v, &segments).and_then(|o| o.as_object_mut()).and_then(|o| o.remove(&field));
        if removed.is_none() {
            // Not where the path says: give up rather than loop.
            return Err(crate::error::path_error(err));
        }
    }
}

/// The field a serde "unknown field `x`, expected …" error names.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest.split_once('`')?.0.to_string())
}

fn display_path(segments: &[serde_path_to_error::Segment], field: &str) -> String {
    let mut out = String::new();
    for s in segments {
        match s {
            serde_path_to_error::Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            serde_path_to_error::Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            _ => {}
        }
    }
    if out.is_empty() {
        field.to_string()
    } else {
        format!("{out}.{field}")
    }
}

fn holder<'v>(v: &'v mut Value, segments: &[serde_path_to_error::Segment]) -> Option<&'v mut Value> {
    let mut cur = v;
    for s in segments {
        cur = match s {
            serde_path_to_error::Segment::Seq { index } => cur.get_mut(*index)?,
            serde_path_to_error::Segment::Map { key } => cur.get_mut(key.as_str())?,
            _ => return None,
        };
    }
    Some(cur)
}

/// `metadata.generateName` without a name: the name is the prefix and five random
/// characters, as Kubernetes makes it.
fn generate_name(v: &mut Value) {
    let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    let Some(prefix) = meta.remove("generateName") else { return };
    let unnamed = meta.get("name").and_then(Value::as_str).is_none_or(str::is_empty);
    if let (true, Some(prefix)) = (unnamed, prefix.as_str()) {
        use rand::Rng;
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut rng = rand::thread_rng();
        let suffix: String = (0..5).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
        meta.insert("name".into(), Value::String(format!("{prefix}{suffix}")));
    }
}

/// Kubernetes' `Warning` headers (`299 - "text"`).
pub fn warning_headers(warnings: &[String]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for w in warnings {
        let text = format!("299 - {:?}", w);
        if let Ok(v) = HeaderValue::from_str(&text) {
            headers.append("Warning", v);
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use openapi::Pod;
    use serde_json::json;

    use super::*;

    fn pod() -> Value {
        json!({
            "metadata": {"name": "p", "finalizers": []},
            "spec": {
                "dnsPolicy": "ClusterFirst",
                "containers": [{"name": "c", "image": "x", "imagePullPolicy": "Always", "resources": {}, "bogus": 1}],
            },
        })
    }

    #[test]
    fn kubernetes_fields_are_dropped_with_a_warning_and_typos_follow_the_validation() {
        let (p, warnings) = decode::<Pod>(pod(), Validation::Warn).unwrap();
        assert_eq!(p.spec.containers[0].name, "c");
        assert!(warnings.contains(&"unknown field \"spec.containers[0].bogus\"".to_string()), "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("spec.containers[0].imagePullPolicy")), "{warnings:?}");
        // finalizers, imagePullPolicy, resources and bogus (dnsPolicy is one of flatnet's fields).
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        let (_, warnings) = decode::<Pod>(pod(), Validation::Ignore).unwrap();
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        let err = decode::<Pod>(pod(), Validation::Strict).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("spec.containers[0].bogus"), "{err:?}");
        assert!(decode::<Pod>(pod(), Validation::Default).is_err());
        let mut clean = pod();
        clean["spec"]["containers"][0].as_object_mut().unwrap().remove("bogus");
        assert!(decode::<Pod>(clean, Validation::Strict).is_ok());
    }

    #[test]
    fn generate_name_makes_a_name() {
        let (p, _) = decode::<Pod>(
            json!({"metadata": {"generateName": "web-"}, "spec": {"containers": [{"name": "c"}]}}),
            Validation::Default,
        )
        .unwrap();
        assert!(p.metadata.name.starts_with("web-") && p.metadata.name.len() == 9, "{}", p.metadata.name);
    }
}
