//! The command line; every option can also come from the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use reqwest::Url;

/// A local API Gateway (REST API, Lambda proxy integration) with a Cognito user pool authorizer,
/// in front of `cargo lambda watch`.
#[derive(Debug, Parser)]
#[command(name = "local-gateway", version)]
pub struct Args {
    /// Address to serve the API on; loopback only.
    #[arg(long, env = "LOCAL_GATEWAY_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// The API's routes: a JSON list of {"method", "path", "function", "auth"}.
    #[arg(long, env = "LOCAL_GATEWAY_ROUTES")]
    pub routes: PathBuf,

    /// Where `cargo lambda watch` serves the Lambda Invoke API.
    #[arg(
        long,
        env = "LOCAL_GATEWAY_LAMBDA_ENDPOINT",
        default_value = "http://127.0.0.1:9000"
    )]
    pub lambda_endpoint: Url,

    /// The user pool's JWKS, e.g. http://127.0.0.1:9229/<poolId>/.well-known/jwks.json.
    #[arg(long, env = "LOCAL_GATEWAY_JWKS_URL")]
    pub jwks_url: Url,

    /// The `iss` an ID token must carry, e.g. http://127.0.0.1:9229/<poolId>.
    #[arg(long, env = "LOCAL_GATEWAY_ISSUER")]
    pub issuer: String,

    /// The app client id an ID token must carry in `aud` (the people's API).
    #[arg(
        long,
        env = "LOCAL_GATEWAY_AUDIENCE",
        required_unless_present = "access_tokens"
    )]
    pub audience: Option<String>,

    /// Take access tokens instead of ID tokens, each route needing one of its `scopes` (the
    /// machine API, whose authorizer has OAuth scopes).
    #[arg(long, env = "LOCAL_GATEWAY_ACCESS_TOKENS")]
    pub access_tokens: bool,

    /// Also answer `POST /oauth2/token` (client credentials) as Cognito's token endpoint does,
    /// with the app clients of this user pool (`--cognito-endpoint`, `--user-pool-id`), the
    /// pre-token trigger (`--pre-token-function`), and tokens signed with this private key (a
    /// JSON file with the key's `pem`, as cognito-local keeps it).
    #[arg(long, env = "LOCAL_GATEWAY_SIGNING_KEY", requires_all = ["cognito_endpoint", "user_pool_id", "pre_token_function"])]
    pub signing_key: Option<PathBuf>,

    /// The identity server's API (cognito-local), for the token endpoint.
    #[arg(long, env = "LOCAL_GATEWAY_COGNITO_ENDPOINT")]
    pub cognito_endpoint: Option<Url>,

    #[arg(long, env = "LOCAL_GATEWAY_USER_POOL_ID")]
    pub user_pool_id: Option<String>,

    /// The pre-token-generation function (its event version 3, client credentials).
    #[arg(long, env = "LOCAL_GATEWAY_PRE_TOKEN_FUNCTION")]
    pub pre_token_function: Option<String>,

    /// The stage name; requests may carry it as a path prefix or not.
    #[arg(long, env = "LOCAL_GATEWAY_STAGE", default_value = "prod")]
    pub stage: String,

    /// Seconds to keep retrying the JWKS at start-up while the identity server starts.
    #[arg(long, env = "LOCAL_GATEWAY_JWKS_WAIT", default_value_t = 30)]
    pub jwks_wait: u64,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_parses() {
        Args::command().debug_assert();
        let args = Args::try_parse_from([
            "local-gateway",
            "--routes",
            "routes.json",
            "--jwks-url",
            "http://127.0.0.1:9229/pool/.well-known/jwks.json",
            "--issuer",
            "http://127.0.0.1:9229/pool",
            "--audience",
            "client",
        ])
        .unwrap();
        assert_eq!(args.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(args.stage, "prod");
        assert_eq!(args.jwks_wait, 30);
        assert!(
            Args::try_parse_from([
                "local-gateway",
                "--routes",
                "r.json",
                "--jwks-url",
                "not a url"
            ])
            .is_err()
        );
    }
}
