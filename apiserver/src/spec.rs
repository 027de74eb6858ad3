//! The OpenAPI 3.1 document of the API, served at `/openapi.json` and committed as
//! `openapi/openapi.json` (a test fails when they differ; `UPDATE_OPENAPI=1 cargo test -p
//! flatnet-apiserver openapi` rewrites the committed copy).
//!
//! Schemas come from the types (utoipa's `ToSchema`); the paths of the kinds are derived
//! from the kind registry ([`openapi::registry`]), the same entries the router follows, so
//! every route is described with its parameters, body and every error it can answer. The
//! routes that are not plain resources are described one by one below.

use std::sync::OnceLock;

use openapi::validation::{name_constraint, Constraint, Target, SCHEMA_CONSTRAINTS};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{AdditionalProperties, AllOfBuilder, ArrayBuilder, Object, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Components, ContentBuilder, Paths, Ref, RefOr, Required, ResponseBuilder};
use utoipa::OpenApi;

use openapi::*;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "flatnet API",
        description = "flatnet's API server: nodes and their CIDR leases, pods, services and endpoints, in Kubernetes' shapes. Served over HTTPS with the cluster's own CA (DATA_DIR/ca.crt). Every request but the health checks needs a bearer token: the admin token, the viewer token (reads only, not pod logs), or a node-scoped token (reads, and a node's own writes). Lists answer a resourceVersion; `?watch=true&resourceVersion=N` streams newline-delimited events after N.",
        license(name = "Apache-2.0")
    ),
    // The kinds' schemas (and those they refer to) come from the registry, in `build`.
    components(schemas(
        ObjectMeta,
        ManagedFieldsEntry,
        ListMeta,
        StatusBody,
        StatusDetails,
        StatusCause,
        EventType,
        Heartbeat,
        NodeToken,
        ClusterConfig,
        openapi::PolicyCounters,
        openapi::PolicyCounter,
    ))
)]
struct Doc;

fn schema_ref(name: &str) -> Ref {
    Ref::from_schema_name(name)
}

fn json_content(name: &str) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema_ref(name))).build()
}

/// The name of an object in a path, with the rule of its kind's names where it has one (an
/// object whose name breaks it cannot exist: 404; one cannot be created: 422).
fn name_param(k: &KindInfo) -> utoipa::openapi::path::Parameter {
    let mut schema = ObjectBuilder::new().schema_type(Type::String).build();
    if let Some(rule) = name_constraint(k.kind) {
        constrain(&mut schema, &rule);
        // A path segment is never empty.
        schema.min_length = Some(1);
    }
    ParameterBuilder::new()
        .name("name")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(format!("The {}'s name", k.singular)))
        .schema(Some(schema))
        .build()
}

/// The namespace of a path: a DNS-1123 label (anything else is a bad request).
fn namespace_param() -> utoipa::openapi::path::Parameter {
    let mut schema = ObjectBuilder::new().schema_type(Type::String).build();
    constrain(&mut schema, &openapi::validation::DNS1123_LABEL);
    ParameterBuilder::new()
        .name("namespace")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("Namespace (a DNS-1123 label)"))
        .schema(Some(schema))
        .build()
}

fn query_param(name: &str, ty: Type, description: &str) -> utoipa::openapi::path::Parameter {
    query_param_with(name, ObjectBuilder::new().schema_type(ty).build(), description)
}

fn query_param_with(name: &str, schema: Object, description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// A query parameter the server reads as an unsigned integer (`u64`).
/// A count the server reads as an unsigned 64-bit number: no `format` (`int64` would say the
/// upper half of the range is invalid, which the server accepts).
fn count_param(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    let mut schema = ObjectBuilder::new().schema_type(Type::Integer).build();
    schema.minimum = Some(0.into());
    schema.maximum = Some(u64::MAX.into());
    query_param_with(name, schema, description)
}

/// Add the keywords of `c` to a string or number schema.
fn constrain(schema: &mut Object, c: &Constraint) {
    if let Some(p) = c.pattern {
        schema.pattern = Some(p.to_string());
    }
    if c.min_length.is_some() {
        schema.min_length = c.min_length;
    }
    if c.max_length.is_some() {
        schema.max_length = c.max_length;
    }
    if let Some(min) = c.minimum {
        schema.minimum = Some(min.into());
    }
    if let Some(max) = c.maximum {
        schema.maximum = Some(max.into());
    }
    // As a pattern, not an enum: generators name inline enums after the property, and
    // `Event.type` would clash with the watch's `EventType`.
    if let Some(values) = c.one_of {
        schema.pattern = Some(format!("^({})$", values.join("|")));
    }
}

fn object_mut<'a>(schema: &'a mut RefOr<Schema>, what: &str) -> &'a mut Object {
    match schema {
        RefOr::T(Schema::Object(o)) => o,
        _ => panic!("{what} is not an inline object schema"),
    }
}

