//! Payload encryption: the encrypted payload format, the keyring of data keys, and the worker
//! codec. No Terraform and no HTTP here.
