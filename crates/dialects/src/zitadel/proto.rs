//! ZITADEL's protobuf messages: the trimmed definitions under `crates/dialects/proto/`, compiled
//! by `build.rs` into a descriptor set embedded here, and the one conversion between a method's
//! binary messages and the protojson the REST handlers read and answer.
//!
//! Invariants: a binary request becomes exactly the protojson body its REST route takes (lower
//! camel names, 64-bit integers as strings, zero values omitted: proto3's "absent is zero" is
//! then the REST rule too), so every transport calls the same handler with the same input; an
//! answer is read back into the method's output message, where a field the message does not
//! have is left out (protojson readers ignore it too) and a value of the wrong type is an
//! internal error, never a silent zero.

use std::sync::LazyLock;

use axum::body::Bytes;
use prost::Message as _;
use prost_reflect::{
    DescriptorError, DescriptorPool, DeserializeOptions, DynamicMessage, MethodDescriptor,
    SerializeOptions,
};
use serde_json::Value;

use super::errors::{Code, ZitadelError};

/// The encoded `FileDescriptorSet` of `proto/`.
const DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/zitadel_descriptors.bin"));

static POOL: LazyLock<Result<DescriptorPool, DescriptorError>> =
    LazyLock::new(|| DescriptorPool::decode(DESCRIPTORS));

/// The descriptors of every message and service of the vendored definitions (for clients of
/// the facade, such as tests); `None` only if the embedded set does not decode.
pub fn descriptor_pool() -> Option<&'static DescriptorPool> {
    POOL.as_ref().ok()
}

/// One served method of a vendored service.
pub(crate) struct Rpc {
    method: MethodDescriptor,
}

impl Rpc {
    /// The method `method` of the service with the full name `service`, if the definitions
    /// have it.
    pub(crate) fn find(service: &str, method: &str) -> Result<Option<Rpc>, ZitadelError> {
        let pool = POOL.as_ref().map_err(|e| {
            tracing::error!(error = %e, "the embedded ZITADEL descriptors do not decode");
            ZitadelError::new(Code::Internal, "SERVER-internal", "internal error")
        })?;
        Ok(pool
            .get_service_by_name(service)
            .and_then(|s| s.methods().find(|m| m.name() == method))
            .map(|method| Rpc { method }))
    }

    /// The protojson body of a binary request message.
    pub(crate) fn request_json(&self, message: &[u8]) -> Result<Bytes, ZitadelError> {
        let input = self.method.input();
        let invalid = || {
            ZitadelError::new(
                Code::InvalidArgument,
                "RPC-message",
                format!("the request is not a valid {} message", input.full_name()),
            )
        };
        let request = DynamicMessage::decode(input.clone(), message).map_err(|_| invalid())?;
        let mut out = serde_json::Serializer::new(Vec::new());
        request
            .serialize_with_options(&mut out, &SerializeOptions::new())
            .map_err(|_| invalid())?;
        Ok(Bytes::from(out.into_inner()))
    }

    /// The binary response message of a protojson answer.
    pub(crate) fn response_bytes(&self, answer: Value) -> Result<Vec<u8>, ZitadelError> {
        let output = self.method.output();
        let options = DeserializeOptions::new().deny_unknown_fields(false);
        let response = DynamicMessage::deserialize_with_options(output.clone(), answer, &options)
            .map_err(|e| {
            tracing::error!(error = %e, message = output.full_name(),
                        "an answer does not fit its protobuf message");
            ZitadelError::new(Code::Internal, "SERVER-internal", "internal error")
        })?;
        Ok(response.encode_to_vec())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_request_becomes_the_rest_body_and_an_answer_its_message() {
        let rpc = Rpc::find(
            "zitadel.management.v1.ManagementService",
            "AddCustomLockoutPolicy",
        )
        .unwrap()
        .unwrap();
        // max_password_attempts = 5, max_otp_attempts = 0 (absent on the wire).
        let body = rpc.request_json(&[0x08, 0x05]).unwrap();
        assert_eq!(&body[..], br#"{"maxPasswordAttempts":5}"#);
        assert!(rpc.request_json(&[0x08]).is_err(), "a cut varint");

        let answer = json!({"details": {"sequence": "7", "changeDate": "2026-11-23T09:00:00Z",
                                        "resourceOwner": "acme", "unknown": true}});
        let bytes = rpc.response_bytes(answer).unwrap();
        let back = DynamicMessage::decode(rpc.method.output(), bytes.as_slice()).unwrap();
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            json!({"details": {"sequence": "7", "changeDate": "2026-11-23T09:00:00Z",
                               "resourceOwner": "acme"}})
        );
        let wrong = json!({"details": {"sequence": "seven"}});
        assert!(rpc.response_bytes(wrong).is_err());
    }

    #[test]
    fn unknown_services_and_methods_are_none() {
        assert!(
            Rpc::find("zitadel.settings.v2.SettingsService", "SetSecuritySettings")
                .unwrap()
                .is_none()
        );
        assert!(
            Rpc::find("zitadel.auth.v1.AuthService", "Healthz")
                .unwrap()
                .is_none()
        );
    }
}
