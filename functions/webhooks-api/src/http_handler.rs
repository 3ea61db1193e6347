//! `webhooks-api`: an organization's admins register the endpoints its events are sent to.
//!
//! | route | who |
//! | --- | --- |
//! | `POST /webhooks` (`{"url", "events", "description"}`) | admins: answers the signing secret, once |
//! | `GET /webhooks` | admins |
//! | `GET /webhooks/{webhookId}` | admins |
//! | `PATCH /webhooks/{webhookId}` (`{"events", "description", "enabled"}`) | admins |
//! | `DELETE /webhooks/{webhookId}` | admins: its pending deliveries are dropped |
//! | `POST /webhooks/{webhookId}/rotate-secret` | admins: a new secret; the old one signs 24 h more |
//! | `POST /webhooks/{webhookId}/test` | admins: a `webhook.test` event to this endpoint |
//! | `GET /webhooks/{webhookId}/deliveries` (`limit`) | admins: recent attempts |
//!
//! Endpoints are the tenant's own: every route reads the tenant from the verified token, and an
//! endpoint of another tenant is a 404 like a missing one.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use shared::context::TenantContext;
use shared::domain::ValidationError;
use shared::domain::time::Timestamp;
use shared::domain::time::now_millis;
use shared::events::{Event, EventType, ObjectKind, ObjectRef};
use shared::http::{
    ApiError, MAX_BODY_BYTES, PathParams, Route, admin_of, created, items, json, json_body,
    list_params, match_route, no_content, serve_caller,
};
use shared::ids::WebhookId;
use shared::plans::{Limit, PlanLimits};
use shared::store::StoreError;
use shared::store::dynamo::DynamoControl;
use shared::webhooks::{Pending, UrlPolicy, Webhook, WebhookPart};

use crate::kick::{Deliverer, EndpointRef};

#[derive(Debug)]
pub struct Deps {
    pub control: DynamoControl,
    pub deliverer: Deliverer,
    pub policy: UrlPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    List,
    Get,
    Update,
    Delete,
    Rotate,
    Test,
    Deliveries,
}

const ROUTES: &[(Route, Op)] = &[
    (Route::new("POST", "/webhooks"), Op::Create),
    (Route::new("GET", "/webhooks"), Op::List),
    (Route::new("GET", "/webhooks/{webhookId}"), Op::Get),
    (Route::new("PATCH", "/webhooks/{webhookId}"), Op::Update),
    (Route::new("DELETE", "/webhooks/{webhookId}"), Op::Delete),
    (
        Route::new("POST", "/webhooks/{webhookId}/rotate-secret"),
        Op::Rotate,
    ),
    (Route::new("POST", "/webhooks/{webhookId}/test"), Op::Test),
    (
        Route::new("GET", "/webhooks/{webhookId}/deliveries"),
        Op::Deliveries,
    ),
];

/// The most event types one endpoint subscribes to (there are fewer kinds).
const MAX_EVENT_TYPES: usize = 20;

/// The longest description, in characters.
const MAX_DESCRIPTION: usize = 200;

pub async fn function_handler(deps: &Deps, event: Request) -> Result<Response<Body>, Error> {
    Ok(serve_caller(event, |claims, request| async move {
        let (op, params) = match_route(&request, ROUTES)?;
        let (context, authority) =
            admin_of(&deps.control, &claims, "manage the organization's webhooks").await?;
        match op {
            Op::Create => create(deps, &context, authority.tenant.tier, &request).await,
            Op::List => list(deps, &context).await,
            Op::Get => get(deps, &context, &params).await,
            Op::Update => update(deps, &context, &request, &params).await,
            Op::Delete => delete(deps, &context, &params).await,
            Op::Rotate => rotate(deps, &context, &params).await,
            Op::Test => test(deps, &context, &params).await,
            Op::Deliveries => deliveries(deps, &context, &request, &params).await,
        }
    })
    .await)
}

/// A malformed id cannot name one of this tenant's endpoints: the same 404 as a missing one.
fn webhook_id(params: &PathParams) -> Result<WebhookId, ApiError> {
    WebhookId::parse(params.get("webhookId")).map_err(|_| ApiError::NotFound)
}

async fn load(
    deps: &Deps,
    context: &TenantContext,
    params: &PathParams,
) -> Result<Webhook, ApiError> {
    let id = webhook_id(params)?;
    deps.control
        .webhook(&context.tenant_id, &id)
        .await?
        .ok_or(ApiError::NotFound)
}

