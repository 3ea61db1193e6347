//! The store contract suite against the DynamoDB adapter and the local DynamoDB server: the same
//! cases the in-memory store passes in `shared`'s unit tests.

shared::store_contract_tests!(tenantry_tests::pooled_store());
