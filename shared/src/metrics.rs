//! Metrics as CloudWatch embedded metric format (EMF): one JSON line per request on stdout, which
//! CloudWatch Logs turns into metrics, with the tenant as a dimension (per-tenant request counts,
//! errors and latency, for noisy-neighbour hunting and per-tenant cost).

use std::time::Duration;

use serde_json::json;

/// The EMF document for one request.
pub fn request_metrics(
    tenant: Option<&str>,
    route: &str,
    status: u16,
    latency: Duration,
    timestamp_ms: u128,
) -> serde_json::Value {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": "Tenantry",
                "Dimensions": [["tenant_id"], ["route"]],
                "Metrics": [
                    {"Name": "Requests", "Unit": "Count"},
                    {"Name": "ServerErrors", "Unit": "Count"},
                    {"Name": "ClientErrors", "Unit": "Count"},
                    {"Name": "Latency", "Unit": "Milliseconds"}
                ]
            }]
        },
        "tenant_id": tenant.unwrap_or("none"),
        "route": route,
        "status": status,
        "Requests": 1,
        "ServerErrors": u8::from(status >= 500),
        "ClientErrors": u8::from((400..500).contains(&status)),
        "Latency": latency.as_secs_f64() * 1000.0,
    })
}

/// Writes one request's metrics to stdout.
pub fn emit_request(tenant: Option<&str>, route: &str, status: u16, latency: Duration) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    println!("{}", request_metrics(tenant, route, status, latency, now));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_one_emf_document_with_a_tenant_dimension() {
        let doc = request_metrics(
            Some("01JB8Z4K2M6Q9R3T5V7W9XAAAA"),
            "GET /products",
            503,
            Duration::from_micros(1500),
            42,
        );
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0],
            json!(["tenant_id"])
        );
        assert_eq!(doc["tenant_id"], "01JB8Z4K2M6Q9R3T5V7W9XAAAA");
        assert_eq!(
            (doc["ServerErrors"].as_u64(), doc["ClientErrors"].as_u64()),
            (Some(1), Some(0))
        );
        assert_eq!(doc["Latency"], 1.5);
        // Every metric the directive names is a top-level member, as EMF requires.
        for metric in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
        {
            assert!(doc.get(metric["Name"].as_str().unwrap()).is_some());
        }
    }
}
