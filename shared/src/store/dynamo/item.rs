//! Reading and writing DynamoDB attribute maps.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::keys::{ItemKey, PK, SK};
use crate::store::StoreError;

/// A stored item, with typed accessors that report a missing or mistyped attribute as corrupt.
#[derive(Debug, Clone)]
pub struct Item(pub HashMap<String, AttributeValue>);

impl Item {
    pub fn new(key: &ItemKey) -> Self {
        let mut map = HashMap::new();
        map.insert(PK.to_owned(), AttributeValue::S(key.pk.clone()));
        map.insert(SK.to_owned(), AttributeValue::S(key.sk.clone()));
        Self(map)
    }

    pub fn s(mut self, name: &str, value: impl Into<String>) -> Self {
        self.0
            .insert(name.to_owned(), AttributeValue::S(value.into()));
        self
    }

    pub fn n(mut self, name: &str, value: impl ToString) -> Self {
        self.0
            .insert(name.to_owned(), AttributeValue::N(value.to_string()));
        self
    }

    pub fn bool(mut self, name: &str, value: bool) -> Self {
        self.0.insert(name.to_owned(), AttributeValue::Bool(value));
        self
    }

    pub fn value(mut self, name: &str, value: AttributeValue) -> Self {
        self.0.insert(name.to_owned(), value);
        self
    }

    pub fn into_map(self) -> HashMap<String, AttributeValue> {
        self.0
    }

    fn corrupt(&self, name: &str, what: &str) -> StoreError {
        let pk = self
            .0
            .get(PK)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
            .unwrap_or("?");
        let sk = self
            .0
            .get(SK)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
            .unwrap_or("?");
        StoreError::Corrupt(format!("item {pk}/{sk}: attribute {name} {what}"))
    }

    pub fn get_s(&self, name: &str) -> Result<&str, StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::S(value)) => Ok(value),
            Some(_) => Err(self.corrupt(name, "is not a string")),
            None => Err(self.corrupt(name, "is missing")),
        }
    }

    pub fn get_n<T: std::str::FromStr>(&self, name: &str) -> Result<T, StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::N(value)) => value
                .parse()
                .map_err(|_| self.corrupt(name, "is out of range")),
            Some(_) => Err(self.corrupt(name, "is not a number")),
            None => Err(self.corrupt(name, "is missing")),
        }
    }

    pub fn get_bool(&self, name: &str) -> Result<bool, StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::Bool(value)) => Ok(*value),
            Some(_) => Err(self.corrupt(name, "is not a boolean")),
            None => Err(self.corrupt(name, "is missing")),
        }
    }

    pub fn get_list(&self, name: &str) -> Result<&[AttributeValue], StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::L(values)) => Ok(values),
            Some(_) => Err(self.corrupt(name, "is not a list")),
            None => Err(self.corrupt(name, "is missing")),
        }
    }

    /// Parses a string attribute with `parse`, reporting failure as corruption.
    pub fn parse_s<T, E>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, StoreError> {
        let raw = self.get_s(name)?;
        parse(raw).map_err(|_| self.corrupt(name, "does not parse"))
    }
}

/// A key as DynamoDB wants it in `Key` and `ExclusiveStartKey`.
pub fn key_map(key: &ItemKey) -> HashMap<String, AttributeValue> {
    Item::new(key).into_map()
}