fn event_types(raw: &[String]) -> Result<Vec<EventType>, ValidationError> {
    if raw.is_empty() || raw.len() > MAX_EVENT_TYPES {
        return Err(ValidationError::new(
            "events",
            format!("must list from 1 to {MAX_EVENT_TYPES} event types"),
        ));
    }
    let mut kinds: Vec<EventType> = Vec::with_capacity(raw.len());
    for name in raw {
        let kind = EventType::parse(name).ok_or_else(|| {
            ValidationError::new("events", format!("{name:?} is not an event type"))
        })?;
        if kinds.contains(&kind) {
            return Err(ValidationError::new(
                "events",
                format!("{name} is listed twice"),
            ));
        }
        kinds.push(kind);
    }
    Ok(kinds)
}

fn description(raw: Option<String>) -> Result<Option<String>, ValidationError> {
    match raw {
        Some(text) if text.chars().count() > MAX_DESCRIPTION => Err(ValidationError::new(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        )),
        Some(text) if text.chars().any(char::is_control) => Err(ValidationError::new(
            "description",
            "must not contain control characters",
        )),
        Some(text) if text.is_empty() => Ok(None),
        other => Ok(other),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    url: String,
    events: Vec<String>,
    #[serde(default)]
    description: Option<String>,
}

async fn create(
    deps: &Deps,
    context: &TenantContext,
    tier: shared::domain::Tier,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let body: CreateBody = json_body(request, MAX_BODY_BYTES)?;
    let url = deps.policy.check(&body.url)?;
    let events = event_types(&body.events)?;
    let description = description(body.description)?;
    let webhook = Webhook::new(
        context.tenant_id,
        url.to_string(),
        events,
        description,
        context.user_id.clone(),
    );
    let max = PlanLimits::of(tier).max_webhooks;
    if !deps.control.create_webhook(&webhook, max).await? {
        return Err(StoreError::QuotaExceeded {
            limit: Limit::Webhooks,
            max,
        }
        .into());
    }
    tracing::info!(tenant_id = %context.tenant_id, webhook_id = %webhook.id, "webhook registered");
    let mut view = webhook.view(false);
    view["secret"] = json!(webhook.secrets[0].secret);
    Ok(created(&format!("/webhooks/{}", webhook.id), &view))
}

async fn list(deps: &Deps, context: &TenantContext) -> Result<Response<Body>, ApiError> {
    let found = deps.control.webhooks(&context.tenant_id).await?;
    Ok(items(views(deps, context, &found).await?))
}

/// The endpoints as the API shows them, each flagged (`orphaned`) when whoever knows its
/// current secret is no longer a member of the organization, so that the other admins rotate
/// or delete it: one read of those people's member entries.
async fn views(
    deps: &Deps,
    context: &TenantContext,
    webhooks: &[Webhook],
) -> Result<Vec<Value>, ApiError> {
    let present = deps
        .control
        .members_present(
            &context.tenant_id,
            webhooks.iter().filter_map(Webhook::secret_holder),
        )
        .await?;
    Ok(webhooks
        .iter()
        .map(|webhook| {
            let orphaned = webhook
                .secret_holder()
                .is_some_and(|holder| !present.contains(holder));
            webhook.view(orphaned)
        })
        .collect())
}

/// One endpoint as the API shows it (see [`views`]).
async fn view(deps: &Deps, context: &TenantContext, webhook: Webhook) -> Result<Value, ApiError> {
    let mut views = views(deps, context, std::slice::from_ref(&webhook)).await?;
    views
        .pop()
        .ok_or_else(|| ApiError::Internal("no view of the endpoint".to_owned()))
}

async fn get(
    deps: &Deps,
    context: &TenantContext,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let webhook = load(deps, context, params).await?;
    Ok(json(StatusCode::OK, &view(deps, context, webhook).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// A field that is present, even as `null`.
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

async fn update(
    deps: &Deps,
    context: &TenantContext,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let id = webhook_id(params)?;
    let body: UpdateBody = json_body(request, MAX_BODY_BYTES)?;
    if body.events.is_none() && body.description.is_none() && body.enabled.is_none() {
        return Err(ApiError::invalid(
            "name at least one of events, description and enabled",
        ));
    }
    let events = body.events.as_deref().map(event_types).transpose()?;
    let description = body.description.map(description).transpose()?;
    // Only the settings this change touches are written, on the record as stored now (a
    // deliverer may be recording a failure meanwhile): see `WebhookPart`.
    let webhook = deps
        .control
        .change_webhook(&context.tenant_id, &id, None, |webhook| {
            if let Some(events) = &events {
                webhook.events = events.clone();
            }
            if let Some(description) = &description {
                webhook.description = description.clone();
            }
            match body.enabled {
                Some(true) if !webhook.enabled => {
                    // A fresh start: the failures that disabled it are forgotten.
                    webhook.enabled = true;
                    webhook.status_reason = None;
                    webhook.failures = 0;
                    webhook.failing_since = None;
                    webhook.next_attempt_ms = None;
                    &[WebhookPart::Settings, WebhookPart::Delivery]
                }
                Some(false) if webhook.enabled => {
                    webhook.enabled = false;
                    webhook.status_reason = Some("disabled by an admin".to_owned());
                    webhook.next_attempt_ms = None;
                    &[WebhookPart::Settings, WebhookPart::Delivery]
                }
                _ => &[WebhookPart::Settings],
            }
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    if !webhook.enabled {
        deps.control.drop_pending(&id).await?;
    }
    Ok(json(StatusCode::OK, &view(deps, context, webhook).await?))
}

async fn delete(
    deps: &Deps,
    context: &TenantContext,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let id = webhook_id(params)?;
    if !deps.control.delete_webhook(&context.tenant_id, &id).await? {
        return Err(ApiError::NotFound);
    }
    tracing::info!(tenant_id = %context.tenant_id, webhook_id = %id, "webhook deleted");
    Ok(no_content())
}

async fn rotate(
    deps: &Deps,
    context: &TenantContext,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let id = webhook_id(params)?;
    let now = now_millis();
    let mut until = now;
    // Only the secrets are written, on the record as stored now (see `WebhookPart`).
    let webhook = deps
        .control
        .change_webhook(&context.tenant_id, &id, None, |webhook| {
            until = webhook.rotate(now).1;
            // The caller alone knows the new secret (so a removed creator's is replaced).
            webhook.secret_by = Some(context.user_id.clone());
            &[WebhookPart::Secrets]
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(json(
        StatusCode::OK,
        &json!({
            "secret": webhook.secrets[0].secret,
            "previous_secret_expires_at": Timestamp::from_millis(until),
        }),
    ))
}

async fn test(
    deps: &Deps,
    context: &TenantContext,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let webhook = load(deps, context, params).await?;
    if !webhook.enabled {
        return Err(ApiError::conflict(
            "webhook-disabled",
            "The endpoint is disabled: enable it first (PATCH with \"enabled\": true).",
        ));
    }
    let id = ulid::Ulid::generate().to_string();
    let event = Event::new(
        format!("evt_test_{id}"),
        EventType::WebhookTest,
        Timestamp::now(),
        context.tenant_id,
        ObjectRef {
            kind: ObjectKind::Webhook,
            id: webhook.id.to_string(),
            version: 0,
        },
        Some(json!({ "webhook_id": webhook.id, "url": webhook.url })),
    );
    let event_id = event.id.clone();
    deps.control
        .enqueue(&[Pending {
            webhook: webhook.id,
            order: id,
            event,
        }])
        .await?;
    let endpoint = EndpointRef {
        tenant_id: context.tenant_id,
        webhook_id: webhook.id,
    };
    if let Err(err) = deps.deliverer.kick(vec![endpoint]).await {
        // Queued all the same: the retry sweep sends it.
        tracing::warn!(error = %err, "the test delivery waits for the next sweep");
    }
    Ok(json(StatusCode::ACCEPTED, &json!({ "event_id": event_id })))
}

async fn deliveries(
    deps: &Deps,
    context: &TenantContext,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let (limit, cursor) = list_params(request)?;
    if cursor.is_some() {
        return Err(ApiError::InvalidCursor);
    }
    let webhook = load(deps, context, params).await?;
    let items = deps.control.attempts(&webhook.id, limit).await?;
    Ok(json(StatusCode::OK, &json!({ "items": items })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_table_is_the_documents() {
        shared::testing::assert_routes_documented(
            "webhooks-api",
            ROUTES.iter().map(|(route, _)| *route),
        );
    }

    #[test]
    fn event_types_are_known_unique_and_bounded() {
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            event_types(&names(&["product.created", "order.created"])).ok(),
            Some(vec![EventType::ProductCreated, EventType::OrderCreated])
        );
        for bad in [
            names(&[]),
            names(&["product.created", "product.created"]),
            names(&["product.exploded"]),
            vec!["order.created".to_owned(); 21],
        ] {
            let err = event_types(&bad).err();
            assert_eq!(err.map(|e| e.field), Some("events"), "{bad:?}");
        }
    }

    #[test]
    fn descriptions_are_bounded_text() {
        assert_eq!(
            description(Some("ERP".into())).ok(),
            Some(Some("ERP".into()))
        );
        assert_eq!(description(Some(String::new())).ok(), Some(None));
        assert!(description(Some("x".repeat(201))).is_err());
        assert!(description(Some("a\u{7}b".into())).is_err());
        assert_eq!(description(None).ok(), Some(None));
    }
}
