//! A job queue that records what was dispatched (tests).

use crate::tenancy::jobs::{DispatchError, JobQueue, TenantJob};

/// Records dispatched jobs, for tests.
#[derive(Debug, Clone, Default)]
pub struct MemoryJobQueue {
    jobs: std::sync::Arc<std::sync::Mutex<Vec<TenantJob>>>,
}

impl MemoryJobQueue {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn dispatched(&self) -> Vec<TenantJob> {
        self.jobs
            .lock()
            .map(|jobs| jobs.clone())
            .unwrap_or_default()
    }
}

impl JobQueue for MemoryJobQueue {
    async fn dispatch(&self, job: &TenantJob) -> Result<(), DispatchError> {
        self.jobs
            .lock()
            .map_err(|_| DispatchError("poisoned".into()))?
            .push(job.clone());
        Ok(())
    }
}
