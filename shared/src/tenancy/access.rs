//! Reaching one tenant's data with credentials that can reach nothing else.
//!
//! [`TenantAccess`] is the [`TableResolver`] of the data APIs. For a tenant it:
//! 1. looks up where the tenant's data lives and whether it may be used (the tenant record in
//!    the control table, cached for [`RECORD_TTL`]): `provisioning` is 503, `suspended`,
//!    `deleting` and `deleted` are refused; the same cached record carries the tenant's tier
//!    and revocations, against which [`CallerStanding`] checks each caller's token;
//! 2. gets a DynamoDB client whose credentials come from STS `AssumeRole` on the tenant-data role
//!    with the session tag `TenantId=<tenant>`: IAM's `dynamodb:LeadingKeys` condition then lets
//!    those credentials touch only keys that start with `<tenant>#`, so a bug in a handler still
//!    cannot reach another tenant's items. Credentials are cached per tenant until
//!    [`REFRESH_BEFORE_EXPIRY`] before they expire, fetched once for a burst of concurrent
//!    requests, and every tenant's client shares the one HTTP connection pool of the SDK
//!    configuration they are built from.
//!
//! The session is named `tenant-<id>`. Credentials are shared by all of a tenant's users (one STS
//! call per tenant, not per user), so CloudTrail names the tenant; the user is in the function's
//! logs, on the same request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_sts::error::DisplayErrorContext;

use crate::authority::{CallerStanding, Standing};
use crate::context::TenantContext;
use crate::domain::Tier;
use crate::domain::revocation::Revocations;
use crate::domain::tenant::TenantStatus;
use crate::ids::TenantId;
use crate::store::StoreError;
use crate::store::dynamo::{DynamoControl, TableResolver, TableScope};

/// How long a tenant's record (status and table) is cached. A tier migration waits longer than
/// this before copying, so no instance keeps writing to the old table.
pub const RECORD_TTL: Duration = Duration::from_secs(10);
/// Credentials are renewed this long before they expire.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);
/// How long assumed-role credentials are asked to last.
pub const SESSION_DURATION: Duration = Duration::from_secs(60 * 60);
/// The session tag IAM conditions read (`${aws:PrincipalTag/TenantId}`).
pub const TENANT_TAG: &str = "TenantId";

/// Time, replaceable in tests.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> SystemTime;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

#[derive(Debug, Clone)]
struct Location {
    status: TenantStatus,
    table: String,
    tier: Tier,
    revoked: Revocations,
    require_mfa: bool,
    plan_lowered: bool,
    user_count: u64,
    fetched_at: SystemTime,
}

#[derive(Debug, Clone)]
struct Session {
    client: aws_sdk_dynamodb::Client,
    expires_at: SystemTime,
}

/// A per-tenant cache entry behind an async lock: concurrent requests for one tenant wait for a
/// single refresh and share its result.
type Slot<T> = Arc<tokio::sync::Mutex<Option<T>>>;

fn slot<T>(
    map: &Mutex<HashMap<TenantId, Slot<T>>>,
    tenant: &TenantId,
) -> Result<Slot<T>, StoreError> {
    let mut map = map
        .lock()
        .map_err(|_| StoreError::backend("tenant cache poisoned"))?;
    Ok(Arc::clone(map.entry(*tenant).or_default()))
}

/// Counters of the calls the resolver made, for tests and benchmarks.
#[derive(Debug, Default)]
pub struct AccessStats {
    pub sts_calls: AtomicU64,
    pub record_reads: AtomicU64,
}

#[derive(Debug)]
pub struct TenantAccess {
    sdk: SdkConfig,
    sts: aws_sdk_sts::Client,
    role_arn: String,
    control: DynamoControl,
    pooled_table: String,
    clock: Arc<dyn Clock>,
    /// Shared, not copied, by the requests of a tenant: a record carries its revocations.
    locations: Mutex<HashMap<TenantId, Slot<Arc<Location>>>>,
    sessions: Mutex<HashMap<TenantId, Slot<Session>>>,
    pub stats: AccessStats,
}

