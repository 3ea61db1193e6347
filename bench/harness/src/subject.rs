//! The functions under test: ours, the floor, and the Python baselines, each with the event it is
//! fed, the environment Lambda would give it, and what a correct answer looks like.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;
use serde_json::Value;

use crate::stub::{PRODUCT, Service, Stub, TENANT};

/// The function a subject implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Function {
    PreToken,
    Products,
}

impl Function {
    pub const ALL: [Self; 2] = [Self::PreToken, Self::Products];

    pub fn title(self) -> &'static str {
        match self {
            Self::PreToken => "pre-token-generation (Cognito trigger)",
            Self::Products => "products-api, `GET /products/{productId}`",
        }
    }

    /// The sample event, relative to `events/`.
    pub fn event(self) -> &'static str {
        match self {
            Self::PreToken => "pre-token-generation/v1-authentication.json",
            Self::Products => "products-api/get-product.a-admin.json",
        }
    }
}

/// Who wrote the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// Tenantry's Rust function.
    Ours,
    /// The same function in Python with boto3, under `awslambdaric`.
    Python,
    /// A hello-world `lambda_runtime` function with the same release profile.
    Floor,
    /// A hello-world Python handler under `awslambdaric`, for context.
    PythonFloor,
}

impl Variant {
    pub const ALL: [Self; 4] = [Self::Ours, Self::Python, Self::Floor, Self::PythonFloor];

    pub fn title(self) -> &'static str {
        match self {
            Self::Ours => "Rust (ours)",
            Self::Python => "Python + boto3",
            Self::Floor => "floor: Rust hello",
            Self::PythonFloor => "Python hello",
        }
    }

    /// Whether it calls the data store (and so is worth running against moto too).
    pub fn uses_store(self) -> bool {
        matches!(self, Self::Ours | Self::Python)
    }
}

/// Where the functions' AWS calls go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// The harness's stub (DynamoDB and STS answered instantly).
    Stub,
    /// The local DynamoDB and STS server (moto) at this URL.
    Moto(String),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Stub => "stub",
            Self::Moto(_) => "moto",
        }
    }
}

/// Paths and names the subjects need.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The cargo output folder holding the function binaries.
    pub bin_dir: PathBuf,
    pub python: PathBuf,
    pub python_dir: PathBuf,
    pub events: PathBuf,
    pub data_table: String,
    pub control_table: String,
    /// An empty folder, the functions' `HOME`.
    pub home: PathBuf,
    /// Variables added to every function's environment (for experiments).
    pub extra_env: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Subject {
    pub function: Function,
    pub variant: Variant,
    pub event: PathBuf,
    program: PathBuf,
    args: Vec<String>,
    task_root: PathBuf,
    handler: String,
    /// The deployable file: the binary, or the Python module (boto3 comes with the runtime).
    pub artifact: PathBuf,
    /// The name of its zip in the artifacts folder.
    pub zip_name: String,
}

impl Subject {
    pub fn all(layout: &Layout) -> Vec<Subject> {
        let mut subjects = Vec::new();
        for function in Function::ALL {
            for variant in Variant::ALL {
                subjects.push(Subject::new(layout, function, variant));
            }
        }
        subjects
    }

    fn new(layout: &Layout, function: Function, variant: Variant) -> Self {
        let event = layout.events.join(function.event());
        let rust = |binary: &str| {
            let path = layout.bin_dir.join(binary);
            (
                path.clone(),
                Vec::new(),
                layout.bin_dir.clone(),
                "bootstrap".to_owned(),
                path,
                binary.to_owned(),
            )
        };
        let python = |module: &str| {
            let args = vec![
                "-m".to_owned(),
                "awslambdaric".to_owned(),
                format!("{module}.handler"),
            ];
            (
                layout.python.clone(),
                args,
                layout.python_dir.clone(),
                format!("{module}.handler"),
                layout.python_dir.join(format!("{module}.py")),
                format!("python-{module}"),
            )
        };
        let (program, args, task_root, handler, artifact, zip_name) = match (variant, function) {
            (Variant::Ours, Function::PreToken) => rust("pre-token-generation"),
            (Variant::Ours, Function::Products) => rust("products-api"),
            (Variant::Floor, _) => rust("bench-hello"),
            (Variant::Python, Function::PreToken) => python("pre_token"),
            (Variant::Python, Function::Products) => python("products"),
            (Variant::PythonFloor, _) => python("hello"),
        };
        Self {
            function,
            variant,
            event,
            program,
            args,
            task_root,
            handler,
            artifact,
            zip_name,
        }
    }

    /// A short name for logs and file names.
    pub fn key(&self) -> String {
        let function = match self.function {
            Function::PreToken => "pre-token",
            Function::Products => "products",
        };
        let variant = match self.variant {
            Variant::Ours => "ours",
            Variant::Python => "python",
            Variant::Floor => "floor",
            Variant::PythonFloor => "python-floor",
        };
        format!("{function}.{variant}")
    }

    fn is_python(&self) -> bool {
        matches!(self.variant, Variant::Python | Variant::PythonFloor)
    }

