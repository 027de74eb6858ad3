//! One error type for the whole API, rendered as the JSON [`Status`] body every client sees.
//! Internal details (SQL errors, I/O) are logged where they are turned into a 500 and never
//! returned to the client.

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use openapi::validation::FieldErrors;
use openapi::Status;
use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub reason: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub causes: Vec<openapi::StatusCause>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub(crate) fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, reason, message: message.into(), field: None, causes: Vec::new() }
    }

    pub fn not_found(kind: &str, name: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", format!("{kind} {name:?} not found"))
    }
    pub fn path_not_found(path: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", format!("no API path {path}: see /openapi.json"))
    }
    pub fn already_exists(kind: &str, name: &str) -> Self {
        Self::new(StatusCode::CONFLICT, "AlreadyExists", format!("{kind} {name:?} already exists"))
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", message)
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }
    /// A 422 naming one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errs = FieldErrors::default();
        errs.add(field, message);
        errs.into()
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", message)
    }
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, "Gone", message)
    }
    /// A watch from a resourceVersion the store has not reached (Kubernetes' 504).
    pub fn too_large_resource_version(asked: i64, current: i64) -> Self {
        let mut e = Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "Timeout",
            format!("Too large resource version: {asked}, current: {current}"),
        );
        e.causes.push(openapi::StatusCause {
            reason: Some("ResourceVersionTooLarge".into()),
            field: String::new(),
            message: "Too large resource version".into(),
        });
        e
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", message)
    }
    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "BadGateway", message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", message)
    }
    /// A 500 whose cause is logged here and not shown to the client.
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "{context}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", format!("internal error: {context}"))
    }

    pub fn to_status(&self) -> Status {
        Status {
            code: self.status.as_u16(),
            reason: self.reason.to_string(),
            message: self.message.clone(),
            field: self.field.clone(),
            causes: self.causes.clone(),
        }
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errs: FieldErrors) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            reason: "Invalid",
            message: format!("invalid: {errs}"),
            field: errs.0.first().map(|c| c.field.clone()),
            causes: errs.0,
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::internal("database", e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&openapi::StatusBody::from(&self.to_status())).unwrap_or_default();
        (self.status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

/// A JSON body extractor whose every failure (wrong content type, too large, malformed,
/// wrong field type, unknown field) is an [`ApiError`] naming the field where serde knows it.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + Serialize, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read_json_body(req, state).await?;
        parse_json(&bytes).map(Json)
    }
}

/// The body of a JSON request: its content type checked, its size limited.
pub async fn read_json_body<S: Send + Sync>(req: Request, state: &S) -> ApiResult<axum::body::Bytes> {
    {
        // A body without Content-Type is read as JSON, as Kubernetes does (the official
        // Python client sends none).
        let is_json = match req.headers().get(header::CONTENT_TYPE) {
            None => true,
            Some(v) => v.to_str().ok().is_some_and(|ct| {
                let ct = ct.split(';').next().unwrap_or("").trim();
                ct == "application/json" || ct.ends_with("+json") || ct == "application/yaml+json"
            }),
        };
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                "expected a request body with Content-Type: application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e: BytesRejection| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large(format!("request body too large: {}", e.body_text()))
            } else {
                ApiError::bad_request(format!("read request body: {}", e.body_text()))
            }
        })?;
        Ok(bytes)
    }
}

/// The body of a request, whatever its content type, and that content type ("" when absent).
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> ApiResult<(String, axum::body::Bytes)> {
    let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e: BytesRejection| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!("request body too large: {}", e.body_text()))
        } else {
            ApiError::bad_request(format!("read request body: {}", e.body_text()))
        }
    })?;
    Ok((ct, bytes))
}

/// Where `input` has an array and the object read from it an object: serde reads a struct
/// from a JSON array too (`"source": [null, null]`), which the API does not take.
fn array_for_object(input: &serde_json::Value, read: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match (input, read) {
        (Value::Array(_), Value::Object(_)) => Some(path.to_string()),
        (Value::Object(i), Value::Object(r)) => i.iter().find_map(|(k, v)| {
            let sub = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            r.get(k).and_then(|rv| array_for_object(v, rv, &sub))
        }),
        (Value::Array(i), Value::Array(r)) => {
            i.iter().zip(r).enumerate().find_map(|(n, (iv, rv))| array_for_object(iv, rv, &format!("{path}[{n}]")))
        }
        _ => None,
    }
}

/// Deserialize with the path of the failing field (`spec.ports[0].port`).
pub fn parse_json<T: DeserializeOwned + Serialize>(bytes: &[u8]) -> ApiResult<T> {
    let value: T = parse_json_as(bytes)?;
    if let Ok(input) = serde_json::from_slice(bytes) {
        no_array_for_object(&input, &value)?;
    }
    Ok(value)
}

/// A 400 where `input` has an array and `read` (what was read from it) an object.
pub fn no_array_for_object<T: Serialize>(input: &serde_json::Value, read: &T) -> ApiResult<()> {
    let Ok(read) = serde_json::to_value(read) else { return Ok(()) };
    if let Some(field) = array_for_object(input, &read, "") {
        let message = "invalid type: sequence, expected an object".to_string();
        let mut err = ApiError::bad_request(format!("malformed body at {field}: {message}"));
        err.causes.push(openapi::StatusCause {
            reason: Some("FieldValueInvalid".into()),
            field: field.clone(),
            message,
        });
        err.field = Some(field);
        return Err(err);
    }
    Ok(())
}

fn parse_json_as<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(path_error)
}

/// A 400 naming the field serde failed at.
pub fn path_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    let field = if path == "." { None } else { Some(path) };
    let message = match &field {
        Some(f) => format!("malformed body at {f}: {inner}"),
        None => format!("malformed body: {inner}"),
    };
    let mut err = ApiError::bad_request(message);
    if let Some(f) = field {
        err.causes.push(openapi::StatusCause {
            reason: Some("FieldValueInvalid".into()),
            field: f.clone(),
            message: inner.to_string(),
        });
        err.field = Some(f);
    }
    err
}
