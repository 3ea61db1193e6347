//! `local-gateway`: API Gateway (REST API, Lambda proxy integration) with a Cognito user pool
//! authorizer, in front of `cargo lambda watch`, so the whole stack runs on a laptop.

mod auth;
mod causes;
mod config;
mod event;
mod invoke;
mod routes;
mod server;
mod token;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tokio::net::TcpListener;

use crate::auth::{Authorizer, Jwks, JwksError};
use crate::config::Args;
use crate::invoke::LambdaClient;
use crate::routes::{RouteTable, RoutesError};
use crate::server::Gateway;

/// Why the gateway cannot start.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error(transparent)]
    Routes(#[from] RoutesError),
    #[error("refusing to listen on {0}: only loopback addresses (127.0.0.1) are allowed")]
    NotLoopback(std::net::SocketAddr),
    #[error("cannot listen on {address}: {source} (is another gateway running?)")]
    Listen {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot set up the HTTP client: {}", causes::with_causes(.0))]
    Client(#[source] reqwest::Error),
    #[error("{0} (is the identity server running? see --jwks-url)")]
    Jwks(#[from] JwksError),
    #[error("the server stopped: {0}")]
    Serve(#[source] std::io::Error),
    #[error("{0}")]
    Config(String),
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("local-gateway cannot run: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), StartError> {
    let routes = RouteTable::load(&args.routes, &args.stage)?;
    if !args.listen.ip().is_loopback() {
        return Err(StartError::NotLoopback(args.listen));
    }
    // Bind before waiting for the JWKS, so a taken port fails at once.
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|source| StartError::Listen {
            address: args.listen,
            source,
        })?;
    let address = listener.local_addr().map_err(StartError::Serve)?;
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(StartError::Client)?;
    let jwks = Jwks::fetch(
        args.jwks_url.as_str(),
        http.clone(),
        Duration::from_secs(args.jwks_wait),
    )
    .await?;
    let authorizer = match (&args.audience, args.access_tokens) {
        (_, true) => Authorizer::for_access_tokens(jwks, &args.issuer),
        (Some(audience), false) => Authorizer::new(jwks, &args.issuer, audience),
        (None, false) => {
            return Err(StartError::Config(
                "--audience is needed for ID tokens".into(),
            ));
        }
    };
    let token_endpoint = match (
        &args.signing_key,
        &args.cognito_endpoint,
        &args.user_pool_id,
        &args.pre_token_function,
    ) {
        (Some(key), Some(cognito), Some(pool), Some(function)) => Some(token::TokenEndpoint {
            http: http.clone(),
            cognito: cognito.clone(),
            user_pool: pool.clone(),
            issuer: args.issuer.clone(),
            pre_token_function: function.clone(),
            key: token::load_key(key).map_err(StartError::Config)?,
        }),
        _ => None,
    };
    let gateway = Gateway {
        routes,
        authorizer,
        lambda: LambdaClient::new(args.lambda_endpoint.as_str(), http),
        token_endpoint,
    };
    tracing::info!(
        stage = %args.stage,
        lambda = %args.lambda_endpoint,
        "listening on http://{address}"
    );
    server::serve(listener, gateway)
        .await
        .map_err(StartError::Serve)
}
