//! Object metadata, lists, watch events and the error body shared by every resource.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use utoipa::ToSchema;

use crate::registry::KindInfo;

/// Metadata every object carries, in Kubernetes' shape.
///
/// Unknown fields are rejected so that a typo (`lables`) is an error rather than silently
/// ignored. `uid`, `resourceVersion` and `creationTimestamp` are set by the server.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectMeta {
    /// DNS-1123 name, unique per kind and namespace.
    #[serde(default)]
    pub name: String,
    /// Namespace of a namespaced object; taken from the path when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The store revision of the last write to this object. Send it back on update for
    /// optimistic concurrency: a stale value is answered with 409 Conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Who set which fields with server-side apply; kept when a write leaves it out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_fields: Vec<ManagedFieldsEntry>,
}

/// One field manager's record (server-side apply): who applied, when, and the fields its
/// last applied configuration set (Kubernetes' `FieldsV1` form, `{"f:spec":{"f:ports":{}}}`).
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagedFieldsEntry {
    pub manager: String,
    /// `Apply`.
    pub operation: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<Utc>>,
    /// `FieldsV1`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fields_type: String,
    // An object (Kubernetes' `FieldsV1`); anything else is refused when read.
    #[serde(
        default,
        rename = "fieldsV1",
        skip_serializing_if = "Option::is_none",
        deserialize_with = "object_or_none"
    )]
    #[schema(value_type = Object)]
    pub fields_v1: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subresource: String,
}

/// `fieldsV1`: an object, or absent. The spec says object (not nullable); a request with
/// `null`, an array or a string there is refused, not stored (schemathesis sent `[null,
/// null]` and `null` and got them back, against the answer's own schema). An absent field
/// never reaches this (`default`).
fn object_or_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    use serde::de::Error as _;
    match serde_json::Value::deserialize(d)? {
        v @ serde_json::Value::Object(_) => Ok(Some(v)),
        _ => Err(D::Error::custom("metadata.managedFields[].fieldsV1 must be an object")),
    }
}

impl ObjectMeta {
    /// The revision as a number (0 when absent or unparsable).
    pub fn revision(&self) -> i64 {
        self.resource_version.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0)
    }
}

/// A kind of object the API serves. Implemented by the [`kinds!`](crate::registry) table,
/// which states the kind's facts once, in [`Resource::INFO`]; the other constants and the
/// paths are derived from it.
pub trait Resource: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// Everything the API says about the kind.
    const INFO: &'static KindInfo;
    const KIND: &'static str = Self::INFO.kind;
    /// `v1`, or `GROUP/VERSION` outside the core group.
    const API_VERSION: &'static str = Self::INFO.api_version;
    /// The lower-case plural used in paths (`pods`).
    const PLURAL: &'static str = Self::INFO.plural;
    const NAMESPACED: bool = Self::INFO.namespaced;

    fn metadata(&self) -> &ObjectMeta;
    fn metadata_mut(&mut self) -> &mut ObjectMeta;
    /// `apiVersion` and `kind`, as sent (empty when absent).
    fn type_meta_mut(&mut self) -> (&mut String, &mut String);

    /// The path of the collection: all namespaces when `namespace` is `None`.
    fn collection_path(namespace: Option<&str>) -> String {
        Self::INFO.collection_path(namespace)
    }

    /// The path of one object.
    fn object_path(namespace: Option<&str>, name: &str) -> String {
        Self::INFO.object_path(namespace, name)
    }
}

/// Metadata of a list: the store revision the list was read at. Watch from it to follow.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ListMeta {
    #[serde(default)]
    pub resource_version: String,
}

/// A list of objects of one kind (`PodList`, ...).
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
#[serde(bound(deserialize = "T: DeserializeOwned"))]
pub struct List<T> {
    pub api_version: String,
    pub kind: String,
    pub metadata: ListMeta,
    pub items: Vec<T>,
}

/// The type of a watch event.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    Added,
    Modified,
    Deleted,
    /// Carries only `metadata.resourceVersion`: the stream has seen every event up to it.
    Bookmark,
    /// Carries a [`Status`]; the stream ends after it (410 when the history was compacted).
    Error,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
            EventType::Bookmark => "BOOKMARK",
            EventType::Error => "ERROR",
        }
    }
}

