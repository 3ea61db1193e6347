//! `local-gateway`: API Gateway (REST API, Lambda proxy integration) with a Cognito user pool
//! authorizer, in front of `cargo lambda watch`, so the whole stack runs on a laptop.

mod auth;
mod causes;
mod config;
mod event;
mod invoke;
mod routes;
mod server;

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
    let gateway = Gateway {
        routes,
        authorizer: Authorizer::new(jwks, &args.issuer, &args.audience),
        lambda: LambdaClient::new(args.lambda_endpoint.as_str(), http),
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