impl TenantAccess {
    pub fn new(
        sdk: SdkConfig,
        role_arn: String,
        control: DynamoControl,
        pooled_table: String,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            sts: aws_sdk_sts::Client::new(&sdk),
            sdk,
            role_arn,
            control,
            pooled_table,
            clock,
            locations: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            stats: AccessStats::default(),
        }
    }

    async fn location(&self, tenant: &TenantId) -> Result<Arc<Location>, StoreError> {
        let slot = slot(&self.locations, tenant)?;
        let mut cached = slot.lock().await;
        let now = self.clock.now();
        if let Some(location) = cached.as_ref()
            && now
                .duration_since(location.fetched_at)
                .is_ok_and(|age| age < RECORD_TTL)
        {
            return Ok(Arc::clone(location));
        }
        self.stats.record_reads.fetch_add(1, Ordering::Relaxed);
        // A token naming a tenant that does not exist: no data, and nothing to say about it.
        let record = self
            .control
            .tenant_location(tenant)
            .await?
            .ok_or(StoreError::TenantInactive)?;
        let location = Arc::new(Location {
            status: record.status,
            table: record
                .data_table
                .unwrap_or_else(|| self.pooled_table.clone()),
            tier: record.tier,
            revoked: record.revoked,
            require_mfa: record.require_mfa,
            plan_lowered: record.plan_lowered,
            user_count: record.user_count,
            fetched_at: now,
        });
        *cached = Some(Arc::clone(&location));
        Ok(location)
    }

    /// Opens, during init, the connections the first request would otherwise open: DynamoDB (a
    /// read of a tenant record that cannot exist) and STS (`GetCallerIdentity`, which needs no
    /// permission). Tenant-scoped clients share the HTTP connection pool, so the first request
    /// pays no TLS handshake. Failures are ignored: the first request would then open them.
    pub async fn warm_up(&self) {
        let nobody = TenantId::nil();
        let (table, sts) = tokio::join!(
            self.control.tenant_location(&nobody),
            self.sts.get_caller_identity().send()
        );
        if let Err(err) = table {
            tracing::warn!(error = %err, "DynamoDB warm-up failed");
        }
        if let Err(err) = sts {
            tracing::warn!(error = %DisplayErrorContext(err), "STS warm-up failed");
        }
    }

    /// A DynamoDB client with credentials scoped to `tenant`.
    pub async fn client_for(
        &self,
        tenant: &TenantId,
    ) -> Result<aws_sdk_dynamodb::Client, StoreError> {
        let slot = {
            let mut sessions = self
                .sessions
                .lock()
                .map_err(|_| StoreError::backend("session cache poisoned"))?;
            Arc::clone(sessions.entry(*tenant).or_default())
        };
        // One STS call per tenant at a time: concurrent requests wait for it and share the result.
        let mut session = slot.lock().await;
        let now = self.clock.now();
        if let Some(current) = session.as_ref()
            && current
                .expires_at
                .duration_since(now)
                .is_ok_and(|left| left > REFRESH_BEFORE_EXPIRY)
        {
            return Ok(current.client.clone());
        }
        let fresh = self.assume(tenant).await?;
        let client = fresh.client.clone();
        *session = Some(fresh);
        Ok(client)
    }

    async fn assume(&self, tenant: &TenantId) -> Result<Session, StoreError> {
        self.stats.sts_calls.fetch_add(1, Ordering::Relaxed);
        let tag = aws_sdk_sts::types::Tag::builder()
            .key(TENANT_TAG)
            .value(tenant.to_string())
            .build()
            .map_err(|err| StoreError::backend(err.to_string()))?;
        let output = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(format!("tenant-{tenant}"))
            .tags(tag)
            .duration_seconds(SESSION_DURATION.as_secs() as i32)
            .send()
            .await
            .map_err(|err| StoreError::caused("AssumeRole", err))?;
        let credentials = output
            .credentials
            .ok_or_else(|| StoreError::backend("AssumeRole returned no credentials"))?;
        let expires_at = SystemTime::try_from(credentials.expiration)
            .map_err(|err| StoreError::backend(format!("AssumeRole expiration: {err}")))?;
        let provider = aws_credential_types::Credentials::new(
            credentials.access_key_id,
            credentials.secret_access_key,
            Some(credentials.session_token),
            Some(expires_at),
            "tenant-scoped-sts",
        );
        let config = aws_sdk_dynamodb::config::Builder::from(&self.sdk)
            .credentials_provider(provider)
            .build();
        tracing::info!(tenant_id = %tenant, "tenant-scoped credentials issued");
        Ok(Session {
            client: aws_sdk_dynamodb::Client::from_conf(config),
            expires_at,
        })
    }
}

impl CallerStanding for TenantAccess {
    /// From the cached tenant record: no DynamoDB call when it is fresh, so a warm data request
    /// still makes exactly one (its own).
    async fn standing(&self, caller: &TenantContext) -> Result<Standing, StoreError> {
        let location = self.location(&caller.tenant_id).await?;
        crate::authority::check(
            caller,
            location.status,
            &location.revoked,
            location.require_mfa,
        )?;
        Ok(Standing {
            tier: location.tier,
            plan_lowered: location.plan_lowered,
            users: location.user_count,
        })
    }
}

impl TableResolver for TenantAccess {
    async fn resolve(&self, tenant: &TenantId) -> Result<TableScope, StoreError> {
        let location = self.location(tenant).await?;
        match location.status {
            TenantStatus::Active => {}
            TenantStatus::Provisioning => return Err(StoreError::TenantNotReady),
            TenantStatus::Suspended | TenantStatus::Deleting | TenantStatus::Deleted => {
                return Err(StoreError::TenantInactive);
            }
        }
        Ok(TableScope {
            client: self.client_for(tenant).await?,
            table: location.table.clone(),
        })
    }
}

impl<T: TableResolver> TableResolver for Arc<T> {
    async fn resolve(&self, tenant: &TenantId) -> Result<TableScope, StoreError> {
        T::resolve(self, tenant).await
    }
}