/// Apply the validator's rules ([`SCHEMA_CONSTRAINTS`]) to the schemas. A rule whose schema
/// or property is missing panics, so that the document test fails when the types and the
/// rules drift apart.
fn apply_constraints(components: &mut Components) {
    for fc in SCHEMA_CONSTRAINTS {
        let what = format!("{}.{}", fc.schema, fc.property);
        let schema = components.schemas.get_mut(fc.schema).unwrap_or_else(|| panic!("no schema {}", fc.schema));
        if let Target::IntBranch | Target::StringBranch = fc.target {
            let RefOr::T(Schema::OneOf(one_of)) = schema else { panic!("{} is not oneOf", fc.schema) };
            let branch = if fc.target == Target::IntBranch { 0 } else { 1 };
            constrain(object_mut(&mut one_of.items[branch], &what), &fc.constraint);
            continue;
        }
        let obj = object_mut(schema, fc.schema);
        if fc.target == Target::Required {
            if !obj.required.iter().any(|r| r == fc.property) {
                obj.required.push(fc.property.to_string());
            }
            continue;
        }
        let prop = obj.properties.get_mut(fc.property).unwrap_or_else(|| panic!("no property {what}"));
        match fc.target {
            Target::Value => constrain(object_mut(prop, &what), &fc.constraint),
            Target::MinItems(n) => match prop {
                RefOr::T(Schema::Array(a)) => a.min_items = Some(n),
                _ => panic!("{what} is not an array"),
            },
            Target::Keys => match &mut object_mut(prop, &what).property_names {
                Some(names) => match names.as_mut() {
                    Schema::Object(o) => constrain(o, &fc.constraint),
                    _ => panic!("{what}: property names are not an object schema"),
                },
                None => panic!("{what} is not a map"),
            },
            Target::Values => match object_mut(prop, &what).additional_properties.as_deref_mut() {
                Some(AdditionalProperties::RefOr(RefOr::T(Schema::Object(o)))) => constrain(o, &fc.constraint),
                _ => panic!("{what} is not a map of inline values"),
            },
            Target::IntBranch | Target::StringBranch | Target::Required => unreachable!(),
        }
    }
    // A written object's `apiVersion` and `kind` are the kind's own, or absent (the server
    // fills them in); a cluster-scoped object has no namespace.
    for k in KINDS.iter().filter(|k| k.verbs.writable()) {
        let obj = object_mut(components.schemas.get_mut(k.kind).expect("kind schema"), k.kind);
        for (field, value) in [("apiVersion", k.api_version), ("kind", k.kind)] {
            let prop = obj.properties.get_mut(field).unwrap_or_else(|| panic!("{}.{field}", k.kind));
            object_mut(prop, field).pattern = Some(format!("^({})?$", value.replace('.', "\\.")));
        }
    }
    // `metadata.name` of each writable kind, with its kind's rule; required where the
    // validator requires a name.
    for k in KINDS {
        let Some(rule) = name_constraint(k.kind) else { continue };
        let required = rule.min_length.is_some_and(|m| m > 0);
        let mut name = ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(format!("The {}'s name; on replace, the name of the path", k.singular)))
            .build();
        constrain(&mut name, &rule);
        let mut extra = ObjectBuilder::new().property("name", name);
        if required {
            extra = extra.required("name");
        }
        let obj = object_mut(components.schemas.get_mut(k.kind).expect("kind schema"), k.kind);
        let description = match obj.properties.get("metadata") {
            Some(RefOr::Ref(r)) => Some(r.description.clone()).filter(|d| !d.is_empty()),
            _ => None,
        };
        let meta = AllOfBuilder::new().item(schema_ref("ObjectMeta")).item(extra).description(description).build();
        obj.properties.insert("metadata".into(), RefOr::T(Schema::AllOf(meta)));
        if required && !obj.required.iter().any(|r| r == "metadata") {
            obj.required.push("metadata".into());
        }
    }
}