/// One line of a watch stream, as sent on the wire: `{"type":…,"object":…}`.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct RawWatchEvent {
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub object: serde_json::Value,
}

/// One cause of a validation failure.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
pub struct StatusCause {
    /// Kubernetes' machine-readable cause (`FieldValueInvalid`, `FieldValueNotSupported`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The offending field, as a path (`spec.ports[0].port`).
    pub field: String,
    pub message: String,
}

/// Every error the API returns: `{"code","reason","message"}`, plus the offending field
/// and all causes when the request failed validation.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The HTTP status code.
    pub code: u16,
    /// A machine-readable reason: `NotFound`, `AlreadyExists`, `Conflict`, `Invalid`,
    /// `BadRequest`, `Unauthorized`, `Forbidden`, `Gone`, `RequestEntityTooLarge`,
    /// `InternalError`, `ServiceUnavailable`.
    pub reason: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<StatusCause>,
}

/// The error body on the wire: Kubernetes' `Status` (`kind: Status`, `apiVersion: v1`,
/// `status: Failure`, `details.causes[].field`), which kubectl and the official clients
/// read, with flatnet's `field` and `causes` also at the top. [`Status`] reads it.
///
/// The OpenAPI document calls it `Status`, as Kubernetes does.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[schema(as = Status)]
pub struct StatusBody {
    /// Always `Status`.
    #[serde(default)]
    pub kind: String,
    /// Always `v1`.
    #[serde(default)]
    pub api_version: String,
    /// Always empty.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// `Failure` for every error.
    #[serde(default)]
    pub status: String,
    pub message: String,
    /// As in [`Status::reason`].
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<StatusDetails>,
    /// The HTTP status code.
    pub code: u16,
    /// The first offending field (flatnet's shortcut for `details.causes[0].field`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The same as `details.causes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<StatusCause>,
}

/// What a [`StatusBody`] is about: the object named, and every cause of a validation failure.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StatusDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The plural of the kind (`pods`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<StatusCause>,
}

impl From<&Status> for StatusBody {
    fn from(s: &Status) -> Self {
        let details =
            (!s.causes.is_empty()).then(|| StatusDetails { causes: s.causes.clone(), ..StatusDetails::default() });
        StatusBody {
            kind: "Status".into(),
            api_version: "v1".into(),
            metadata: serde_json::Map::new(),
            status: "Failure".into(),
            message: s.message.clone(),
            reason: s.reason.clone(),
            details,
            code: s.code,
            field: s.field.clone(),
            causes: s.causes.clone(),
        }
    }
}

impl Status {
    /// An error body as Kubernetes or flatnet sends it: a `Status` whose causes may be only in
    /// `details.causes` (a Kubernetes server's) or also at the top (flatnet's).
    pub fn from_body(bytes: &[u8]) -> Option<Status> {
        #[derive(Deserialize)]
        struct Body {
            #[serde(default)]
            details: Option<StatusDetails>,
        }
        let mut status: Status = serde_json::from_slice(bytes).ok()?;
        if status.causes.is_empty() {
            if let Ok(Body { details: Some(details) }) = serde_json::from_slice::<Body>(bytes) {
                status.causes = details.causes;
            }
        }
        if status.field.is_none() {
            status.field = status.causes.iter().map(|c| c.field.clone()).find(|f| !f.is_empty());
        }
        Some(status)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

#[cfg(test)]
mod managed_fields_tests {
    use super::ManagedFieldsEntry;

    #[test]
    fn fields_v1_must_be_an_object() {
        let ok: ManagedFieldsEntry =
            serde_json::from_str(r#"{"manager":"m","operation":"Apply","fieldsV1":{"f:spec":{}}}"#).unwrap();
        assert!(ok.fields_v1.is_some_and(|v| v.is_object()));
        let absent: ManagedFieldsEntry = serde_json::from_str(r#"{"manager":"m","operation":"Apply"}"#).unwrap();
        assert_eq!(absent.fields_v1, None);
        for bad in ["null", "[null,null]", "\"x\"", "1"] {
            let text = format!(r#"{{"manager":"m","operation":"Apply","fieldsV1":{bad}}}"#);
            let err = serde_json::from_str::<ManagedFieldsEntry>(&text).unwrap_err().to_string();
            assert!(err.contains("must be an object"), "{bad}: {err}");
        }
    }
}
