//! The control-store contract suite against the DynamoDB adapter and the local DynamoDB server.

shared::control_contract_tests!(tenantry_tests::control_store());