/// One line of a watch stream.
fn watch_event_schema() -> Object {
    ObjectBuilder::new()
        .description(Some(
            "One event of a watch stream. A watch answers one WatchEvent per line, as long as the stream \
             lasts, labelled `application/json` as Kubernetes does (a stream of JSON objects, not one document), \
             or `application/x-ndjson` when the request's Accept header names it; the stream ends after `timeoutSeconds`. `object` is the kind's object for ADDED, MODIFIED \
             and DELETED; for BOOKMARK only `apiVersion`, `kind` and `metadata.resourceVersion`; for ERROR a \
             Status, after which the stream ends.",
        ))
        .property("type", schema_ref("EventType"))
        .property("object", ObjectBuilder::new().schema_type(Type::Object))
        .required("type")
        .required("object")
        .build()
}

/// Error responses by status code.
fn error(code: &str, what: &str) -> (String, utoipa::openapi::Response) {
    (
        code.to_string(),
        ResponseBuilder::new().description(what).content("application/json", json_content("Status")).build(),
    )
}

fn errors(codes: &[&str]) -> Vec<(String, utoipa::openapi::Response)> {
    codes
        .iter()
        .map(|c| match *c {
            "400" => error(c, "Malformed request: bad JSON, wrong field type, unknown field, bad selector"),
            "401" => error(c, "No or unknown bearer token"),
            "403" => error(c, "The token may not do this (the viewer token writing or reading logs, a node token writing another node)"),
            "404" => error(c, "No such object, or a namespace that cannot exist (not a DNS-1123 label)"),
            "409" => error(c, "Already exists, or a stale resourceVersion"),
            "410" => error(c, "The watch history before resourceVersion was compacted: list again"),
            "413" => error(c, "Request body too large"),
            "415" => error(c, "Body is not application/json"),
            "422" => error(
                c,
                "Validation failed: `details.causes` (and `causes`) list every offending field, `field` names the first",
            ),
            "502" => error(c, "The node's agent could not be reached or failed"),
            "504" => error(c, "A watch from a resourceVersion the server has not reached (after 3 s, as Kubernetes)"),
            "503" => {
                error(c, "Store unavailable, an address pool is exhausted, or the node publishes no agent endpoint")
            }
            _ => error(c, "Internal error"),
        })
        .collect()
}

/// A read needs a token too (any of them: every role may read); only the health check is open.
const READ_ERRORS: &[&str] = &["401", "500"];
const HEALTH_ERRORS: &[&str] = &["500"];
const WRITE_ERRORS: &[&str] = &["400", "401", "403", "404", "409", "413", "415", "422", "500", "503"];

fn operation(
    id: String,
    tag: &str,
    summary: String,
    params: Vec<utoipa::openapi::path::Parameter>,
    body: Option<&str>,
    ok: (&str, String, utoipa::openapi::Content, &str),
    error_codes: &[&str],
) -> utoipa::openapi::path::Operation {
    let mut op = OperationBuilder::new()
        .operation_id(Some(id))
        .tag(tag)
        .summary(Some(summary))
        .parameters(Some(params))
        .response(ok.0, ResponseBuilder::new().description(ok.1).content(ok.3, ok.2).build());
    for (code, resp) in errors(error_codes) {
        op = op.response(code, resp);
    }
    if let Some(schema) = body {
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .content("application/json", json_content(schema))
                .required(Some(Required::True))
                .build(),
        ));
    }
    // What can answer 401 needs a bearer token.
    if error_codes.contains(&"401") {
        op = op.security(SecurityRequirement::new("bearer", Vec::<String>::new()));
    }
    op.build()
}

/// The content type of a watch stream when the client's Accept header names it (otherwise
/// `application/json`, as Kubernetes labels its watch streams).
pub const WATCH_CONTENT_TYPE: &str = "application/x-ndjson";

trait WithWatchStream {
    fn with_watch_stream(self) -> Self;
}

impl WithWatchStream for utoipa::openapi::path::Operation {
    /// A list answers a stream of WatchEvent lines when asked to watch.
    fn with_watch_stream(mut self) -> Self {
        if let Some(RefOr::T(ok)) = self.responses.responses.get_mut("200") {
            ok.content.insert(WATCH_CONTENT_TYPE.to_string(), json_content("WatchEvent"));
        }
        self
    }
}

