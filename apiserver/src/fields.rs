//! Field selectors (`fieldSelector=metadata.name=x,spec.nodeName!=n1`), as Kubernetes reads
//! them: `metadata.name` and `metadata.namespace` on every kind, and the fields the kind's
//! registry entry lists ([`openapi::KindInfo::field_selectors`]: `spec.nodeName` and
//! `status.phase` on pods, `involvedObject.*` on events). An unset field reads as "".

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::store::Kind;

/// One requirement: `field=value`, `field==value` or `field!=value`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Requirement {
    field: String,
    equal: bool,
    value: String,
}

/// A parsed field selector; empty selects everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector {
    reqs: Vec<Requirement>,
}

/// Fields every kind can be selected by.
pub(crate) const COMMON: &[&str] = &["metadata.name", "metadata.namespace"];

impl FieldSelector {
    pub fn parse(kind: Kind, selector: Option<&str>) -> ApiResult<FieldSelector> {
        let mut reqs = Vec::new();
        for term in selector.unwrap_or("").split(',').map(str::trim).filter(|t| !t.is_empty()) {
            // The field ends at the first `=` or `!`: `=`, `==` or `!=` follows; the value is
            // the rest (the OpenAPI document's pattern says the same).
            let bad = || ApiError::bad_request(format!("invalid fieldSelector term {term:?}: expected FIELD=VALUE"));
            let i = term.find(['=', '!']).ok_or_else(bad)?;
            let (field, rest) = term.split_at(i);
            let (equal, value) = if let Some(v) = rest.strip_prefix("!=") {
                (false, v)
            } else if let Some(v) = rest.strip_prefix("==") {
                (true, v)
            } else if let Some(v) = rest.strip_prefix('=') {
                (true, v)
            } else {
                return Err(bad());
            };
            let field = field.trim();
            if !COMMON.contains(&field) && !kind.field_selectors.contains(&field) {
                let mut known: Vec<&str> = COMMON.to_vec();
                known.extend(kind.field_selectors);
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field:?} (a {} can be selected by {})",
                    kind.kind,
                    known.join(", ")
                )));
            }
            reqs.push(Requirement { field: field.to_string(), equal, value: value.trim().to_string() });
        }
        Ok(FieldSelector { reqs })
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// The node of a `spec.nodeName=NODE` requirement, which the store can select by itself.
    pub fn node(&self) -> Option<&str> {
        self.reqs.iter().find(|r| r.equal && r.field == "spec.nodeName").map(|r| r.value.as_str())
    }

    /// Whether the object (as JSON) is selected.
    pub fn matches(&self, obj: &Value) -> bool {
        self.reqs.iter().all(|r| {
            let v = r.field.split('.').try_fold(obj, |v, key| v.get(key));
            let s = match v {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (s == r.value) == r.equal
        })
    }

    /// Whether the object (as a JSON text) is selected; an empty selector reads nothing.
    pub fn matches_json(&self, json: &str) -> bool {
        self.is_empty() || serde_json::from_str::<Value>(json).is_ok_and(|v| self.matches(&v))
    }
}

#[cfg(test)]
mod tests {
    use openapi::{Event, Pod, Resource, Service};
    use serde_json::json;

    use super::*;

    #[test]
    fn selects_by_name_namespace_and_the_kinds_own_fields() {
        let pod = json!({"metadata": {"name": "a", "namespace": "web"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        let sel = |s: &str| FieldSelector::parse(Pod::INFO, Some(s)).unwrap();
        assert!(sel("metadata.name=a").matches(&pod));
        assert!(sel("metadata.name==a,metadata.namespace=web").matches(&pod));
        assert!(!sel("metadata.name!=a").matches(&pod));
        assert!(sel("status.phase=Running,spec.nodeName=n1").matches(&pod));
        assert_eq!(sel("spec.nodeName=n1").node(), Some("n1"));
        assert!(sel("spec.nodeName=").matches(&json!({"spec": {}})));
        assert!(FieldSelector::parse(Service::INFO, Some("spec.nodeName=n1")).is_err());
        assert!(FieldSelector::parse(Pod::INFO, Some("nonsense")).is_err());
        let ev = json!({"involvedObject": {"kind": "Pod", "name": "a"}});
        assert!(FieldSelector::parse(Event::INFO, Some("involvedObject.name=a,involvedObject.kind=Pod"))
            .unwrap()
            .matches(&ev));
    }
}
