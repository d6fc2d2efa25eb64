//! Customer key providers: one `KeyProvider` trait and one file per KMS backend.
