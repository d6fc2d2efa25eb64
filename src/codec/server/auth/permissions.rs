//! Permissions in Temporal's format, as its default claim mapper reads them from a token:
//! `<namespace>:<role>`, role one of `read`, `write`, `worker`, `admin` (any case). A permission
//! on the system namespace `temporal-system` applies to every namespace.
//!
//! Roles are ordered as Temporal orders them (worker < read < write < admin), and the codec
//! operations need: `/decode` read or higher, `/encode` write or higher.

use crate::codec::server::audit::Operation;

/// The namespace whose permissions hold for all namespaces.
pub const SYSTEM_NAMESPACE: &str = "temporal-system";

/// A Temporal role, ordered by what it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Polls tasks; reads no histories.
    Worker,
    /// Reads histories.
    Reader,
    /// Starts and signals workflows.
    Writer,
    /// Everything.
    Admin,
}

impl Role {
    fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "worker" => Some(Self::Worker),
            "read" | "reader" => Some(Self::Reader),
            "write" | "writer" => Some(Self::Writer),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// The least role an operation needs.
    pub fn required_for(operation: Operation) -> Self {
        match operation {
            Operation::Decode => Self::Reader,
            Operation::Encode => Self::Writer,
        }
    }

    /// The role's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Worker => "worker",
            Self::Reader => "read",
            Self::Writer => "write",
            Self::Admin => "admin",
        }
    }
}

/// The highest role `permissions` grant on `namespace`, counting system permissions.
/// Entries that are not `<namespace>:<role>` grant nothing.
pub fn role_on<'a>(
    permissions: impl IntoIterator<Item = &'a str>,
    namespace: &str,
) -> Option<Role> {
    permissions
        .into_iter()
        .filter_map(|p| p.rsplit_once(':'))
        .filter(|(ns, _)| *ns == namespace || *ns == SYSTEM_NAMESPACE)
        .filter_map(|(_, role)| Role::parse(role))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_per_namespace_and_system() {
        let perms = ["orders:read", "payments:admin", "junk", "billing:unknown"];
        assert_eq!(role_on(perms, "orders"), Some(Role::Reader));
        assert_eq!(role_on(perms, "payments"), Some(Role::Admin));
        assert_eq!(role_on(perms, "billing"), None);
        assert_eq!(role_on(perms, "other"), None);
        assert_eq!(
            role_on(["temporal-system:WRITE"], "anything"),
            Some(Role::Writer)
        );
        assert_eq!(
            role_on(["orders:read", "orders:write"], "orders"),
            Some(Role::Writer)
        );
    }

    #[test]
    fn decode_needs_read_and_encode_needs_write() {
        assert!(Role::Reader >= Role::required_for(Operation::Decode));
        assert!(Role::Worker < Role::required_for(Operation::Decode));
        assert!(Role::Reader < Role::required_for(Operation::Encode));
        assert!(Role::Admin >= Role::required_for(Operation::Encode));
    }
}
