//! The order webhook payload: tracking statuses and validation with every violation listed.

use super::Email;
use super::Violation;
use serde_json::Value;

/// Where an order is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackingStatus {
    Pending,
    Processing,
    Shipped,
    InTransit,
    OutForDelivery,
    Delivered,
    Cancelled,
    Returned,
}

impl TrackingStatus {
    pub const ALL: [TrackingStatus; 8] = [
        TrackingStatus::Pending,
        TrackingStatus::Processing,
        TrackingStatus::Shipped,
        TrackingStatus::InTransit,
        TrackingStatus::OutForDelivery,
        TrackingStatus::Delivered,
        TrackingStatus::Cancelled,
        TrackingStatus::Returned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TrackingStatus::Pending => "PENDING",
            TrackingStatus::Processing => "PROCESSING",
            TrackingStatus::Shipped => "SHIPPED",
            TrackingStatus::InTransit => "IN_TRANSIT",
            TrackingStatus::OutForDelivery => "OUT_FOR_DELIVERY",
            TrackingStatus::Delivered => "DELIVERED",
            TrackingStatus::Cancelled => "CANCELLED",
            TrackingStatus::Returned => "RETURNED",
        }
    }

    pub fn parse(s: &str) -> Option<TrackingStatus> {
        TrackingStatus::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A validated order payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPayload {
    pub customer_name: String,
    pub customer_email: String,
    pub customer_phone: String,
    pub item_summary: String,
    pub address: String,
    pub tracking_status: TrackingStatus,
    pub merchant_reference: Option<String>,
}

fn text(v: &mut Vec<Violation>, value: Option<&Value>, field: &str, max: usize) -> String {
    match value {
        None | Some(Value::Null) => v.push(Violation::new(field, "is required")),
        Some(Value::String(s)) if s.trim().is_empty() => {
            v.push(Violation::new(field, "must not be empty"))
        }
        Some(Value::String(s)) if s.chars().count() > max => v.push(Violation::new(
            field,
            format!("must be at most {max} characters"),
        )),
        Some(Value::String(s)) if s.chars().any(|c| c.is_control() && c != '\n') => {
            v.push(Violation::new(field, "must not contain control characters"))
        }
        Some(Value::String(s)) => return s.trim().to_string(),
        Some(_) => v.push(Violation::new(field, "must be a string")),
    }
    String::new()
}

impl OrderPayload {
    /// Validate a parsed JSON body, listing every violation at once.
    pub fn from_json(body: &Value) -> Result<OrderPayload, Vec<Violation>> {
        let mut v = Vec::new();
        let Some(obj) = body.as_object() else {
            return Err(vec![Violation::new("body", "must be a JSON object")]);
        };
        let customer = obj.get("customer_details");
        let (mut name, mut email, mut phone) = (String::new(), String::new(), String::new());
        match customer {
            Some(Value::Object(c)) => {
                name = text(&mut v, c.get("name"), "customer_details.name", 200);
                let raw_email = text(&mut v, c.get("email"), "customer_details.email", 254);
                if !raw_email.is_empty() {
                    match Email::parse(&raw_email) {
                        Ok(e) => email = e.to_string(),
                        Err(m) => v.push(Violation::new("customer_details.email", m)),
                    }
                }
                let raw_phone = text(&mut v, c.get("phone"), "customer_details.phone", 32);
                if !raw_phone.is_empty() {
                    match super::phone::parse_phone(&raw_phone) {
                        Ok(compact) => phone = compact,
                        Err(m) => v.push(Violation::new("customer_details.phone", m)),
                    }
                }
            }
            None | Some(Value::Null) => v.push(Violation::new("customer_details", "is required")),
            Some(_) => v.push(Violation::new("customer_details", "must be an object")),
        }
        let item_summary = text(&mut v, obj.get("item_summary"), "item_summary", 500);
        let address = text(&mut v, obj.get("address"), "address", 500);
        let status_raw = text(&mut v, obj.get("tracking_status"), "tracking_status", 32);
        let tracking_status = TrackingStatus::parse(&status_raw);
        if !status_raw.is_empty() && tracking_status.is_none() {
            v.push(Violation::new(
                "tracking_status",
                format!(
                    "must be one of {}",
                    TrackingStatus::ALL.map(TrackingStatus::as_str).join(", ")
                ),
            ));
        }
        let merchant_reference = match obj.get("merchant_reference") {
            None | Some(Value::Null) => None,
            r => Some(text(&mut v, r, "merchant_reference", 100)).filter(|s| !s.is_empty()),
        };
        match tracking_status {
            Some(tracking_status) if v.is_empty() => Ok(OrderPayload {
                customer_name: name,
                customer_email: email,
                customer_phone: phone,
                item_summary,
                address,
                tracking_status,
                merchant_reference,
            }),
            _ => Err(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({"customer_details": {"name": "John Doe", "email": "john@example.com", "phone": "+2348123456789"},
               "item_summary": "iPhone 15 x2", "address": "123 Main St, Lagos", "tracking_status": "PENDING",
               "merchant_reference": "A-1"})
    }

    #[test]
    fn the_contract_example_is_valid() {
        let p = OrderPayload::from_json(&valid()).unwrap();
        assert_eq!(p.tracking_status, TrackingStatus::Pending);
        assert_eq!(p.merchant_reference.as_deref(), Some("A-1"));
    }

    #[test]
    fn every_violation_is_listed_at_once() {
        let body = json!({"customer_details": {"name": "", "email": "nope", "phone": "x"},
                          "item_summary": 5, "tracking_status": "LOST"});
        let fields: Vec<String> = OrderPayload::from_json(&body)
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            [
                "customer_details.name",
                "customer_details.email",
                "customer_details.phone",
                "item_summary",
                "address",
                "tracking_status"
            ]
        );
    }

    #[test]
    fn non_objects_and_missing_customers_are_refused() {
        assert_eq!(
            OrderPayload::from_json(&json!([1])).unwrap_err()[0].field,
            "body"
        );
        let mut body = valid();
        body["customer_details"] = json!("John");
        assert_eq!(
            OrderPayload::from_json(&body).unwrap_err()[0].field,
            "customer_details"
        );
    }

    #[test]
    fn statuses_round_trip() {
        for s in TrackingStatus::ALL {
            assert_eq!(TrackingStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(TrackingStatus::parse("pending"), None);
    }
}
