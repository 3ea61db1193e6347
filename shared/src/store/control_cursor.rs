//! The cursor of the platform-wide tenant listing: the last tenant id returned. It is not
//! tenant-scoped (only platform operators list tenants), so there is nothing to bind it to.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::StoreError;
use crate::ids::TenantId;

pub fn encode(last: &TenantId) -> String {
    URL_SAFE_NO_PAD.encode(format!("tenants:{last}"))
}

pub fn decode(raw: &str) -> Result<TenantId, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| StoreError::InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
    let id = text
        .strip_prefix("tenants:")
        .ok_or(StoreError::InvalidCursor)?;
    TenantId::parse(id).map_err(|_| StoreError::InvalidCursor)
}
