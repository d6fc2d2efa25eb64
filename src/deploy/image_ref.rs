//! Image references as Docker and every container runtime read them: which repositories name
//! their own registry, and what a registry (with an optional path prefix) may look like, so a
//! mirror's host can be put before the repositories that do not.
//!
//! Read from distribution/reference v0.6.0: `splitDockerDomain` in normalize.go (a first path
//! component is a registry when it is `localhost`, contains `.` or `:`, or has an upper-case
//! letter; otherwise the name is on Docker Hub) and the grammar at the top of reference.go
//! (`domain := host [':' port-number]`, `domain-component`, `path-component`, `separator`).

/// Whether `repository` starts with a registry of its own (`ghcr.io/x`, `localhost/x`,
/// `mirror:5000/x`), which no configured registry replaces.
pub fn names_registry(repository: &str) -> bool {
    match repository.split_once('/') {
        Some((first, _)) => {
            first == "localhost"
                || first.contains(['.', ':'])
                || first.chars().any(|c| c.is_ascii_uppercase())
        }
        None => false,
    }
}

/// `repository` with `registry` before it, unless there is none or it names its own.
pub fn qualified(registry: Option<&str>, repository: &str) -> String {
    match registry {
        Some(registry) if !names_registry(repository) => format!("{registry}/{repository}"),
        _ => repository.to_string(),
    }
}

/// Why `text` is not a registry with an optional path prefix (`registry.example.com`,
/// `registry.example.com:5000/mirror`, `localhost:5000`, `[::1]:5000/team`); `None` when it is.
pub fn registry_problem(text: &str) -> Option<String> {
    const SHAPE: &str = "a registry host with an optional port and path prefix, such as registry.example.com/mirror or registry.example.com:5000";
    if text.is_empty() {
        return Some(format!("must be {SHAPE}"));
    }
    if let Some((scheme, _)) = text.split_once("://") {
        return Some(format!(
            "`{text}` starts with the scheme `{scheme}://`; image references carry none: remove it, as in {SHAPE}"
        ));
    }
    if text.ends_with('/') {
        return Some(format!(
            "`{text}` ends with '/'; remove it (the repository is joined with one)"
        ));
    }
    let (domain, path) = match text.split_once('/') {
        Some((domain, path)) => (domain, Some(path)),
        None => (text, None),
    };
    if !is_domain(domain) {
        return Some(format!(
            "`{domain}` is not a registry host; it must be {SHAPE}"
        ));
    }
    if !(domain == "localhost"
        || domain.contains(['.', ':'])
        || domain.chars().any(|c| c.is_ascii_uppercase()))
    {
        return Some(format!(
            "`{domain}` would be read as a Docker Hub namespace, not a registry: a registry host contains a '.' or a port (`:5000`), or is `localhost`"
        ));
    }
    if let Some(path) = path {
        for component in path.split('/') {
            if component.contains([':', '@']) {
                return Some(format!(
                    "`{text}` carries a tag or digest; give the registry and path prefix only (tags are images.server_tag, images.admin_tools_tag and images.ui_version)"
                ));
            }
            if !is_path_component(component) {
                return Some(format!(
                    "path part `{component}` must be lower-case letters and digits, separated by one '.', one or two '_', or '-'s"
                ));
            }
        }
    }
    None
}

/// `domain := host [':' port-number]`, host a domain name or a bracketed IPv6 address.
fn is_domain(text: &str) -> bool {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let Some((address, after)) = rest.split_once(']') else {
            return false;
        };
        if address.is_empty() || !address.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return false;
        }
        match after {
            "" => return true,
            port => match port.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = text.starts_with('[')
        || (!host.is_empty()
            && host.split('.').all(|component| {
                !component.is_empty()
                    && component
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !component.starts_with('-')
                    && !component.ends_with('-')
            }));
    port_ok && host_ok
}

/// `path-component := alpha-numeric [separator alpha-numeric]*`, alpha-numeric `[a-z0-9]+`,
/// separator `[_.]|__|[-]*`.
fn is_path_component(text: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = text.as_bytes();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &text[start..i];
        let ok = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repository_names_a_registry_as_docker_reads_it() {
        for own in [
            "ghcr.io/temporalio/server",
            "localhost/server",
            "mirror:5000/server",
            "[::1]:5000/server",
            "Mirror/server",
        ] {
            assert!(names_registry(own), "{own}");
        }
        for hub in [
            "temporalio/server",
            "ubuntu",
            "localhost",
            "my-org/team/server",
        ] {
            assert!(!names_registry(hub), "{hub}");
        }
    }

    #[test]
    fn the_registry_goes_before_docker_hub_repositories_only() {
        let mirror = Some("registry.example.com/mirror");
        assert_eq!(
            qualified(mirror, "temporalio/server"),
            "registry.example.com/mirror/temporalio/server"
        );
        assert_eq!(qualified(mirror, "ghcr.io/x/ui"), "ghcr.io/x/ui");
        assert_eq!(qualified(None, "temporalio/ui"), "temporalio/ui");
    }

    #[test]
    fn registries_follow_the_reference_grammar() {
        for good in [
            "registry.example.com",
            "registry.example.com/mirror",
            "registry.example.com:5000/team/mirror",
            "localhost:5000",
            "localhost",
            "[::1]:5000/a.b__c-d--e",
            "10.0.0.1:5000",
        ] {
            assert_eq!(registry_problem(good), None, "{good}");
        }
        for (bad, says) in [
            ("https://registry.example.com", "scheme"),
            ("registry.example.com/", "ends with '/'"),
            ("registry.example.com/mirror:1.0", "tag or digest"),
            ("registry.example.com/mirror@sha256:abc", "tag or digest"),
            ("mirror", "Docker Hub namespace"),
            ("mirror/temporal", "Docker Hub namespace"),
            ("registry.example.com/Mirror", "path part"),
            ("registry.example.com//x", "path part"),
            ("-registry.example.com", "not a registry host"),
            ("registry.example.com:port", "not a registry host"),
            ("", "must be"),
        ] {
            let problem = registry_problem(bad).unwrap_or_default();
            assert!(problem.contains(says), "{bad}: {problem}");
        }
    }
}
