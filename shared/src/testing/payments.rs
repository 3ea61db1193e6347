//! A payment provider that remembers what it was asked (handler and job tests).

use std::sync::Mutex;

use crate::billing::provider::{Cancellation, CheckoutRequest, PaymentProvider, ProviderError};
use crate::domain::email::EmailAddress;
use crate::ids::TenantId;

#[derive(Debug, Default)]
pub struct FakeProvider {
    pub customers: Mutex<Vec<TenantId>>,
    pub checkouts: Mutex<Vec<CheckoutRequest>>,
    /// Customers whose open checkouts were expired, in order.
    pub expired: Mutex<Vec<String>>,
    /// Subscriptions cancelled, in order.
    pub cancelled: Mutex<Vec<(String, Cancellation)>>,
    /// Makes every cancellation fail (the provider is down).
    pub failing: std::sync::atomic::AtomicBool,
}

impl FakeProvider {
    pub fn cancelled(&self) -> Vec<(String, Cancellation)> {
        self.cancelled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn expired(&self) -> Vec<String> {
        self.expired
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl PaymentProvider for FakeProvider {
    async fn create_customer(
        &self,
        tenant: &TenantId,
        _name: &str,
        _email: &EmailAddress,
    ) -> Result<String, ProviderError> {
        let mut customers = self.customers.lock().unwrap_or_else(|p| p.into_inner());
        customers.push(*tenant);
        Ok(format!("cus_fake{}", customers.len()))
    }

    async fn checkout(&self, request: &CheckoutRequest) -> Result<String, ProviderError> {
        let mut checkouts = self.checkouts.lock().unwrap_or_else(|p| p.into_inner());
        checkouts.push(request.clone());
        Ok(format!(
            "https://checkout.example/cs_fake{}",
            checkouts.len()
        ))
    }

    async fn portal(&self, customer: &str, _return_url: &str) -> Result<String, ProviderError> {
        Ok(format!("https://portal.example/{customer}"))
    }

    async fn expire_checkouts(&self, customer: &str) -> Result<usize, ProviderError> {
        self.expired
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(customer.to_owned());
        Ok(0)
    }

    async fn cancel_subscription(
        &self,
        subscription: &str,
        why: Cancellation,
    ) -> Result<(), ProviderError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(ProviderError::Failed("the provider is down".to_owned()));
        }
        self.cancelled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((subscription.to_owned(), why));
        Ok(())
    }
}
