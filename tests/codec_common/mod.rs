//! Helpers shared by the codec and KMS integration tests: real servers (OpenBao, moto) started
//! on free ports, and a recording HTTP stub for the cloud KMS REST APIs.
#![allow(dead_code)]

pub mod moto;
pub mod openbao;
pub mod stub;