    /// The command Lambda would run, with exactly the environment Lambda would set: nothing is
    /// inherited from the harness, so a developer's `~/.aws` or `RUST_LOG` never leaks in.
    pub fn command(
        &self,
        layout: &Layout,
        runtime_api: &str,
        stub: &Stub,
        backend: &Backend,
    ) -> Command {
        let name = format!("bench-{}", self.key().replace('.', "-"));
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .current_dir(&self.task_root)
            .env_clear();
        let task_root = self.task_root.display().to_string();
        let stream = "2026/01/01/[$LATEST]00000000000000000000000000000000";
        let (dynamodb, sts) = match backend {
            Backend::Stub => (
                stub.endpoint(Service::DynamoDb),
                stub.endpoint(Service::Sts),
            ),
            Backend::Moto(url) => (url.clone(), url.clone()),
        };
        let mut env: Vec<(&str, String)> = vec![
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
            ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
            ("AWS_LAMBDA_LOG_STREAM_NAME", stream.to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "ASIABENCHFUNCTIONROLE".to_owned()),
            (
                "AWS_SECRET_ACCESS_KEY",
                "benchbenchbenchbenchbenchbenchbenchbench".to_owned(),
            ),
            (
                "AWS_SESSION_TOKEN",
                "BenchFunctionRoleSessionToken".to_owned(),
            ),
            ("LAMBDA_TASK_ROOT", task_root.clone()),
            ("LAMBDA_RUNTIME_DIR", task_root.clone()),
            ("_HANDLER", self.handler.clone()),
            ("LANG", "en_US.UTF-8".to_owned()),
            ("TZ", ":UTC".to_owned()),
            ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".to_owned()),
            // template.yaml's Globals (SSL_CERT_FILE: this machine's bundle, where Lambda's is
            // /etc/pki/tls/certs/ca-bundle.crt).
            ("RUST_LOG", "info".to_owned()),
            ("SSL_CERT_FILE", certificate_bundle()),
            // An empty home: Lambda has no ~/.aws, and a developer's must not leak in.
            ("HOME", layout.home.display().to_string()),
            ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb),
            ("AWS_ENDPOINT_URL_STS", sts),
            (
                "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
                stub.endpoint(Service::Cognito),
            ),
            ("AWS_ENDPOINT_URL", stub.endpoint(Service::Other)),
        ];
        if self.is_python() {
            env.push(("AWS_EXECUTION_ENV", "AWS_Lambda_python3".to_owned()));
            env.push(("PYTHONPATH", task_root));
            // Lambda's task root is read-only: the handler is compiled at every cold start (the
            // runtime's own boto3 comes compiled, as the venv's does), and nothing is written
            // into the repository.
            env.push(("PYTHONDONTWRITEBYTECODE", "1".to_owned()));
        }
        if let Ok(path) = std::env::var("LD_LIBRARY_PATH") {
            env.push(("LD_LIBRARY_PATH", path));
        }
        let role = "arn:aws:iam::123456789012:role/bench-tenant-data".to_owned();
        match (self.variant, self.function) {
            (Variant::Ours | Variant::Python, Function::Products) => {
                env.push(("DATA_TABLE", layout.data_table.clone()));
                env.push(("CONTROL_TABLE", layout.control_table.clone()));
                env.push(("TENANT_ROLE_ARN", role));
            }
            (Variant::Ours | Variant::Python, Function::PreToken) => {
                env.push(("CONTROL_TABLE", layout.control_table.clone()));
            }
            _ => {}
        }
        command.envs(env);
        command.envs(layout.extra_env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Checks an answer, so that a function that answers wrongly fails the run instead of being
    /// timed.
    pub fn check(&self, body: &[u8]) -> Result<(), String> {
        let answer: Value =
            serde_json::from_slice(body).map_err(|err| format!("the answer is not JSON: {err}"))?;
        match (self.variant, self.function) {
            (Variant::Floor | Variant::PythonFloor, _) => Ok(()),
            (_, Function::PreToken) => {
                let claims = &answer["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"];
                if claims["tenant_id"] == TENANT {
                    Ok(())
                } else {
                    Err(format!(
                        "expected tenant claims for {TENANT}, got {}",
                        answer["response"]
                    ))
                }
            }
            (_, Function::Products) => {
                let product: Value = answer["body"]
                    .as_str()
                    .and_then(|body| serde_json::from_str(body).ok())
                    .unwrap_or(Value::Null);
                if answer["statusCode"] == 200 && product["id"] == PRODUCT {
                    Ok(())
                } else {
                    Err(format!(
                        "expected 200 with product {PRODUCT}, got {} {}",
                        answer["statusCode"], answer["body"]
                    ))
                }
            }
        }
    }

    /// Fails early, naming what is missing, before anything is spawned.
    pub fn check_installed(&self) -> Result<(), String> {
        for path in [&self.program, &self.artifact, &self.event] {
            if !Path::new(path).exists() {
                return Err(format!("{}: {} does not exist", self.key(), path.display()));
            }
        }
        Ok(())
    }
}

/// The system's CA bundle, as `SSL_CERT_FILE` names it in template.yaml's Globals.
fn certificate_bundle() -> String {
    [
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/certs/ca-certificates.crt",
    ]
    .into_iter()
    .find(|path| Path::new(path).exists())
    .unwrap_or("/etc/ssl/certs/ca-certificates.crt")
    .to_owned()
}
