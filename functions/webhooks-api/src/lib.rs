//! Webhooks: tenants' admins register endpoints (`webhooks-api`), the tables' change streams
//! become events on the bus and deliveries to those endpoints (`webhook-events`), and the
//! deliveries are sent, signed, in order, and retried (`webhook-deliver`).

pub mod deliver;
pub mod http_handler;
pub mod kick;
pub mod parking;
pub mod publish;
