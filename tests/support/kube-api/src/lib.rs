//! A Kubernetes API server for the provider's tests.
