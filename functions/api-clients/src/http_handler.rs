//! `api-clients`: an organization's admins create the credentials its integrations use (OAuth 2
//! client credentials; see `shared::api_clients`).
//!
//! | route | who |
//! | --- | --- |
//! | `POST /api-clients` (`{"name", "scopes"}`) | admins: answers the client secret, once |
//! | `GET /api-clients` | admins |
//! | `GET /api-clients/{clientId}` | admins |
//! | `DELETE /api-clients/{clientId}` | admins: its tokens are refused within 10 s |
//!
//! A client is a Cognito app client of the user pool (client-credentials grant, this resource
//! server's scopes, a generated secret that only Cognito keeps) and a record in the control
//! table that ties it to the tenant. Another tenant's client is a 404 like a missing one.

use aws_sdk_cognitoidentityprovider::error::DisplayErrorContext;
use aws_sdk_cognitoidentityprovider::types::{
    ExplicitAuthFlowsType, OAuthFlowType, PreventUserExistenceErrorTypes, TimeUnitsType,
    TokenValidityUnitsType,
};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use shared::api_clients::{ApiClient, ClientId};
use shared::context::TenantContext;
use shared::domain::time::now_millis;
use shared::http::{
    ApiError, MAX_BODY_BYTES, PathParams, Route, admin_of, created, items, json, json_body,
    match_route, no_content, serve_caller,
};
use shared::ids::UserId;
use shared::plans::{Limit, PlanLimits};
use shared::store::StoreError;
use shared::store::dynamo::DynamoControl;

#[derive(Debug)]
pub struct Deps {
    pub control: DynamoControl,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub user_pool: String,
    /// Where clients exchange their credentials for a token (Cognito's `/oauth2/token`).
    pub token_endpoint: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    List,
    Get,
    Delete,
}

const ROUTES: &[(Route, Op)] = &[
    (Route::new("POST", "/api-clients"), Op::Create),
    (Route::new("GET", "/api-clients"), Op::List),
    (Route::new("GET", "/api-clients/{clientId}"), Op::Get),
    (Route::new("DELETE", "/api-clients/{clientId}"), Op::Delete),
];

/// How long a machine token lasts: as short as people's, so that a deleted client's last token
/// would not outlive the revocation record either.
const TOKEN_MINUTES: i32 = 15;

/// The ID and refresh token lifetimes (Cognito's minimums, 5 and 60 minutes), and how long a
/// sign-in session may last (3 minutes, the minimum): a client-credentials client is issued
/// neither an ID nor a refresh token, and no sign-in flow is enabled, so these only bound what
/// a client could get if that were ever changed.
const ID_TOKEN_MINUTES: i32 = 5;
const REFRESH_TOKEN_MINUTES: i32 = 60;
const SIGN_IN_SESSION_MINUTES: i32 = 3;

pub async fn function_handler(deps: &Deps, event: Request) -> Result<Response<Body>, Error> {
    Ok(serve_caller(event, |claims, request| async move {
        let (op, params) = match_route(&request, ROUTES)?;
        let (context, authority) = admin_of(
            &deps.control,
            &claims,
            "manage the organization's API clients",
        )
        .await?;
        match op {
            Op::Create => create(deps, &context, authority.tenant.tier, &request).await,
            Op::List => list(deps, &context).await,
            Op::Get => get(deps, &context, &params).await,
            Op::Delete => delete(deps, &context, &params).await,
        }
    })
    .await)
}

/// A malformed id cannot name one of this tenant's clients: the same 404 as a missing one.
fn client_id(params: &PathParams) -> Result<ClientId, ApiError> {
    ClientId::parse(params.get("clientId")).map_err(|_| ApiError::NotFound)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    scopes: Vec<String>,
}

fn cognito_failed(what: &str, err: impl std::error::Error + 'static) -> ApiError {
    ApiError::Internal(format!("{what}: {}", DisplayErrorContext(err)))
}