fn list_schema(kind: &str) -> utoipa::openapi::schema::Object {
    ObjectBuilder::new()
        .property("apiVersion", ObjectBuilder::new().schema_type(Type::String))
        .property("kind", ObjectBuilder::new().schema_type(Type::String).description(Some(format!("{kind}List"))))
        .property("metadata", schema_ref("ListMeta"))
        .property("items", ArrayBuilder::new().items(schema_ref(kind)))
        .required("apiVersion")
        .required("kind")
        .required("metadata")
        .required("items")
        .build()
}

fn list_params(k: &KindInfo) -> Vec<utoipa::openapi::path::Parameter> {
    let mut params = vec![
        query_param_with(
            "labelSelector",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(openapi::validation::label_selector_pattern()))
                .build(),
            "Label selector: `app=web`, `tier!=db`, `env in (a,b)`, `!canary`",
        ),
        query_param(
            "watch",
            Type::Boolean,
            "Stream changes as WatchEvent objects, one per line, instead of listing: `application/json` (as \
             Kubernetes labels it), or `application/x-ndjson` when the Accept header names it",
        ),
        query_param_with(
            "resourceVersion",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(format!("^[0-9]{{0,{}}}$", crate::api::REVISION_DIGITS_MAX)))
                .build(),
            "With watch: stream events after this revision (absent or 0: current objects as ADDED first)",
        ),
        query_param(
            "allowWatchBookmarks",
            Type::Boolean,
            "With watch: send BOOKMARK events carrying the revision reached",
        ),
        count_param("timeoutSeconds", "With watch: end the stream after this many seconds"),
    ];
    let mut fields: Vec<&str> = crate::fields::COMMON.to_vec();
    fields.extend(k.field_selectors);
    let accepted: Vec<String> = fields
        .iter()
        .map(|field| match *field {
            "spec.nodeName" => "`spec.nodeName=NAME`: only pods bound to that node".to_string(),
            other => format!("`{other}=VALUE`"),
        })
        .collect();
    let schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(openapi::validation::field_selector_pattern(&fields)))
        .build();
    params.push(query_param_with(
        "fieldSelector",
        schema,
        &format!(
            "Terms joined by commas, each `FIELD=VALUE`, `FIELD==VALUE` or `FIELD!=VALUE`: {}",
            accepted.join("; ")
        ),
    ));
    params
}

/// The query parameters every write accepts.
fn with_write_params(mut params: Vec<utoipa::openapi::path::Parameter>) -> Vec<utoipa::openapi::path::Parameter> {
    let one_of = |pattern: &str| ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern)).build();
    params.push(query_param_with(
        "dryRun",
        one_of("^(All)?$"),
        "`All`: validate and answer as if done; nothing changes (empty: a real write)",
    ));
    params.push(query_param_with(
        "fieldValidation",
        one_of("^(Ignore|Warn|Strict)?$"),
        "`Ignore`, `Warn` or `Strict`: what unknown fields do (fields of Kubernetes' types flatnet does not use are dropped with a Warning header in every mode; without it or empty, unknown fields are a 400 as under Strict)",
    ));
    params.push(query_param("fieldManager", Type::String, "Who writes (required for server-side apply)"));
    params
}

