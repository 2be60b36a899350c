//! Synthetic tenants.
