//! Where `webhook-events` keeps a stream record it cannot publish: the failed-records queue
//! (SQS), one message per record, whole, as Lambda delivered it (keys, old and new images,
//! position, the stream's ARN), for `scripts/replay_stream_records.py` to send again once the
//! cause is fixed.
//!
//! The function keeps the record itself because the stream mapping cannot: after its last retry
//! it sends only the batch's shard and sequence numbers to its failure destination, and the
//! stream forgets the record itself after 24 hours. So a record that still fails after the
//! function's own retries is kept here and the shard moves on, instead of blocking it for a day
//! and then losing it.

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::MessageAttributeValue;
use serde_json::{Value, json};

/// SQS's largest message.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// The failed-records queue.
#[derive(Debug, Clone)]
pub struct Parking {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl Parking {
    /// Keeps `record`, saying `why` it was not published.
    pub async fn park(&self, record: &Value, why: &str) -> Result<(), String> {
        let why = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(why.chars().take(1000).collect::<String>())
            .build()
            .map_err(|err| err.to_string())?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(message_body(record))
            .message_attributes("reason", why)
            .send()
            .await
            .map_err(|err| format!("SendMessage: {}", DisplayErrorContext(err)))?;
        Ok(())
    }
}

/// The message that keeps `record`: the record as it came, or, when that is larger than a
/// message may be (two images of 400 KB each), its keys and position only, marked `truncated`
/// (the replay then reads it again from the stream, within its 24 hours).
pub fn message_body(record: &Value) -> String {
    let whole = record.to_string();
    if whole.len() <= MAX_MESSAGE_BYTES {
        return whole;
    }
    let change = &record["dynamodb"];
    json!({
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventSourceARN": record["eventSourceARN"],
        "dynamodb": {
            "Keys": change["Keys"],
            "SequenceNumber": change["SequenceNumber"],
            "ApproximateCreationDateTime": change["ApproximateCreationDateTime"],
        },
        "truncated": true,
    })
    .to_string()
}

/// The record's position, for the logs and the function's answer.
pub fn sequence_of(record: &Value) -> &str {
    record["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_kept_whole_unless_no_message_can_hold_it() {
        let record = json!({"eventID": "1", "eventName": "INSERT",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/t/stream/s",
            "dynamodb": {"Keys": {"pk": {"S": "a"}}, "SequenceNumber": "42",
                         "NewImage": {"pk": {"S": "a"}, "body": {"S": "x"}}}});
        assert_eq!(message_body(&record), record.to_string());
        let mut huge = record.clone();
        huge["dynamodb"]["NewImage"]["body"]["S"] = json!("x".repeat(MAX_MESSAGE_BYTES));
        let kept: Value = serde_json::from_str(&message_body(&huge)).expect("JSON");
        assert_eq!(kept["truncated"], true);
        assert_eq!(kept["dynamodb"]["SequenceNumber"], "42");
        assert_eq!(kept["dynamodb"]["Keys"], record["dynamodb"]["Keys"]);
        assert!(kept["dynamodb"].get("NewImage").is_none());
        assert!(message_body(&huge).len() < MAX_MESSAGE_BYTES);
        assert_eq!(sequence_of(&record), "42");
    }
}