fn add_kind(paths: &mut Paths, k: &KindInfo) {
    let routes = k.routes();
    let ns_param = || namespace_param();
    let name_param = || name_param(k);
    let list_ok = |what: String| ("200", what, json_content(&k.list_kind()), "application/json");
    let list_errors: &[&str] = &["400", "401", "404", "410", "500", "504"];
    let watch_note = "; with watch=true, a stream of WatchEvent objects, one per line (`application/json` as \
                      Kubernetes labels it, or `application/x-ndjson` when the Accept header names it)";

    // Cluster-wide list (for namespaced kinds: across all namespaces).
    let all = if k.namespaced { " in all namespaces" } else { "" };
    paths.add_path_operation(
        &routes.all,
        vec![HttpMethod::Get],
        operation(
            format!("list{}{}", k.kind, if k.namespaced { "AllNamespaces" } else { "" }),
            k.tag,
            format!("List or watch {}{all}", k.plural),
            list_params(k),
            None,
            list_ok(format!("The {}{watch_note}", k.plural)),
            list_errors,
        )
        .with_watch_stream(),
    );
    let base_params = if k.namespaced { vec![ns_param()] } else { vec![] };
    if let Some(collection) = &routes.collection {
        let mut params = base_params.clone();
        params.extend(list_params(k));
        paths.add_path_operation(
            collection,
            vec![HttpMethod::Get],
            operation(
                format!("list{}", k.kind),
                k.tag,
                format!("List or watch {} in a namespace", k.plural),
                params,
                None,
                list_ok(format!("The {}{watch_note}", k.plural)),
                list_errors,
            )
            .with_watch_stream(),
        );
    }
    let object_ok = |what: &str, code: &'static str| (code, what.to_string(), json_content(k.kind), "application/json");
    let mut obj_params = base_params.clone();
    obj_params.push(name_param());
    paths.add_path_operation(
        &routes.object,
        vec![HttpMethod::Get],
        operation(
            format!("read{}", k.kind),
            k.tag,
            format!("Read a {}", k.kind),
            obj_params.clone(),
            None,
            object_ok("The object", "200"),
            &["401", "404", "500"],
        ),
    );
    if k.verbs.create {
        let summary = k.create_summary.map_or_else(|| format!("Create a {}", k.kind), str::to_string);
        paths.add_path_operation(
            routes.create(),
            vec![HttpMethod::Post],
            operation(
                format!("create{}", k.kind),
                k.tag,
                summary,
                with_write_params(base_params.clone()),
                Some(k.kind),
                object_ok("Created", "201"),
                WRITE_ERRORS,
            ),
        );
    }
    if k.verbs.update {
        paths.add_path_operation(
            &routes.object,
            vec![HttpMethod::Put],
            operation(
                format!("replace{}", k.kind),
                k.tag,
                format!("Replace a {} (409 when metadata.resourceVersion is stale)", k.kind),
                with_write_params(obj_params.clone()),
                Some(k.kind),
                object_ok("Replaced", "200"),
                WRITE_ERRORS,
            ),
        );
    }
    if k.verbs.update {
        let mut op = operation(
            format!("patch{}", k.kind),
            k.tag,
            format!(
                "Patch a {}: JSON merge patch, JSON patch, strategic merge patch (lists merged by key), or server-side apply (creates it when missing; needs fieldManager)",
                k.kind
            ),
            with_write_params(obj_params.clone()),
            None,
            object_ok("Patched", "200"),
            WRITE_ERRORS,
        );
        // One content type described (generators take one); the others are the same object
        // patched another way: application/json-patch+json (an array of operations),
        // application/strategic-merge-patch+json and application/apply-patch+yaml.
        let body = RequestBodyBuilder::new()
            .description(Some(
                "A JSON merge patch; also accepted: application/json-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (server-side apply, written as JSON)",
            ))
            .required(Some(Required::True))
            .content("application/merge-patch+json", ContentBuilder::new().schema(Some(ObjectBuilder::new())).build());
        op.request_body = Some(body.build());
        op.responses.responses.insert(
            "201".into(),
            utoipa::openapi::RefOr::T(
                ResponseBuilder::new()
                    .description("Created by server-side apply")
                    .content("application/json", json_content(k.kind))
                    .build(),
            ),
        );
        paths.add_path_operation(&routes.object, vec![HttpMethod::Patch], op);
    }
    if k.verbs.delete {
        paths.add_path_operation(
            &routes.object,
            vec![HttpMethod::Delete],
            operation(
                format!("delete{}", k.kind),
                k.tag,
                format!("Delete a {}; answers it as it was", k.kind),
                with_write_params(obj_params.clone()),
                None,
                object_ok("Deleted", "200"),
                &["400", "401", "403", "404", "500", "503"],
            ),
        );
    }
    if k.status {
        let status_path = routes.status();
        paths.add_path_operation(
            &status_path,
            vec![HttpMethod::Get],
            operation(
                format!("read{}Status", k.kind),
                k.tag,
                format!("Read a {} (with its status)", k.kind),
                obj_params.clone(),
                None,
                object_ok("The object", "200"),
                &["401", "404", "500"],
            ),
        );
        paths.add_path_operation(
            &status_path,
            vec![HttpMethod::Put],
            operation(
                format!("replace{}Status", k.kind),
                k.tag,
                format!("Replace the status of a {} (only `status` is taken; server-owned fields are kept)", k.kind),
                obj_params,
                Some(k.kind),
                object_ok("Replaced", "200"),
                WRITE_ERRORS,
            ),
        );
    }
}