async fn create(
    deps: &Deps,
    context: &TenantContext,
    tier: shared::domain::Tier,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let body: CreateBody = json_body(request, MAX_BODY_BYTES)?;
    let name = shared::api_clients::name(&body.name)?;
    let scopes = shared::api_clients::scopes(&body.scopes)?;
    let max = PlanLimits::of(tier).max_api_clients;
    let quota = || {
        ApiError::from(StoreError::QuotaExceeded {
            limit: Limit::ApiClients,
            max,
        })
    };
    // Checked before Cognito is asked (and again, with the record, after).
    if deps.control.api_clients(&context.tenant_id).await?.len() as u64 >= max {
        return Err(quota());
    }
    let validity = TokenValidityUnitsType::builder()
        .access_token(TimeUnitsType::Minutes)
        .id_token(TimeUnitsType::Minutes)
        .refresh_token(TimeUnitsType::Minutes)
        .build();
    // An app client of the shared user pool that can sign no person in. Cognito's defaults
    // would enable password (SRP) and custom sign-in and answer "user not found" for unknown
    // addresses: any organization's admin could then probe which addresses have an account, or
    // try passwords outside the web client's settings. So: no user sign-in flow (refresh only,
    // and client credentials issue no refresh token), the same answer whether an account exists
    // or not, the client-credentials grant only, no identity provider or callback.
    let made = deps
        .cognito
        .create_user_pool_client()
        .user_pool_id(&deps.user_pool)
        .client_name(format!("{}-machine", context.tenant_id))
        .generate_secret(true)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled)
        .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
        .allowed_o_auth_flows_user_pool_client(true)
        .set_allowed_o_auth_scopes(Some(scopes.iter().map(|s| s.token_name()).collect()))
        .enable_token_revocation(true)
        .access_token_validity(TOKEN_MINUTES)
        .id_token_validity(ID_TOKEN_MINUTES)
        .refresh_token_validity(REFRESH_TOKEN_MINUTES)
        .auth_session_validity(SIGN_IN_SESSION_MINUTES)
        .token_validity_units(validity)
        .send()
        .await
        .map_err(|err| cognito_failed("creating the app client", err))?
        .user_pool_client
        .ok_or_else(|| ApiError::Internal("Cognito answered no app client".to_owned()))?;
    let (Some(id), Some(secret)) = (made.client_id(), made.client_secret()) else {
        return Err(ApiError::Internal(
            "Cognito's app client has no id or secret".to_owned(),
        ));
    };
    let client = ApiClient {
        client_id: ClientId::parse(id)
            .map_err(|_| ApiError::Internal(format!("Cognito's client id {id:?}")))?,
        tenant_id: context.tenant_id,
        name,
        scopes,
        principal: UserId::parse(&uuid::Uuid::new_v4().to_string())
            .map_err(|_| ApiError::Internal("a principal id".to_owned()))?,
        created_ms: now_millis(),
        created_by: Some(context.user_id.clone()),
    };
    let recorded = deps.control.create_api_client(&client, max).await;
    if !matches!(recorded, Ok(true)) {
        // Nothing may be left that issues tokens without a record.
        forget(deps, &client.client_id).await;
    }
    if !recorded? {
        return Err(quota());
    }
    tracing::info!(tenant_id = %context.tenant_id, client_id = %client.client_id, "API client created");
    let mut view = client.view(false);
    view["client_secret"] = json!(secret);
    view["token_endpoint"] = json!(deps.token_endpoint);
    Ok(created(
        &format!("/api-clients/{}", client.client_id),
        &view,
    ))
}

/// Deletes the Cognito app client; a failure is logged (without a record, the pre-token
/// trigger refuses it every token anyway).
async fn forget(deps: &Deps, client: &ClientId) {
    let deleted = deps
        .cognito
        .delete_user_pool_client()
        .user_pool_id(&deps.user_pool)
        .client_id(client.as_str())
        .send()
        .await;
    if let Err(err) = deleted
        && !err
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception())
    {
        tracing::error!(client_id = %client, error = %DisplayErrorContext(err), "the app client was not deleted");
    }
}

async fn list(deps: &Deps, context: &TenantContext) -> Result<Response<Body>, ApiError> {
    let found = deps.control.api_clients(&context.tenant_id).await?;
    Ok(items(views(deps, context, &found).await?))
}

/// The clients as the API shows them, each flagged (`orphaned`) when the admin who created it,
/// the only person who saw its secret, is no longer a member of the organization, so that the
/// other admins delete it: one read of those people's member entries.
async fn views(
    deps: &Deps,
    context: &TenantContext,
    clients: &[ApiClient],
) -> Result<Vec<Value>, ApiError> {
    let present = deps
        .control
        .members_present(
            &context.tenant_id,
            clients
                .iter()
                .filter_map(|client| client.created_by.as_ref()),
        )
        .await?;
    Ok(clients
        .iter()
        .map(|client| {
            let orphaned = client
                .created_by
                .as_ref()
                .is_some_and(|creator| !present.contains(creator));
            client.view(orphaned)
        })
        .collect())
}

async fn get(
    deps: &Deps,
    context: &TenantContext,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let id = client_id(params)?;
    let client = deps
        .control
        .api_client(&context.tenant_id, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let view = views(deps, context, std::slice::from_ref(&client))
        .await?
        .pop()
        .ok_or_else(|| ApiError::Internal("no view of the client".to_owned()))?;
    Ok(json(StatusCode::OK, &view))
}

async fn delete(
    deps: &Deps,
    context: &TenantContext,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let id = client_id(params)?;
    // The record and the revocation of its tokens first: from then on no token of it is
    // accepted (within the data APIs' 10 s cache) and none is issued.
    deps.control
        .delete_api_client(&context.tenant_id, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    forget(deps, &id).await;
    tracing::info!(tenant_id = %context.tenant_id, client_id = %id, "API client deleted");
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_table_is_the_documents() {
        shared::testing::assert_routes_documented(
            "api-clients",
            ROUTES.iter().map(|(route, _)| *route),
        );
    }
}
