//! URL paths: which discovery document or which resource (group, version, namespace, plural,
//! name, subresource) a request addresses, and the verb it is.

use axum::http::Method;

/// A resource path, e.g. `/apis/g/v/namespaces/ns/plural/name/status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub plural: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Version,
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/<group>`
    Group(String),
    /// `/api/v1`, `/apis/<group>/<version>`
    ResourceList {
        group: String,
        version: String,
    },
    /// `/openapi/v3`
    OpenApiIndex,
    /// `/openapi/v3/<api/v1 | apis/group/version>`
    OpenApi(String),
    Resource(Target),
    Unknown,
}

impl Route {
    pub fn parse(path: &str) -> Route {
        let segs: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        match segs.as_slice() {
            ["version"] => Route::Version,
            ["api"] => Route::CoreVersions,
            ["apis"] => Route::Groups,
            ["apis", group] => Route::Group(group.to_string()),
            ["api", version] => Route::ResourceList {
                group: String::new(),
                version: version.to_string(),
            },
            ["apis", group, version] => Route::ResourceList {
                group: group.to_string(),
                version: version.to_string(),
            },
            ["openapi", "v3"] => Route::OpenApiIndex,
            ["openapi", "v3", rest @ ..] => Route::OpenApi(rest.join("/")),
            ["api", version, rest @ ..] => resource("", version, rest),
            ["apis", group, version, rest @ ..] => resource(group, version, rest),
            _ => Route::Unknown,
        }
    }
}

fn resource(group: &str, version: &str, rest: &[&str]) -> Route {
    // `namespaces/<ns>/<plural>...` is namespaced, except a Namespace's own subresources.
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, ..] if !matches!(*plural, "status" | "finalize") => {
            (Some(ns.to_string()), &rest[2..])
        }
        _ => (None, rest),
    };
    let (plural, name, subresource) = match rest {
        [plural] => (plural, None, None),
        [plural, name] => (plural, Some(name.to_string()), None),
        [plural, name, sub] => (plural, Some(name.to_string()), Some(sub.to_string())),
        _ => return Route::Unknown,
    };
    Route::Resource(Target {
        group: group.to_string(),
        version: version.to_string(),
        namespace,
        plural: plural.to_string(),
        name,
        subresource,
    })
}

/// The API verb of a request, as RBAC and audit logs name it; `Discovery` for everything that
/// is not a resource path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
    Discovery,
}

impl Verb {
    pub(crate) fn of(method: &Method, route: &Route, watch: bool) -> Verb {
        let Route::Resource(t) = route else {
            return Verb::Discovery;
        };
        let named = t.name.is_some();
        match *method {
            Method::GET if named => Verb::Get,
            Method::GET if watch => Verb::Watch,
            Method::GET => Verb::List,
            Method::POST => Verb::Create,
            Method::PUT => Verb::Update,
            Method::PATCH => Verb::Patch,
            Method::DELETE if named => Verb::Delete,
            Method::DELETE => Verb::DeleteCollection,
            _ => Verb::Discovery,
        }
    }

    /// Create, update, patch or delete.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Verb::Create | Verb::Update | Verb::Patch | Verb::Delete | Verb::DeleteCollection
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_resource_paths() {
        let r = Route::parse("/apis/g.io/v1/namespaces/ns/things/a/status");
        let Route::Resource(t) = r else {
            panic!("{r:?}")
        };
        assert_eq!(
            (t.group.as_str(), t.namespace.as_deref(), t.plural.as_str()),
            ("g.io", Some("ns"), "things")
        );
        assert_eq!(
            (t.name.as_deref(), t.subresource.as_deref()),
            (Some("a"), Some("status"))
        );
        let Route::Resource(ns) = Route::parse("/api/v1/namespaces/prod/status") else {
            panic!()
        };
        assert_eq!(
            (ns.plural.as_str(), ns.name.as_deref(), ns.namespace),
            ("namespaces", Some("prod"), None)
        );
        let Route::Resource(all) = Route::parse("/api/v1/secrets") else {
            panic!()
        };
        assert_eq!((all.plural.as_str(), all.namespace), ("secrets", None));
        assert_eq!(
            Route::parse("/apis/g.io/v1"),
            Route::ResourceList {
                group: "g.io".into(),
                version: "v1".into()
            }
        );
        assert_eq!(Route::parse("/openapi/v2"), Route::Unknown);
        assert_eq!(
            Route::parse("/openapi/v3/apis/g.io/v1"),
            Route::OpenApi("apis/g.io/v1".into())
        );
    }
}