fn build() -> utoipa::openapi::OpenApi {
    let mut doc = Doc::openapi();
    let mut paths = Paths::new();
    for k in KINDS {
        add_kind(&mut paths, k);
    }
    let name = || name_param(Node::INFO);
    let node = Node::INFO.routes().object;
    paths.add_path_operation(
        format!("{node}/heartbeat"),
        vec![HttpMethod::Post],
        operation(
            "heartbeatNode".into(),
            "nodes",
            "Renew the node's Lease kube-node-lease/{name} and publish its backend data in its CIDR lease (acquiring \
             one if it has none; the CIDR lease is written only when what it holds changes); the node turns Ready"
                .into(),
            vec![name()],
            Some("Heartbeat"),
            ("200", "The node's CIDR lease".into(), json_content("NodeLease"), "application/json"),
            WRITE_ERRORS,
        ),
    );
    paths.add_path_operation(
        format!("{node}/token"),
        vec![HttpMethod::Post],
        operation(
            "createNodeToken".into(),
            "nodes",
            "Mint a bearer token scoped to one node (admin only); shown once".into(),
            vec![name()],
            None,
            ("201", "The token".into(), json_content("NodeToken"), "application/json"),
            &["401", "403", "422", "500", "503"],
        ),
    );
    paths.add_path_operation(
        format!("{node}/policycounters"),
        vec![HttpMethod::Put],
        operation(
            "reportPolicyCounters".into(),
            "nodes",
            "Replace the node's network policy counters (its agent reports them every few seconds)".into(),
            vec![name()],
            Some("PolicyCounters"),
            ("200", "The report as kept".into(), json_content("PolicyCounters"), "application/json"),
            WRITE_ERRORS,
        ),
    );
    paths.add_path_operation(
        "/api/v1/policycounters",
        vec![HttpMethod::Get],
        operation(
            "readPolicyCounters".into(),
            "cluster",
            "The network policies' counters: every node's last report, summed per policy, direction, rule and action \
             (read-only; also on /metrics as flatnet_policy_packets_total)"
                .into(),
            vec![],
            None,
            ("200", "The counters".into(), json_content("PolicyCounters"), "application/json"),
            READ_ERRORS,
        ),
    );
    paths.add_path_operation(
        "/api/v1/clusterconfig",
        vec![HttpMethod::Get],
        operation(
            "readClusterConfig".into(),
            "cluster",
            "The cluster's network configuration".into(),
            vec![],
            None,
            ("200", "The configuration".into(), json_content("ClusterConfig"), "application/json"),
            READ_ERRORS,
        ),
    );
    let text = ContentBuilder::new().schema(Some(ObjectBuilder::new().schema_type(Type::String))).build();
    paths.add_path_operation(
        format!("{}/log", Pod::INFO.routes().object),
        vec![HttpMethod::Get],
        operation(
            "readPodLog".into(),
            "pods",
            "The log (stdout and stderr) of a pod's container (admin only), read through its node's agent".into(),
            vec![
                namespace_param(),
                name_param(Pod::INFO),
                query_param_with(
                    "container",
                    {
                        let mut schema = ObjectBuilder::new().schema_type(Type::String).build();
                        constrain(&mut schema, &openapi::validation::DNS1123_LABEL);
                        schema
                    },
                    "The container; required when the pod has more than one (400 without it)",
                ),
                count_param("tailLines", "Only the last N lines"),
                count_param("limitBytes", "At most the last N bytes (default and maximum 4 MiB)"),
            ],
            None,
            ("200", "The log text".into(), text.clone(), "text/plain"),
            &["400", "401", "403", "404", "500", "502", "503"],
        ),
    );
    let exec_path = format!("{}/exec", Pod::INFO.routes().object);
    for (method, id) in [(HttpMethod::Get, "connectGetPodExec"), (HttpMethod::Post, "connectPostPodExec")] {
        let command = ParameterBuilder::new()
            .name("command")
            .parameter_in(ParameterIn::Query)
            .required(Required::True)
            .description(Some("The command and its arguments, one `command=` each"))
            .schema(Some(
                ArrayBuilder::new()
                    .items(ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)))
                    .min_items(Some(1)),
            ))
            .build();
        let stream = |name: &str, what: &str| query_param(name, Type::Boolean, what);
        paths.add_path_operation(
            &exec_path,
            vec![method],
            operation(
                id.into(),
                "pods",
                "Run a command in a pod's container (admin only), as `kubectl exec`: a websocket with the \
                 subprotocol v5.channel.k8s.io (or v4), proxied to the node's agent. Channels: 0 stdin, \
                 1 stdout, 2 stderr, 3 a Status when the command ends (reason NonZeroExitCode and the \
                 code in details.causes when not 0). Websockets only: any other request is 400"
                    .into(),
                vec![
                    namespace_param(),
                    name_param(Pod::INFO),
                    command,
                    query_param("container", Type::String, "The container; required when the pod has more than one"),
                    stream("stdin", "Forward the client's stdin (channel 0)"),
                    stream("stdout", "Stream the command's stdout (channel 1)"),
                    stream("stderr", "Stream the command's stderr (channel 2)"),
                    stream("tty", "A terminal: not supported (400 when true)"),
                ],
                None,
                ("101", "Switched to the websocket".into(), text.clone(), "text/plain"),
                &["400", "401", "403", "404", "500", "502", "503"],
            ),
        );
    }
    let any_json = || ContentBuilder::new().schema(Some(ObjectBuilder::new())).build();
    for (path, what) in crate::discovery::paths() {
        let id = format!("discovery{}", path.replace(['/', '.', '-'], "_"));
        paths.add_path_operation(
            &path,
            vec![HttpMethod::Get],
            operation(
                id,
                "discovery",
                what,
                vec![],
                None,
                ("200", "The document".into(), any_json(), "application/json"),
                // `/version` is open, as Kubernetes keeps it (crate::auth::OPEN_PATHS).
                if crate::auth::OPEN_PATHS.contains(&path.as_str()) { HEALTH_ERRORS } else { READ_ERRORS },
            ),
        );
    }
    for path in crate::openapiv3::paths() {
        let (id, what) = match path.strip_prefix("/openapi/v3/") {
            None => ("openapiV3Index".to_string(), "Where each group version's OpenAPI 3 document is (for kubectl)".to_string()),
            Some(gv) => (
                format!("openapiV3{}", gv.replace(['/', '.', '-'], "_")),
                format!("The OpenAPI 3 document of {gv}, with Kubernetes' extensions (kubectl explain and validation read it)"),
            ),
        };
        paths.add_path_operation(
            &path,
            vec![HttpMethod::Get],
            operation(
                id,
                "discovery",
                what,
                vec![],
                None,
                ("200", "The document".into(), any_json(), "application/json"),
                READ_ERRORS,
            ),
        );
    }
    paths.add_path_operation(
        "/healthz",
        vec![HttpMethod::Get],
        operation(
            "healthz".into(),
            "cluster",
            "Liveness: the server and its database answer".into(),
            vec![],
            None,
            ("200", "ok".into(), text.clone(), "text/plain"),
            HEALTH_ERRORS,
        ),
    );
    paths.add_path_operation(
        "/metrics",
        vec![HttpMethod::Get],
        operation(
            "metrics".into(),
            "cluster",
            "Prometheus metrics".into(),
            vec![],
            None,
            ("200", "Metrics in the Prometheus text format".into(), text, "text/plain"),
            READ_ERRORS,
        ),
    );
    let any = ContentBuilder::new().schema(Some(ObjectBuilder::new().schema_type(Type::Object))).build();
    paths.add_path_operation(
        "/openapi.json",
        vec![HttpMethod::Get],
        operation(
            "openapi".into(),
            "cluster",
            "This document".into(),
            vec![],
            None,
            ("200", "The OpenAPI document".into(), any, "application/json"),
            READ_ERRORS,
        ),
    );
    doc.paths = paths;
    let components = doc.components.get_or_insert_with(Default::default);
    // Each kind's schema, those it refers to, and its list.
    macro_rules! kind_schemas {
        ($($k:path),*) => {$(
            let mut schemas = vec![(<$k as utoipa::ToSchema>::name().into_owned(), <$k as utoipa::PartialSchema>::schema())];
            <$k as utoipa::ToSchema>::schemas(&mut schemas);
            components.schemas.extend(schemas);
        )*};
    }
    openapi::for_each_kind!(kind_schemas);
    for k in KINDS {
        components.schemas.insert(k.list_kind(), list_schema(k.kind).into());
    }
    components.schemas.insert("WatchEvent".into(), watch_event_schema().into());
    apply_constraints(components);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "The admin token (DATA_DIR/admin.token), the viewer token (DATA_DIR/viewer.token) or a node token",
                ))
                .build(),
        ),
    );
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}

/// The document, pretty-printed (as committed).
pub fn document_json() -> String {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut s = serde_json::to_string_pretty(&build()).expect("OpenAPI document serializes");
        s.push('\n');
        s
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use super::*;

    fn committed_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json")
    }

    /// The served document and the committed `openapi/openapi.json` must not drift apart.
    /// `UPDATE_OPENAPI=1` rewrites the committed copy.
    #[test]
    fn openapi_document_matches_committed_copy() {
        let served = super::document_json();
        let path = committed_path();
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &served).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            served == committed,
            "openapi/openapi.json differs from the served document: run `UPDATE_OPENAPI=1 cargo test -p flatnet-apiserver openapi` and commit it"
        );
    }

    /// The document describes exactly the routes the router serves, method by method, and
    /// every `$ref` resolves.
    #[test]
    fn openapi_document_describes_every_route_and_resolves_refs() {
        let doc: serde_json::Value = serde_json::from_str(&super::document_json()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let mut described: BTreeSet<(String, String)> = BTreeSet::new();
        for (path, item) in paths {
            for method in item.as_object().unwrap().keys() {
                if ["get", "put", "post", "delete", "patch", "head", "options"].contains(&method.as_str()) {
                    described.insert((path.clone(), method.to_uppercase()));
                }
            }
        }
        let served: BTreeSet<(String, String)> =
            crate::api::served_routes().into_iter().map(|(path, method)| (path, method.to_string())).collect();
        let undescribed: Vec<_> = served.difference(&described).collect();
        assert!(undescribed.is_empty(), "served but not in the OpenAPI document: {undescribed:?}");
        let unserved: Vec<_> = described.difference(&served).collect();
        assert!(unserved.is_empty(), "in the OpenAPI document but not served: {unserved:?}");

        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let text = super::document_json();
        for part in text.split("\"$ref\": \"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "dangling $ref to {name}");
        }
    }

    /// A kind in a named group gets its paths under `/apis/{group}/{version}`, with the
    /// operations its verbs allow, and its list schema.
    #[test]
    fn a_kind_in_a_named_group_is_described_under_apis() {
        let toy = KindInfo {
            api_version: "example.flatnet.io/v1alpha1",
            kind: "Toy",
            plural: "toys",
            singular: "toy",
            namespaced: true,
            verbs: Verbs { create: true, update: false, delete: true },
            tag: "toys",
            ..KindInfo::DEFAULTS
        };
        let mut paths = Paths::new();
        add_kind(&mut paths, &toy);
        let doc = serde_json::to_value(&paths).unwrap();
        let ops = |path: &str| -> Vec<String> {
            let item = doc.get(path).unwrap_or_else(|| panic!("{path} is not described")).as_object().unwrap();
            item.keys().filter(|k| *k != "parameters").cloned().collect()
        };
        let base = "/apis/example.flatnet.io/v1alpha1";
        assert_eq!(ops(&format!("{base}/toys")), ["get"]);
        assert_eq!(ops(&format!("{base}/namespaces/{{namespace}}/toys")), ["get", "post"]);
        assert_eq!(ops(&format!("{base}/namespaces/{{namespace}}/toys/{{name}}")), ["delete", "get"]);
        assert_eq!(doc.as_object().unwrap().len(), 3, "{doc:#}");
        assert_eq!(
            doc[format!("{base}/namespaces/{{namespace}}/toys")]["post"]["operationId"],
            serde_json::json!("createToy")
        );
        assert_eq!(doc[format!("{base}/toys")]["get"]["operationId"], serde_json::json!("listToyAllNamespaces"));
    }

    /// Validate against the OpenAPI specification with `openapi-spec-validator` (installed
    /// by `scripts/deps.sh`). Without it the test says so loudly, and fails under CI.
    #[test]
    fn openapi_document_is_valid_openapi() {
        let check = std::process::Command::new("python3").args(["-c", "import openapi_spec_validator"]).status();
        if !matches!(check, Ok(s) if s.success()) {
            let msg = "openapi-spec-validator is not installed (run scripts/deps.sh): OpenAPI validity NOT checked";
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{msg}");
            }
            eprintln!("WARNING: {msg}");
            return;
        }
        let out = std::process::Command::new("python3")
            .args(["-m", "openapi_spec_validator"])
            .arg(committed_path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openapi/openapi.json is not valid OpenAPI:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
